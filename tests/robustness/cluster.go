package robustness

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/tests/e2e"
)

// faultCluster is a cluster of real nodes where node i reaches node j
// through its own proxy proxies[i][j], so faults can cut or slow any pair.
// Clients use the nodes' real addresses.
type faultCluster struct {
	*e2e.Cluster
	proxies [][]*e2e.Proxy
	// gofail[i] is node i's GOFAIL_HTTP address; empty without failpoints.
	gofail []string
	admin  []tpb.AdminClient
}

func startFaultCluster(t testing.TB, nodes int, failpoints bool) *faultCluster {
	t.Helper()
	fc := &faultCluster{proxies: make([][]*e2e.Proxy, nodes), gofail: make([]string, nodes)}
	for i := range fc.proxies {
		fc.proxies[i] = make([]*e2e.Proxy, nodes)
	}
	opts := e2e.ClusterOptions{
		PeerAddr: func(from, to *e2e.Node) string {
			p := e2e.NewProxy(t, to.Addr)
			fc.proxies[nodeIndex(from)][nodeIndex(to)] = p
			return p.Addr()
		},
	}
	if failpoints {
		opts.Bin = e2e.FailpointBinaries(t)
		opts.Env = func(nd *e2e.Node) []string {
			addr := e2e.FreeAddr(t)
			fc.gofail[nodeIndex(nd)] = addr
			return []string{"GOFAIL_HTTP=" + addr}
		}
	}
	fc.Cluster = e2e.StartClusterWith(t, "robust", nodes, opts)
	for _, nd := range fc.Nodes {
		conn, err := grpc.NewClient(nd.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fc.admin = append(fc.admin, tpb.NewAdminClient(conn))
	}
	return fc
}

// nodeIndex is i for node "n<i+1>".
func nodeIndex(nd *e2e.Node) int {
	var i int
	fmt.Sscanf(nd.ID, "n%d", &i)
	return i - 1
}

// proxiesOf lists the proxies on every path into and out of node i.
func (fc *faultCluster) proxiesOf(i int) []*e2e.Proxy {
	var out []*e2e.Proxy
	for j := range fc.proxies {
		if j != i {
			out = append(out, fc.proxies[i][j], fc.proxies[j][i])
		}
	}
	return out
}

// healNetwork returns every proxy to pass-through.
func (fc *faultCluster) healNetwork() {
	for _, row := range fc.proxies {
		for _, p := range row {
			if p != nil {
				p.Heal()
			}
		}
	}
}

// replicaSums is every node's checksum of one partition.
type replicaSums []*tpb.LocalChecksumResponse

func (s replicaSums) sameDecree() bool {
	for _, r := range s {
		if r == nil || r.AppliedDecree != s[0].AppliedDecree {
			return false
		}
	}
	return true
}

// checksums polls every node's replica of each partition until all are at
// the same applied decree (twice in a row, so none is still catching up),
// then compares their checksums. It returns one line per mismatch, or per
// partition that did not converge before the deadline.
func (fc *faultCluster) checksums(table string, partitions int, deadline time.Duration) []string {
	var problems []string
	for p := 0; p < partitions; p++ {
		var last replicaSums
		stop := time.Now().Add(deadline)
		for {
			cur := fc.sumsOf(table, uint32(p))
			if cur.sameDecree() && last != nil && last.sameDecree() && last[0].AppliedDecree == cur[0].AppliedDecree {
				last = cur
				break
			}
			last = cur
			if time.Now().After(stop) {
				problems = append(problems, fmt.Sprintf("partition %d: replicas did not reach one applied decree in %s: %s", p, deadline, describeSums(cur)))
				last = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, r := range last {
			if r.Checksum != last[0].Checksum || r.Records != last[0].Records {
				problems = append(problems, fmt.Sprintf("partition %d: checksums differ at decree %d: %s", p, last[0].AppliedDecree, describeSums(last)))
				break
			}
		}
	}
	return problems
}

func (fc *faultCluster) sumsOf(table string, p uint32) replicaSums {
	out := make(replicaSums, len(fc.admin))
	for i, a := range fc.admin {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := a.LocalChecksum(ctx, &tpb.LocalChecksumRequest{Table: table, Partition: p})
		cancel()
		if err == nil {
			out[i] = r
		}
	}
	return out
}

func describeSums(s replicaSums) string {
	var out string
	for i, r := range s {
		if r == nil {
			out += fmt.Sprintf(" n%d=unreachable", i+1)
			continue
		}
		out += fmt.Sprintf(" %s=(decree %d, %d records, %016x)", r.NodeId, r.AppliedDecree, r.Records, r.Checksum)
	}
	return out
}

// saveData stops the nodes and copies their data directories and logs
// into dir.
func (fc *faultCluster) saveData(dir string) error {
	fc.Stop()
	for _, nd := range fc.Nodes {
		if err := e2e.CopyTree(nd.Data, filepath.Join(dir, nd.ID), nil); err != nil {
			return err
		}
		if err := e2e.CopyTree(nd.LogPath(), filepath.Join(dir, nd.ID+".log"), nil); err != nil {
			return err
		}
	}
	return nil
}
