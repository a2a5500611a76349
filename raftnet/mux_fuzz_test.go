package raftnet

import (
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

// FuzzMuxRoute: whatever a connecting peer sends first, the mux routes the
// connection (gRPC, a known raft group, or a refusal) without panicking or
// holding it forever.
func FuzzMuxRoute(f *testing.F) {
	hello := func(group uint64) []byte {
		b := append([]byte(nil), raftMagic...)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(group>>(8*i)))
		}
		return b
	}
	f.Add(hello(1))
	f.Add(hello(2))
	f.Add([]byte("TND"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	m := NewMux(ln, zap.NewNop())
	f.Cleanup(func() { m.Close() })
	sl, err := m.StreamLayer(1)
	if err != nil {
		f.Fatal(err)
	}
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	gl := m.GRPCListener()
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f.Fuzz(func(t *testing.T, first []byte) {
		client, server := net.Pipe()
		defer client.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.route(server)
		}()
		// net.Pipe is synchronous: the mux reads only what it needs, so the
		// write runs on its own and the close ends whatever it left.
		client.SetDeadline(time.Now().Add(time.Second))
		go func() { _, _ = io.Copy(io.Discard, client) }() // answers, refusals
		go func() {
			_, _ = client.Write(first)
			client.Close()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("mux still holds a connection that sent %x and closed", first)
		}
	})
}

// FuzzHandshake: whatever a peer answers to a raft dial, the dialer returns
// (an error or success) without hanging or panicking.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte{handshakeOK})
	f.Add([]byte{handshakeRefused, 0, 5, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{handshakeRefused, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, answer []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			server.Write(answer)
			server.Close()
		}()
		client.SetDeadline(time.Now().Add(time.Second))
		_ = readHandshake(client, 1)
	})
}
