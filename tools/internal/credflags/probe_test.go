package credflags

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
)

// serveGRPC serves a real gRPC server on loopback until the test ends,
// with TLS when cert is given.
func serveGRPC(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})))
	}
	srv := grpc.NewServer(opts...)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// hungAddr is a loopback address whose kernel accepts connections that no
// process ever serves: a frozen node.
func hungAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	ca := testpki.New(t, "ca")
	cert := ca.Issue(t, "node").Certificate(t)
	tlsNode, plainNode := serveGRPC(t, &cert), serveGRPC(t, nil)
	hung, closed := hungAddr(t), closedAddr(t)
	trusting := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	distrusting := &tls.Config{RootCAs: testpki.New(t, "other").Pool(), MinVersion: tls.VersionTLS12}
	tests := []struct {
		name    string
		addrs   []string
		tls     *tls.Config
		want    []string
		wantErr error
		says    string
	}{
		{"plaintext answers", []string{plainNode}, nil, []string{plainNode}, nil, ""},
		{"TLS answers", []string{tlsNode}, trusting, []string{tlsNode}, nil, ""},
		{"plaintext to TLS node", []string{tlsNode}, nil, nil, ErrNodeRequiresTLS, "--target-tls-ca FILE"},
		{"TLS to plaintext node", []string{plainNode}, trusting, nil, ErrNodeNotTLS, "leave out --target-tls-ca"},
		{"untrusted certificate", []string{tlsNode}, distrusting, nil, ErrTLSHandshake, "unknown authority"},
		{"live node moves before hung and closed ones", []string{hung, closed, plainNode}, nil, []string{plainNode, hung, closed}, nil, ""},
		{"mismatch beside a closed port", []string{closed, tlsNode}, nil, nil, ErrNodeRequiresTLS, ""},
		{"nothing answers", []string{closed}, nil, []string{closed}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := Probe(ctx, client.Config{Addrs: tt.addrs, TLS: tt.tls}, "target-")
			if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) || (err != nil && !strings.Contains(err.Error(), tt.says)) {
				t.Fatalf("Probe(%v) = %v, %v; want %v, %v saying %q", tt.addrs, got, err, tt.want, tt.wantErr, tt.says)
			}
		})
	}
}

// TestProbeHungNodeEndsWithContext: a node that never answers holds the
// probe only until its context ends.
func TestProbeHungNodeEndsWithContext(t *testing.T) {
	hung := hungAddr(t)
	for _, cfg := range []*tls.Config{nil, {MinVersion: tls.VersionTLS12}} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		got, err := Probe(ctx, client.Config{Addrs: []string{hung}, TLS: cfg}, "")
		cancel()
		if err != nil || !slices.Equal(got, []string{hung}) {
			t.Fatalf("tls %v: Probe = %v, %v; want the address unchanged and no error", cfg != nil, got, err)
		}
	}
}
