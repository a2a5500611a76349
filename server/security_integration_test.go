package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// The tokens of the secure test clusters.
const (
	adminToken = "adm-9f3c"
	writeToken = "wr-51aa"
	readToken  = "rd-0c7e"
	tokensFile = "admin " + adminToken + "\nwrite " + writeToken + "\nread " + readToken + "\n"
)

// refusals are the credentials every guarded call is tried with, and the
// code each must get.
var refusals = []struct {
	name, token string
	code        codes.Code
}{
	{"no token", "", codes.Unauthenticated},
	{"bad token", "not-a-token", codes.Unauthenticated},
	{"read token", readToken, codes.PermissionDenied},
}

func mustTokens(t *testing.T, file string) *server.Tokens {
	t.Helper()
	toks, err := server.ParseTokens(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// withToken returns ctx carrying token as a bearer token (none if empty).
func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// rawConn is a gRPC connection to addr with tlsCfg (plaintext if nil) and
// no credentials of its own.
func rawConn(t *testing.T, addr string, tlsCfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// mustDialConfig dials a client with the default config adjusted by mutate.
func mustDialConfig(t *testing.T, addrs []string, mutate func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.Addrs = addrs
	mutate(&cfg)
	c, err := client.DialConfig(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

func tableNames(t *testing.T, admin tpb.AdminClient) []string {
	t.Helper()
	resp, err := admin.ListTables(withToken(ctx(t), readToken), &tpb.ListTablesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range resp.Tables {
		out = append(out, tb.Name)
	}
	return out
}

func TestSecureClusterServesCredentialedCallsAndRefusesOthers(t *testing.T) {
	ca := testpki.New(t, "east-ca")
	c := servertest.MakeCluster(t, 3, servertest.WithTLS(t, ca), servertest.WithAuth(mustTokens(t, tokensFile), ""))
	c.CreateTable("t", 2, 3)
	caOnly := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}

	writer := mustDialConfig(t, c.Addrs(), func(cfg *client.Config) { cfg.TLS, cfg.Token = caOnly, writeToken })
	if err := mustTable(t, writer, "t").Set(ctx(t), []byte("h"), []byte("k"), []byte("v1")); err != nil {
		t.Fatalf("write with a write token: %v", err)
	}
	reader := mustDialConfig(t, c.Addrs(), func(cfg *client.Config) { cfg.TLS, cfg.Token = caOnly, readToken })
	readTbl := mustTable(t, reader, "t")
	wantValue := func(want string) {
		t.Helper()
		v, err := readTbl.Get(ctx(t), []byte("h"), []byte("k"))
		if err != nil || string(v) != want {
			t.Fatalf("get = %q, %v; want %q", v, err, want)
		}
	}
	wantValue("v1")

	conn := rawConn(t, c.Addrs()[0], caOnly)
	kv, admin := tpb.NewKVClient(conn), tpb.NewAdminClient(conn)
	t.Run("KV", func(t *testing.T) {
		for _, r := range refusals {
			_, err := kv.Set(withToken(ctx(t), r.token), &tpb.SetRequest{Table: "t", HashKey: []byte("h"), SortKey: []byte("k"), Value: []byte("v2")})
			wantCode(t, err, r.code)
			_, err = kv.Del(withToken(ctx(t), r.token), &tpb.DelRequest{Table: "t", HashKey: []byte("h"), SortKey: []byte("k")})
			wantCode(t, err, r.code)
			if r.code == codes.Unauthenticated {
				_, err = kv.Get(withToken(ctx(t), r.token), &tpb.GetRequest{Table: "t", HashKey: []byte("h"), SortKey: []byte("k")})
				wantCode(t, err, r.code)
			}
		}
		wantValue("v1")
		err := readTbl.Set(ctx(t), []byte("h"), []byte("k"), []byte("v3"))
		if !errors.Is(err, client.ErrPermissionDenied) || !strings.Contains(err.Error(), "needs role write") {
			t.Fatalf("SDK write with a read token: %v, want ErrPermissionDenied naming the role", err)
		}
		wantValue("v1")
	})
	t.Run("Admin", func(t *testing.T) {
		for _, r := range append(refusals, struct {
			name, token string
			code        codes.Code
		}{"write token", writeToken, codes.PermissionDenied}) {
			_, err := admin.CreateTable(withToken(ctx(t), r.token), &tpb.CreateTableRequest{Name: "t2", Partitions: 1})
			wantCode(t, err, r.code)
			_, err = admin.SetConfig(withToken(ctx(t), r.token), &tpb.SetConfigRequest{Key: "checkpoint.retain", Value: "7"})
			wantCode(t, err, r.code)
			if r.code == codes.Unauthenticated {
				_, err = admin.ListTables(withToken(ctx(t), r.token), &tpb.ListTablesRequest{})
				wantCode(t, err, r.code)
			}
		}
		if names := tableNames(t, admin); len(names) != 1 || names[0] != "t" {
			t.Fatalf("tables after refused creates: %v", names)
		}
		cfg, err := admin.GetConfig(withToken(ctx(t), readToken), &tpb.GetConfigRequest{Key: "checkpoint.retain"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range cfg.Entries {
			if e.Value == "7" {
				t.Fatalf("refused config set took effect: %v", e)
			}
		}
	})
	t.Run("Duplication", func(t *testing.T) {
		dc := tpb.NewDuplicationClient(conn)
		for _, r := range append(refusals, struct {
			name, token string
			code        codes.Code
		}{"write token", writeToken, codes.PermissionDenied}) {
			_, err := dc.Prepare(withToken(ctx(t), r.token), &tpb.PrepareRequest{DupId: "x", Table: "t"})
			wantCode(t, err, r.code)
			_, err = dc.Pull(withToken(ctx(t), r.token), &tpb.PullRequest{DupId: "x", Table: "t", From: 1})
			wantCode(t, err, r.code)
			s, err := dc.FetchFile(withToken(ctx(t), r.token), &tpb.FetchFileRequest{DupId: "x", Table: "t", CheckpointId: "c", Name: "f"})
			if err == nil {
				_, err = s.Recv()
			}
			wantCode(t, err, r.code)
		}
	})
	t.Run("SDK without a token", func(t *testing.T) {
		anon := mustDialConfig(t, c.Addrs(), func(cfg *client.Config) { cfg.TLS = caOnly })
		if _, err := anon.Table(ctx(t), "t"); !errors.Is(err, client.ErrUnauthenticated) {
			t.Fatalf("open a table without a token: %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("client certificate of the CA is an admin", func(t *testing.T) {
		tool := ca.Issue(t, "ops-tool").Certificate(t)
		cfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{tool}}
		if _, err := tpb.NewAdminClient(rawConn(t, c.Addrs()[1], cfg)).ListTables(ctx(t), &tpb.ListTablesRequest{}); err != nil {
			t.Fatalf("list tables with a client certificate: %v", err)
		}
	})
	t.Run("client certificate of another CA", func(t *testing.T) {
		foreign := testpki.New(t, "other-ca").Issue(t, "intruder").Certificate(t)
		cfg := &tls.Config{RootCAs: ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }}
		_, err := tpb.NewAdminClient(rawConn(t, c.Addrs()[0], cfg)).CreateTable(ctx(t), &tpb.CreateTableRequest{Name: "t3", Partitions: 1})
		wantCode(t, err, codes.Unavailable)
		if _, err := raftnet.DialRaftTLS(c.Addrs()[0], 1, 2*time.Second, cfg); err == nil {
			t.Fatal("raft dial with another CA's certificate accepted")
		}
		if names := tableNames(t, admin); len(names) != 1 {
			t.Fatalf("tables: %v", names)
		}
	})
	t.Run("plaintext client", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := tpb.NewAdminClient(rawConn(t, c.Addrs()[0], nil)).ListTables(withToken(cctx, adminToken), &tpb.ListTablesRequest{})
		if err == nil {
			t.Fatal("plaintext call to a TLS node answered")
		}
	})
	t.Run("restarted node rejoins over TLS", func(t *testing.T) {
		c.Restart(2)
		c.WaitReady()
		if err := mustTable(t, writer, "t").Set(ctx(t), []byte("h2"), []byte("k"), []byte("after")); err != nil {
			t.Fatal(err)
		}
		servertest.WaitFor(t, 10*time.Second, "restarted node applies the write", func() bool {
			for p := uint32(0); p < 2; p++ {
				r0, r2 := c.Replica(0, "t", p), c.Replica(2, "t", p)
				if r0 == nil || r2 == nil || r2.Applied() != r0.Applied() {
					return false
				}
			}
			return true
		})
	})
	t.Run("raft dial without client certificate", func(t *testing.T) {
		_, err := raftnet.DialRaftTLS(c.Addrs()[0], 1, 2*time.Second, caOnly)
		if !errors.Is(err, raftnet.ErrRaftUnauthenticated) {
			t.Fatalf("raft dial without a certificate: %v, want ErrRaftUnauthenticated", err)
		}
	})
}
