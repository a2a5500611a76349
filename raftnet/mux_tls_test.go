package raftnet

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/testpki"
)

// tlsConfigs returns a node's server and client TLS configs for ca.
func tlsConfigs(t *testing.T, ca *testpki.CA) (server, client *tls.Config) {
	cert := ca.Issue(t, "node").Certificate(t)
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	return server, client
}

func mustNewTLSMux(t *testing.T, server, client *tls.Config) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A connection the mux is still routing can log after the test ends,
	// which a zaptest logger reports as a race: no test logger here.
	m := NewTLSMux(ln, server, client, zap.NewNop())
	go m.Serve()
	t.Cleanup(func() { m.Close() })
	return m
}

func TestTLSMuxRaftNeedsAClientCertificateOfTheCA(t *testing.T) {
	ca := testpki.New(t, "cluster-ca")
	server, client := tlsConfigs(t, ca)
	m := mustNewTLSMux(t, server, client)
	sl, err := m.StreamLayer(5)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	addr := m.Addr().String()

	// The stream layer dials with the node's certificate: accepted.
	rc, err := sl.Dial(raft.ServerAddress(addr), time.Second)
	if err != nil {
		t.Fatalf("raft dial with the node certificate: %v", err)
	}
	echo(t, rc, "raft over tls")
	rc.Close()
	if st, ok := ConnTLSState(rc); !ok || st.Version < tls.VersionTLS12 {
		t.Fatalf("raft connection is not TLS 1.2+: %v %#x", ok, st.Version)
	}

	otherCA := testpki.New(t, "other-ca")
	foreign := otherCA.Issue(t, "intruder").Certificate(t)
	cases := []struct {
		name string
		cfg  *tls.Config
		want error // nil: any error
	}{
		{"tls without a client certificate", &tls.Config{RootCAs: ca.Pool()}, ErrRaftUnauthenticated},
		// Forced: Go's client would not even offer a certificate whose
		// issuer the server does not ask for.
		{"client certificate of another CA", &tls.Config{RootCAs: ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &foreign, nil
		}}, nil},
		{"plaintext", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := DialRaftTLS(addr, 5, 5*time.Second, tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("raft dial accepted")
			}
			t.Logf("refused: %v", err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("raft dial: %v, want %v", err, tc.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("refusal took %s", time.Since(start))
			}
		})
	}
}

func TestTLSMuxServesGRPCTrafficWithoutClientCertificate(t *testing.T) {
	ca := testpki.New(t, "cluster-ca")
	server, client := tlsConfigs(t, ca)
	m := mustNewTLSMux(t, server, client)
	go func() {
		c, err := m.GRPCListener().Accept()
		if err == nil {
			if _, ok := ConnTLSState(c); !ok {
				c.Close()
				return
			}
			io.Copy(c, c)
		}
	}()
	oc, err := tls.Dial("tcp", m.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	echo(t, oc, "PRI * HTTP/2.0")
}
