package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers every line with the same line until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a line and reads it back within wait.
func roundTrip(c net.Conn, msg string, wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != msg+"\n" {
		return errors.New("echo mismatch: " + line)
	}
	return nil
}

func TestProxyPassThroughAndDelay(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c := dialProxy(t, p)
	if err := roundTrip(c, "hello", time.Second); err != nil {
		t.Fatalf("pass-through: %v", err)
	}
	if n := p.Accepted(); n != 1 {
		t.Fatalf("Accepted = %d, want 1", n)
	}
	p.Delay(100 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(c, "slow", 2*time.Second); err != nil {
		t.Fatalf("delayed: %v", err)
	}
	// Both directions wait: the request and the echo.
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("delayed round trip took %s, want >= 200ms", took)
	}
	p.Heal()
	start = time.Now()
	if err := roundTrip(c, "fast", time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("healed round trip took %s", took)
	}
}

func TestProxyBlackholeStallsThenHealCloses(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	old := dialProxy(t, p)
	if err := roundTrip(old, "before", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	if err := roundTrip(old, "lost", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("existing conn while blackholed: err %v, want a timeout", err)
	}
	fresh := dialProxy(t, p)
	if err := roundTrip(fresh, "lost too", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new conn while blackholed: err %v, want a timeout", err)
	}
	p.Heal()
	// Both lost bytes: their streams cannot resume, so Heal closed them.
	for name, c := range map[string]net.Conn{"existing": old, "new": fresh} {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s conn after heal: read err %v, want closed", name, err)
		}
	}
	if err := roundTrip(dialProxy(t, p), "after", time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestProxyRefuse(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	old := dialProxy(t, p)
	if err := roundTrip(old, "before", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Refuse()
	_ = old.SetDeadline(time.Now().Add(time.Second))
	if _, err := old.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("existing conn after refuse: read err %v, want closed", err)
	}
	// The reset may already reach the dial.
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		defer c.Close()
		if err := roundTrip(c, "refused", time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("new conn while refusing: err %v, want reset or EOF", err)
		}
	}
	p.Heal()
	if err := roundTrip(dialProxy(t, p), "after", time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestProxyCloseEndsConnections(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c := dialProxy(t, p)
	if err := roundTrip(c, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("conn after close: read err %v, want closed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("dial after close succeeded")
	}
}
