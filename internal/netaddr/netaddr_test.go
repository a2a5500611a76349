package netaddr

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7100": true, "localhost:1": true, "[::1]:7100": true, "127.0.0.2:5": true,
		"0.0.0.0:7100": false, "10.0.0.1:7100": false, "[::]:7100": false, "example.com:1": false, "no-port": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
