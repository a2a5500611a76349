package raftnet

import (
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestPeerWatchReportsAPeerWhosePortCloses(t *testing.T) {
	lg := zap.NewNop()
	start := func() (*Mux, net.Listener) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m := NewMux(ln, lg)
		go m.Serve()
		return m, ln
	}
	a, _ := start()
	defer a.Close()
	b, bln := start()
	down := make(chan string, 1)
	wa, err := NewPeerWatch(a, func(id string) { down <- id }, nil, lg)
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Close()
	wb, err := NewPeerWatch(b, func(string) {}, nil, lg)
	if err != nil {
		t.Fatal(err)
	}
	wa.Watch("b", bln.Addr().String())
	// Wait until a holds a connection to b.
	deadline := time.Now().Add(10 * time.Second)
	for {
		wb.mu.Lock()
		n := len(wb.held)
		wb.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never connected to b")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case id := <-down:
		t.Fatalf("%s reported down while it runs", id)
	default:
	}
	wb.Close()
	b.Close()
	select {
	case id := <-down:
		if id != "b" {
			t.Fatalf("reported %q, want b", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("b's closed port was never reported")
	}
}
