package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/internal/testpki"
)

const (
	e2eAdminToken = "e2e-admin-7d1f"
	e2eReadToken  = "e2e-read-52c0"
)

// writeTokens writes a tokens file with an admin and a read token.
func writeTokens(t *testing.T, dir string) string {
	t.Helper()
	f := filepath.Join(dir, "tokens")
	if err := os.WriteFile(f, []byte("# test tokens\nadmin "+e2eAdminToken+"\nread "+e2eReadToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSecureClusterWithShell(t *testing.T) {
	t.Setenv("TANDEM_TOKEN", "")
	dir := t.TempDir()
	ca := testpki.New(t, "e2e-ca")
	caFile := ca.WriteCert(t, dir, "ca")
	tokens := writeTokens(t, dir)
	c := StartClusterWith(t, "secure", 3, ClusterOptions{Args: func(nd *Node) []string {
		cert, key := ca.Issue(t, nd.ID).Write(t, dir, nd.ID)
		return []string{"--tls-cert", cert, "--tls-key", key, "--tls-ca", caFile, "--auth-tokens", tokens}
	}})

	out, err := c.Shell("create t --partitions 2 --replicas 3; set t h s v1; get t h s", "--tls-ca", caFile, "--token", e2eAdminToken)
	if err != nil || !strings.HasSuffix(out, "v1\n") {
		t.Fatalf("shell with TLS and an admin token: %q, %v", out, err)
	}
	tests := []struct {
		name   string
		args   []string
		script string
		errHas []string
	}{
		{"no token", []string{"--tls-ca", caFile}, "get t h s", []string{"exit status 2", "client: unauthenticated: missing or invalid bearer token", "hint: the cluster requires credentials"}},
		{"bad token", []string{"--tls-ca", caFile, "--token", "guess"}, "tables", []string{"exit status 2", "unauthenticated"}},
		{"read token writes", []string{"--tls-ca", caFile, "--token", e2eReadToken}, "set t h s v2", []string{"exit status 2", "permission denied: /tandem.v1.KV/BatchWrite needs role write"}},
		{"read token creates", []string{"--tls-ca", caFile, "--token", e2eReadToken}, "create t2", []string{"exit status 2", "needs role admin"}},
		{"plaintext against TLS", []string{"--token", e2eAdminToken, "--timeout", "1s"}, "tables", []string{"exit status 2", "requires TLS: connect with --tls-ca"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Shell(tc.script, tc.args...)
			for _, want := range tc.errHas {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("shell %v -e %q: %v; want an error with %q", tc.args, tc.script, err, want)
				}
			}
		})
	}
	out, err = c.Shell("get t h s; tables", "--tls-ca", caFile, "--token", e2eReadToken)
	if err != nil || !strings.HasPrefix(out, "v1\n") || strings.Contains(out, "t2") {
		t.Fatalf("after refused calls: %q, %v; want v1 and no table t2", out, err)
	}
}

// TestAuthWithoutTLSWarns runs auth without TLS on loopback: the node
// presents its own admin token, warns that tokens travel in clear, and the
// shell's token over plaintext loopback works.
func TestAuthWithoutTLSWarns(t *testing.T) {
	t.Setenv("TANDEM_TOKEN", "")
	dir := t.TempDir()
	tokens := writeTokens(t, dir)
	own := filepath.Join(dir, "node-token")
	if err := os.WriteFile(own, []byte(e2eAdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := StartClusterWith(t, "dev", 1, ClusterOptions{Args: func(*Node) []string {
		return []string{"--auth-tokens", tokens, "--auth-token-file", own}
	}})
	if out, err := c.Shell("create t --partitions 1; set t h s v; get t h s", "--token", e2eAdminToken); err != nil || !strings.HasSuffix(out, "v\n") {
		t.Fatalf("shell with a token over loopback: %q, %v", out, err)
	}
	if _, err := c.Shell("get t h s"); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Fatalf("shell without a token: %v", err)
	}
	nd := c.Nodes[0]
	log, err := os.ReadFile(filepath.Join(filepath.Dir(nd.Data), nd.ID+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "auth without TLS: tokens and raft traffic travel in clear") {
		t.Fatalf("no warning about auth without TLS in the log:\n%s", log)
	}
}
