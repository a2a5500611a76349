package server_test

import (
	"crypto/tls"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// TestDuplicationBetweenSecureClusters duplicates a table between two
// clusters that require credentials, authenticated by their nodes'
// certificates of one CA, or by node tokens each side lists as admin; and
// checks that a Pull without valid admin credentials confirms nothing.
func TestDuplicationBetweenSecureClusters(t *testing.T) {
	ca := testpki.New(t, "shared-ca")
	tokens := mustTokens(t, tokensFile+"admin east-node\nadmin west-node\n")
	caOnly := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	cases := []struct {
		name       string
		east, west []func(*server.Config)
		tls        *tls.Config
	}{
		{"mTLS identities of one CA",
			[]func(*server.Config){servertest.WithTLS(t, ca), servertest.WithAuth(tokens, "")},
			[]func(*server.Config){servertest.WithTLS(t, ca), servertest.WithAuth(tokens, "")}, caOnly},
		{"node tokens without TLS",
			[]func(*server.Config){servertest.WithAuth(tokens, "east-node")},
			[]func(*server.Config){servertest.WithAuth(tokens, "west-node")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := servertest.MakeCluster(t, 1, append(tc.east, func(c *server.Config) { c.Cluster = "east" })...)
			dst := servertest.MakeCluster(t, 1, append(tc.west, func(c *server.Config) { c.Cluster = "west" })...)
			src.CreateTable("t", 2, 1)
			asAdmin := func(cfg *client.Config) { cfg.TLS, cfg.Token = tc.tls, adminToken }
			srcCli, dstCli := mustDialConfig(t, src.Addrs(), asAdmin), mustDialConfig(t, dst.Addrs(), asAdmin)
			srcTbl := mustTable(t, srcCli, "t")
			writeN(t, srcTbl, 0, 20)

			dup, err := srcCli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
			if err != nil {
				t.Fatalf("dup add: %v", err)
			}
			waitAllLog(t, srcCli, "t", dup.Id)
			dstTbl := mustTable(t, dstCli, "t")
			waitSame(t, srcTbl, dstTbl, "base and log shipped")

			// Paused, the remote confirms nothing new while the source
			// moves on; refused pulls must not confirm for it.
			if _, err := srcCli.PauseDuplication(ctx(t), "t", dup.Id); err != nil {
				t.Fatal(err)
			}
			writeN(t, srcTbl, 20, 40)
			before := dupStatus(t, srcCli, dup.Id)
			behind := false
			for _, st := range before {
				behind = behind || st.SourceDecree > st.ConfirmedDecree
			}
			if !behind {
				t.Fatalf("paused duplication is not behind after writes: %v", before)
			}
			dc := tpb.NewDuplicationClient(rawConn(t, src.Addrs()[0], tc.tls))
			for _, r := range append(refusals, struct {
				name, token string
				code        codes.Code
			}{"write token", writeToken, codes.PermissionDenied}) {
				for p, st := range before {
					_, err := dc.Pull(withToken(ctx(t), r.token), &tpb.PullRequest{DupId: dup.Id, Table: "t", Partition: p, From: st.ConfirmedDecree + 1, Confirmed: st.SourceDecree})
					wantCode(t, err, r.code)
				}
			}
			for p, st := range dupStatus(t, srcCli, dup.Id) {
				if st.ConfirmedDecree != before[p].ConfirmedDecree {
					t.Fatalf("partition %d: confirmed decree moved from %d to %d on refused pulls", p, before[p].ConfirmedDecree, st.ConfirmedDecree)
				}
			}

			if _, err := srcCli.StartDuplication(ctx(t), "t", dup.Id); err != nil {
				t.Fatal(err)
			}
			waitSame(t, srcTbl, dstTbl, "log shipped after resume")
		})
	}
}

// dupStatus returns each partition's duplication status on the source.
func dupStatus(t *testing.T, cli *client.Client, id string) map[uint32]*tpb.DupPartitionStatus {
	t.Helper()
	resp, err := cli.ShowDuplication(ctx(t), "t", id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]*tpb.DupPartitionStatus{}
	for _, p := range resp.Partitions {
		out[p.Partition] = p
	}
	return out
}
