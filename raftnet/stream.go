package raftnet

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

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
