package server

import (
	"crypto/subtle"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func TestParseTokens(t *testing.T) {
	good := "# operators\nadmin s3cret-admin\n\n  write  w-token  \nread r-token\n"
	toks, err := ParseTokens(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]Role{"s3cret-admin": RoleAdmin, "w-token": RoleWrite, "r-token": RoleRead, "nope": RoleNone, "": RoleNone, "w-tok": RoleNone} {
		if got, ok := toks.Lookup(token); got != want || ok != (want != RoleNone) {
			t.Errorf("Lookup(%q) = %s, %v; want %s", token, got, ok, want)
		}
	}

	bad := []struct {
		name, file, wantLine string
	}{
		{"unknown role", "admin a\nroot hunter2\n", "line 2: unknown role"},
		{"token first", "admin a\n\nhunter2 read\n", "line 3: unknown role"},
		{"malformed line", "# c\nadmin\n", "line 2: want ROLE TOKEN"},
		{"three words", "read a b\n", "line 1: want ROLE TOKEN"},
		{"duplicate token", "admin hunter2\nread x\nread hunter2\n", "line 3: the token of line 1 again"},
		{"empty", "# nothing\n\n", "no tokens"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(tc.file))
			if !errors.Is(err, ErrBadTokenFile) || !strings.Contains(err.Error(), tc.wantLine) {
				t.Fatalf("err = %v, want ErrBadTokenFile with %q", err, tc.wantLine)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q shows a token", err)
			}
		})
	}
}

func TestTokenLookupComparesEveryEntryInConstantTime(t *testing.T) {
	toks, err := ParseTokens(strings.NewReader("admin a\nwrite b\nread c\n"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	tokenEqual = func(x, y []byte) int { calls++; return subtle.ConstantTimeCompare(x, y) }
	defer func() { tokenEqual = subtle.ConstantTimeCompare }()
	for _, tok := range []string{"a", "c", "zz"} {
		calls = 0
		toks.Lookup(tok)
		if calls != 3 {
			t.Fatalf("Lookup(%q) compared %d entries, want all 3 whatever matches", tok, calls)
		}
	}
}

// TestEveryMethodHasARole fails when a service gains a method without a
// deliberate entry in methodRoles.
func TestEveryMethodHasARole(t *testing.T) {
	seen := 0
	for _, sd := range []grpc.ServiceDesc{tpb.KV_ServiceDesc, tpb.Admin_ServiceDesc, tpb.Duplication_ServiceDesc,
		healthpb.Health_ServiceDesc, reflectionv1.ServerReflection_ServiceDesc, reflectionv1alpha.ServerReflection_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, s := range sd.Streams {
			names = append(names, s.StreamName)
		}
		for _, name := range names {
			full := "/" + sd.ServiceName + "/" + name
			if _, ok := methodRoles[full]; !ok {
				t.Errorf("%s has no role in methodRoles", full)
			}
			seen++
		}
	}
	if seen != len(methodRoles) {
		t.Errorf("methodRoles lists %d methods, the services have %d", len(methodRoles), seen)
	}
	for method, want := range map[string]Role{
		tpb.KV_Get_FullMethodName: RoleRead, tpb.KV_Set_FullMethodName: RoleWrite,
		tpb.Admin_ListTables_FullMethodName: RoleRead, tpb.Admin_CreateTable_FullMethodName: RoleAdmin,
		tpb.Duplication_Pull_FullMethodName: RoleAdmin, tpb.Duplication_FetchFile_FullMethodName: RoleAdmin,
		"/tandem.v1.Admin/NotYetInvented": RoleAdmin,
	} {
		if got := methodRole(method); got != want {
			t.Errorf("methodRole(%s) = %s, want %s", method, got, want)
		}
	}
}

func TestSecurityWarnings(t *testing.T) {
	toks, err := ParseTokens(strings.NewReader("admin a\n"))
	if err != nil {
		t.Fatal(err)
	}
	tlsID := &TLSIdentity{}
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	cases := []struct {
		name string
		cfg  Config
		addr net.Addr
		want []string
	}{
		{"loopback plaintext (make run)", Config{}, tcp("127.0.0.1:7100"), nil},
		{"ipv6 loopback", Config{}, tcp("[::1]:7100"), nil},
		{"all interfaces plaintext", Config{}, tcp("0.0.0.0:7100"), []string{"non-loopback address without TLS"}},
		{"lan plaintext", Config{}, tcp("10.1.2.3:7100"), []string{"non-loopback address without TLS"}},
		{"all interfaces tls, no auth", Config{TLS: tlsID}, tcp("0.0.0.0:7100"), []string{"without --auth-tokens"}},
		{"all interfaces tls and auth", Config{TLS: tlsID, AuthTokens: toks}, tcp("0.0.0.0:7100"), nil},
		{"loopback auth in clear", Config{AuthTokens: toks}, tcp("127.0.0.1:7100"), []string{"tokens and raft traffic travel in clear"}},
		{"lan auth in clear", Config{AuthTokens: toks}, tcp("10.1.2.3:7100"), []string{"without TLS", "travel in clear"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := securityWarnings(tc.cfg, tc.addr)
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}

func TestValidateSecurity(t *testing.T) {
	toks, err := ParseTokens(strings.NewReader("admin node-secret\nread reader\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no auth", Config{}, true},
		{"auth without tls, node token admin", Config{AuthTokens: toks, AuthToken: "node-secret"}, true},
		{"auth without tls, no node token", Config{AuthTokens: toks}, false},
		{"auth without tls, node token read", Config{AuthTokens: toks, AuthToken: "reader"}, false},
		{"auth without tls, node token unknown", Config{AuthTokens: toks, AuthToken: "x"}, false},
		{"auth with tls, no node token", Config{AuthTokens: toks, TLS: &TLSIdentity{}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.validateSecurity(); (err == nil) != tc.ok {
				t.Fatalf("validateSecurity = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestLoadTLSIdentityNeedsAllThreeFiles(t *testing.T) {
	if id, err := LoadTLSIdentity("", "", ""); id != nil || err != nil {
		t.Fatalf("no files: %v, %v; want no TLS", id, err)
	}
	for _, files := range [][3]string{{"c", "", ""}, {"c", "k", ""}, {"", "", "ca"}} {
		if _, err := LoadTLSIdentity(files[0], files[1], files[2]); !errors.Is(err, ErrBadTLSFiles) || !strings.Contains(err.Error(), "go together") {
			t.Errorf("files %q: %v, want ErrBadTLSFiles saying they go together", files, err)
		}
	}
}
