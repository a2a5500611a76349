package client

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/internal/testpki"
)

func TestAuthErrorsMapToSentinels(t *testing.T) {
	cases := []struct {
		code codes.Code
		want error
	}{
		{codes.Unauthenticated, ErrUnauthenticated},
		{codes.PermissionDenied, ErrPermissionDenied},
	}
	for _, tc := range cases {
		err := mapError(status.Error(tc.code, "missing or invalid bearer token"), ErrTableNotFound)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s maps to %v, want %v", tc.code, err, tc.want)
		}
		if kind, _ := classify(status.Error(tc.code, "x")); kind != kindFatal {
			t.Errorf("%s is retried; credentials do not get better by retrying", tc.code)
		}
	}
}

func TestTokenTravelsInClearOnlyToLoopback(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Token = "secret"
	for _, addr := range []string{"127.0.0.1:7100", "[::1]:7100", "localhost:7100"} {
		if _, err := dialOptions(cfg, addr); err != nil {
			t.Errorf("token to %s without TLS: %v, want allowed (loopback)", addr, err)
		}
	}
	for _, addr := range []string{"10.0.0.5:7100", "db.example.com:7100"} {
		_, err := dialOptions(cfg, addr)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("token to %s without TLS: %v, want ErrInvalidArgument", addr, err)
		}
	}
	cfg.TLS = mustLoadTLS(t)
	if _, err := dialOptions(cfg, "10.0.0.5:7100"); err != nil {
		t.Errorf("token over TLS: %v", err)
	}
}

func mustLoadTLS(t *testing.T) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.New(t, "ca")
	caFile := ca.WriteCert(t, dir, "ca")
	cfg, err := LoadTLS("", "", caFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.New(t, "ca")
	caFile := ca.WriteCert(t, dir, "ca")
	certFile, keyFile := ca.Issue(t, "tool").Write(t, dir, "tool")
	notPEM := filepath.Join(dir, "junk")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadTLS(certFile, keyFile, caFile)
	if err != nil || len(cfg.Certificates) != 1 || cfg.RootCAs == nil {
		t.Fatalf("cert, key and CA: %+v, %v", cfg, err)
	}
	if cfg, err = LoadTLS("", "", caFile); err != nil || len(cfg.Certificates) != 0 || cfg.RootCAs == nil {
		t.Fatalf("CA only: %+v, %v", cfg, err)
	}
	for name, files := range map[string][3]string{
		"cert without key": {certFile, "", caFile},
		"key without cert": {"", keyFile, caFile},
		"CA not PEM":       {"", "", notPEM},
		"CA missing":       {"", "", filepath.Join(dir, "absent")},
	} {
		if _, err := LoadTLS(files[0], files[1], files[2]); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}
