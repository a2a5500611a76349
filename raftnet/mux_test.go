package raftnet

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

func mustNewMux(t *testing.T) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A connection the mux is still routing can log after the test ends,
	// which a zaptest logger reports as a race: no test logger here.
	m := NewMux(ln, zap.NewNop())
	go m.Serve()
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMuxUnknownGroupIsAnErrorNotAHang(t *testing.T) {
	m := mustNewMux(t)
	start := time.Now()
	_, err := DialRaft(m.Addr().String(), 77, 5*time.Second)
	if !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("dial unknown group: %v, want ErrUnknownGroup", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("refusal took %s", time.Since(start))
	}
}

func TestMuxRoutesRaftAndOtherTraffic(t *testing.T) {
	m := mustNewMux(t)
	sl, err := m.StreamLayer(5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.StreamLayer(5); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("second registration: %v", err)
	}
	go func() {
		c, err := sl.Accept()
		if err == nil {
			io.Copy(c, c)
		}
	}()
	rc, err := DialRaft(m.Addr().String(), 5, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	echo(t, rc, "raft")

	go func() {
		c, err := m.GRPCListener().Accept()
		if err == nil {
			io.Copy(c, c)
		}
	}()
	oc, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	echo(t, oc, "PRI * HTTP/2.0")

	sl.Close()
	if _, err := DialRaft(m.Addr().String(), 5, time.Second); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("dial after close: %v", err)
	}
}

func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo got %q, %v", buf, err)
	}
}
