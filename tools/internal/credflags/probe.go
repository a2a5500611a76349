package credflags

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// The probe's sentinel errors: a node that speaks another transport than
// the tool, or a TLS handshake that failed.
var (
	// ErrNodeRequiresTLS is returned when the tool connects in plaintext to
	// a node that answers a TLS handshake.
	ErrNodeRequiresTLS = errors.New("requires TLS")
	// ErrNodeNotTLS is returned when the tool connects with TLS to a node
	// that greets in plaintext gRPC.
	ErrNodeNotTLS = errors.New("does not use TLS")
	// ErrTLSHandshake is returned when a TLS node refused the handshake or
	// its certificate did not verify.
	ErrTLSHandshake = errors.New("TLS handshake failed")
)

// http2Preface is what an HTTP/2 client sends first; a plaintext gRPC
// node answers it with a SETTINGS frame.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Probe asks every address of cfg at once whether it speaks the transport
// cfg uses (TLS when cfg.TLS is set) and returns cfg.Addrs with the
// first node that answered moved to the front, so a client tries a live
// node before one that hangs. When no node answered it returns the first
// mismatch or TLS handshake failure it saw (a node requiring TLS from a
// plaintext tool, or the reverse), else the addresses unchanged: the
// caller's own dial then reports what is wrong. It returns when a node
// answered, every probe ended, or ctx ended. Messages name the TLS flags
// with flagPrefix, as Flags.Register was given it ("" or "target-").
func Probe(ctx context.Context, cfg client.Config, flagPrefix string) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type verdict struct {
		i        int
		answered bool
		err      error
	}
	verdicts := make(chan verdict, len(cfg.Addrs))
	for i, addr := range cfg.Addrs {
		go func() {
			answered, err := probeNode(ctx, addr, cfg.TLS)
			verdicts <- verdict{i, answered, err}
		}()
	}
	var mismatch error
	for range cfg.Addrs {
		v := <-verdicts
		if v.answered {
			return moveToFront(cfg.Addrs, v.i), nil
		}
		if v.err != nil && mismatch == nil {
			mismatch = explain(v.err, flagPrefix)
		}
	}
	if mismatch != nil {
		return nil, mismatch
	}
	return cfg.Addrs, nil
}

// moveToFront returns addrs with addrs[i] first, the rest in order.
func moveToFront(addrs []string, i int) []string {
	out := append([]string{addrs[i]}, addrs[:i]...)
	return append(out, addrs[i+1:]...)
}

// explain adds to a probe's error which flags to use.
func explain(err error, flagPrefix string) error {
	p := "--" + flagPrefix
	switch {
	case errors.Is(err, ErrNodeRequiresTLS):
		return fmt.Errorf("%w: connect with %stls-ca FILE, the CA certificate that signed the nodes' certificates", err, p)
	case errors.Is(err, ErrNodeNotTLS):
		return fmt.Errorf("%w: leave out %stls-ca, %stls-cert and %stls-key", err, p, p, p)
	default:
		return fmt.Errorf("%w (%stls-ca must name the CA that signed the node's certificate, which must name the address dialled; "+
			"a node that wants a client certificate takes %stls-cert and %stls-key)", err, p, p, p)
	}
}

// probeNode connects to addr and reports whether the node answered in the
// transport tlsCfg asks for (TLS when non-nil). A node that answered in
// the other one, or failed the TLS handshake, is an error; a node that is
// unreachable, silent or unrecognisable is neither. Only what the node
// sends decides, never how long it takes.
func probeNode(ctx context.Context, addr string, tlsCfg *tls.Config) (answered bool, err error) {
	conn, err := dialProbe(ctx, addr)
	if err != nil {
		return false, nil
	}
	defer conn.Close()
	if tlsCfg != nil {
		return handshake(ctx, conn, addr, tlsCfg)
	}
	greeted, hungUp := greet(conn)
	if greeted || !hungUp || ctx.Err() != nil {
		return greeted, nil
	}
	// The node hung up on HTTP/2 without a word, as a TLS node does on
	// bytes that are not a TLS record: ask it in TLS.
	tconn, err := dialProbe(ctx, addr)
	if err != nil {
		return false, nil
	}
	defer tconn.Close()
	if speaksTLS(ctx, tconn, addr) {
		return false, fmt.Errorf("node %s %w", addr, ErrNodeRequiresTLS)
	}
	return false, nil
}

// dialProbe connects to addr; the connection's reads and writes fail once
// ctx ends.
func dialProbe(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, nil
}

// greet sends the HTTP/2 client preface and reads the answer's first
// frame header: greeted when it is a SETTINGS frame (a plaintext gRPC
// node), hungUp when the node closed the connection without a byte.
func greet(conn net.Conn) (greeted, hungUp bool) {
	if _, err := conn.Write([]byte(http2Preface)); err != nil {
		return false, false
	}
	var hdr [9]byte // length(3) type(1) flags(1) stream(4)
	n, err := io.ReadFull(conn, hdr[:])
	if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return false, true
	}
	const settingsFrame = 0x4
	return n == len(hdr) && hdr[3] == settingsFrame && hdr[5]|hdr[6]|hdr[7]|hdr[8] == 0, false
}

// speaksTLS sends a ClientHello on conn and reports whether a TLS server
// answered it (a handshake, or a TLS alert such as a refused certificate).
func speaksTLS(ctx context.Context, conn net.Conn, addr string) bool {
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: hostOf(addr)} //nolint:gosec // only asks whether TLS is spoken
	err := tls.Client(conn, cfg).HandshakeContext(ctx)
	var alert tls.AlertError
	return err == nil || errors.As(err, &alert)
}

// handshake runs a TLS handshake on conn with the tool's own config: done
// is an answer; a plaintext greeting, a certificate that does not verify
// or a refusal is an error.
func handshake(ctx context.Context, conn net.Conn, addr string, tlsCfg *tls.Config) (bool, error) {
	cfg := tlsCfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = hostOf(addr) // as gRPC does
	}
	err := tls.Client(conn, cfg).HandshakeContext(ctx)
	var header tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, nil
	case errors.As(err, &header):
		return false, fmt.Errorf("node %s %w (it answered a TLS handshake in plaintext)", addr, ErrNodeNotTLS)
	case errors.As(err, &alert), errors.As(err, &verify):
		return false, fmt.Errorf("node %s: %w: %v", addr, ErrTLSHandshake, err)
	}
	return false, nil // a broken connection: nothing learnt
}

// hostOf is the host part of addr, or addr itself.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
