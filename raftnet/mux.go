package raftnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// The node's one port carries gRPC (HTTP/2) and raft. A raft connection
// starts with raftMagic and the 8-byte group id; the mux answers one status
// byte (and, on refusal, a length-prefixed reason) before handing the
// connection to that group's raft transport. Anything else is gRPC.
var raftMagic = []byte("TNDR")

const (
	handshakeOK      byte = 0
	handshakeRefused byte = 1
	// handshakeNoCert refuses a raft connection over TLS that presented no
	// certificate signed by the cluster's CA.
	handshakeNoCert byte = 2
	sniffTimeout         = 10 * time.Second
	maxRefusalLen        = 1024
	// probeBit in a raft hello's group id asks only whether the group is
	// open: the mux answers and closes, raft never sees the connection.
	// Group ids stay below it (HeartbeatGroup, all ones, is not a probe).
	probeBit uint64 = 1 << 63
)

// Mux splits one listener into a gRPC listener and per-group raft stream
// layers, so many raft groups share the node's single address.
type Mux struct {
	ln     net.Listener
	lg     *zap.Logger
	grpcCh chan net.Conn
	// tls is set by NewTLSMux: every accepted connection is a *tls.Conn,
	// raft ones must carry a verified client certificate, and raft dials
	// use dialTLS.
	tls     bool
	dialTLS *tls.Config

	mu     sync.Mutex
	groups map[uint64]*streamLayer
	closed bool
	done   chan struct{}
}

// NewMux wraps ln; call Serve to start accepting.
func NewMux(ln net.Listener, lg *zap.Logger) *Mux {
	return &Mux{
		ln:     ln,
		lg:     lg,
		grpcCh: make(chan net.Conn, 64),
		groups: make(map[uint64]*streamLayer),
		done:   make(chan struct{}),
	}
}

// NewTLSMux wraps ln in TLS with server before sniffing, so gRPC and raft
// both run inside TLS. Raft has no tokens: a raft connection is accepted
// only with a client certificate that server verified (server.ClientAuth
// should be tls.VerifyClientCertIfGiven, so gRPC clients may still come
// without one). Raft dials of this mux's groups present client.
func NewTLSMux(ln net.Listener, server, client *tls.Config, lg *zap.Logger) *Mux {
	m := NewMux(tls.NewListener(ln, server), lg)
	m.tls, m.dialTLS = true, client
	return m
}

// Addr is the address the node listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Serve accepts connections until Close; it returns the accept error.
func (m *Mux) Serve() error {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go m.route(conn)
	}
}

// route sniffs the first bytes of conn and dispatches it.
func (m *Mux) route(conn net.Conn) {
	if m.tls && !m.handshake(conn) {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(sniffTimeout))
	head := make([]byte, len(raftMagic))
	n, err := io.ReadFull(conn, head)
	if err != nil && n == 0 {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if n == len(raftMagic) && bytes.Equal(head, raftMagic) {
		m.routeRaft(conn)
		return
	}
	pc := &prefixConn{Conn: conn, prefix: head[:n]}
	select {
	case m.grpcCh <- pc:
	case <-m.done:
		conn.Close()
	}
}

func (m *Mux) routeRaft(conn net.Conn) {
	var idBuf [8]byte
	_ = conn.SetReadDeadline(time.Now().Add(sniffTimeout))
	if _, err := io.ReadFull(conn, idBuf[:]); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	group := binary.BigEndian.Uint64(idBuf[:])
	probe := group&probeBit != 0 && group != HeartbeatGroup
	if probe {
		group &^= probeBit
	}
	if m.tls && !verifiedClient(conn) {
		m.lg.Warn("raft connection refused: no client certificate signed by the cluster CA",
			zap.Stringer("remote", conn.RemoteAddr()), zap.Uint64("group", group))
		refuse(conn, handshakeNoCert, "raft over TLS needs a client certificate signed by the cluster CA")
		return
	}
	m.mu.Lock()
	sl := m.groups[group]
	m.mu.Unlock()
	if sl == nil {
		refuse(conn, handshakeRefused, fmt.Sprintf("unknown raft group %d", group))
		return
	}
	if probe {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write([]byte{handshakeOK})
		conn.Close()
		return
	}
	if _, err := conn.Write([]byte{handshakeOK}); err != nil {
		conn.Close()
		return
	}
	if !sl.deliver(conn) {
		conn.Close()
	}
}

// handshake completes the TLS handshake of an accepted connection within
// sniffTimeout and reports whether it succeeded; on failure (a plaintext
// client, an untrusted certificate) the connection is closed.
func (m *Mux) handshake(conn net.Conn) bool {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		conn.Close()
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), sniffTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		m.lg.Info("tls handshake failed", zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
		conn.Close()
		return false
	}
	return true
}

// verifiedClient reports whether conn is TLS with a client certificate
// that the server verified against its CA.
func verifiedClient(conn net.Conn) bool {
	st, ok := ConnTLSState(conn)
	return ok && len(st.VerifiedChains) > 0
}

// ConnTLSState returns the TLS state of a connection the mux accepted (the
// gRPC server gets them wrapped), and false for a plaintext one.
func ConnTLSState(conn net.Conn) (tls.ConnectionState, bool) {
	for {
		switch c := conn.(type) {
		case *tls.Conn:
			return c.ConnectionState(), true
		case *prefixConn:
			conn = c.Conn
		default:
			return tls.ConnectionState{}, false
		}
	}
}

func refuse(conn net.Conn, status byte, reason string) {
	if len(reason) > maxRefusalLen {
		reason = reason[:maxRefusalLen]
	}
	msg := make([]byte, 3+len(reason))
	msg[0] = status
	binary.BigEndian.PutUint16(msg[1:3], uint16(len(reason)))
	copy(msg[3:], reason)
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(msg)
	conn.Close()
}

// GRPCListener returns the listener gRPC serves on: every connection that
// is not raft.
func (m *Mux) GRPCListener() net.Listener {
	return &grpcListener{m: m, closed: make(chan struct{})}
}

// StreamLayer registers raft group id on the mux and returns its stream
// layer. Closing the stream layer unregisters the group.
func (m *Mux) StreamLayer(group uint64) (raft.StreamLayer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.groups[group]; ok {
		return nil, fmt.Errorf("raft group %d: %w", group, ErrGroupExists)
	}
	sl := &streamLayer{mux: m, group: group, ch: make(chan net.Conn, 16), done: make(chan struct{})}
	m.groups[group] = sl
	return sl, nil
}

func (m *Mux) unregister(sl *streamLayer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[sl.group] == sl {
		delete(m.groups, sl.group)
	}
}

// Close stops accepting and closes the underlying listener.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	m.mu.Unlock()
	return m.ln.Close()
}

// grpcListener hands gRPC the connections the mux did not claim for raft.
// Closing it stops gRPC's accept loop but leaves the mux (and raft) running.
type grpcListener struct {
	m      *Mux
	once   sync.Once
	closed chan struct{}
}

func (l *grpcListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.grpcCh:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

func (l *grpcListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}
func (l *grpcListener) Addr() net.Addr { return l.m.Addr() }

// prefixConn replays the sniffed bytes before reading from the socket.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
