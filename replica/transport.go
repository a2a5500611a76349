package replica

import (
	"bufio"
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

// DialRaft connects to group at addr and completes the handshake, so an
// unknown group is an immediate error rather than a hang.
func DialRaft(addr string, group uint64, timeout time.Duration) (net.Conn, error) {
	return DialRaftTLS(addr, group, timeout, nil)
}

// DialRaftTLS is DialRaft over TLS with cfg (plaintext when cfg is nil).
// The server is verified against cfg.RootCAs; a node behind NewTLSMux
// refuses the connection with ErrRaftUnauthenticated unless cfg presents a
// certificate signed by its CA.
func DialRaftTLS(addr string, group uint64, timeout time.Duration, cfg *tls.Config) (net.Conn, error) {
	return dialRaft(addr, group, group, timeout, cfg)
}

// ProbeGroup reports whether the node at addr has raft group open: nil
// when it has, ErrUnknownGroup when it has not (yet), another error when
// the node cannot be reached.
func (m *Mux) ProbeGroup(addr string, group uint64, timeout time.Duration) error {
	conn, err := dialRaft(addr, group|probeBit, group, timeout, m.dialTLS)
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialRaft sends hello (a group id, perhaps with probeBit) and reads the
// mux's answer about group.
func dialRaft(addr string, hello, group uint64, timeout time.Duration, cfg *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	var err error
	if cfg != nil {
		conn, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	msg := make([]byte, len(raftMagic)+8)
	copy(msg, raftMagic)
	binary.BigEndian.PutUint64(msg[len(raftMagic):], hello)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(msg); err != nil {
		conn.Close()
		return nil, err
	}
	if err := readHandshake(conn, group); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func readHandshake(conn net.Conn, group uint64) error {
	r := bufio.NewReaderSize(conn, 16)
	status, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("raft handshake with group %d: %w", group, err)
	}
	if status == handshakeOK {
		return nil
	}
	var refusal error
	switch status {
	case handshakeRefused:
		refusal = ErrUnknownGroup
	case handshakeNoCert:
		refusal = ErrRaftUnauthenticated
	default:
		return fmt.Errorf("raft handshake with group %d: unexpected answer %#x (is the peer a tandem node with the same TLS settings?)", group, status)
	}
	var lenBuf [2]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return fmt.Errorf("raft group %d: %w", group, refusal)
	}
	reason := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
	_, _ = io.ReadFull(r, reason)
	return fmt.Errorf("%w: %s", refusal, reason)
}

// streamLayer is one raft group's view of the mux.
type streamLayer struct {
	mux   *Mux
	group uint64
	ch    chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (s *streamLayer) deliver(conn net.Conn) bool {
	select {
	case s.ch <- conn:
		return true
	case <-s.done:
		return false
	}
}

func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, ErrClosed
	}
}

func (s *streamLayer) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.mux.unregister(s)
	})
	return nil
}

func (s *streamLayer) Addr() net.Addr { return s.mux.Addr() }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return DialRaftTLS(string(addr), s.group, timeout, s.mux.dialTLS)
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
