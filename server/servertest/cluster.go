// Package servertest runs a cluster of tandem nodes in one process, on
// loopback, with fast raft timeouts, for integration tests of any package
// (hashicorp/raft's testing.go, as a package of its own so the server
// binary links no testing code).
package servertest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tandem-kv/tandem/internal/testpki"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
	"github.com/tandem-kv/tandem/server"
)

// Cluster is a cluster of nodes in one process on loopback, with fast
// raft timeouts.
type Cluster struct {
	t     testing.TB
	Nodes []*server.Node
	cfgs  []server.Config
}

// MakeCluster starts n nodes that form one cluster and waits until every
// node serves. mutate, if given, adjusts each node's config.
func MakeCluster(t testing.TB, n int, mutate ...func(*server.Config)) *Cluster {
	t.Helper()
	lns := make([]net.Listener, n)
	peers := make([]server.Peer, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		peers[i] = server.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: ln.Addr().String()}
	}
	c := &Cluster{t: t, Nodes: make([]*server.Node, n), cfgs: make([]server.Config, n)}
	base := t.TempDir()
	for i := range lns {
		cfg := server.DefaultConfig()
		cfg.NodeID, cfg.Addr, cfg.Listener = peers[i].ID, peers[i].Addr, lns[i]
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.DataDir = filepath.Join(base, peers[i].ID)
		cfg.Cluster = "test"
		cfg.Peers = peers
		cfg.Raft = replica.FastRaftTiming()
		cfg.RocksDB = rocksdb.DefaultConfig()
		cfg.RocksDB.BlockCacheBytes = 8 << 20
		cfg.Logger = zaptest.NewLogger(t).Named(peers[i].ID)
		for _, m := range mutate {
			m(&cfg)
		}
		c.cfgs[i] = cfg
	}
	for i := range c.Nodes {
		c.Start(i)
	}
	t.Cleanup(c.Close)
	c.WaitReady()
	return c
}

// Start starts node i, which is not running, on its address and data
// directory.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	node, err := server.NewNode(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.Nodes[i] = node
	c.cfgs[i].Listener = nil
}

// Addrs lists the RPC addresses of the nodes that are running.
func (c *Cluster) Addrs() []string {
	var out []string
	for i, n := range c.Nodes {
		if n != nil {
			out = append(out, c.cfgs[i].Addr)
		}
	}
	return out
}

// Config returns node i's configuration.
func (c *Cluster) Config(i int) server.Config { return c.cfgs[i] }

// Stop closes node i cleanly, keeping its data.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	if c.Nodes[i] == nil {
		return
	}
	if err := c.Nodes[i].Close(); err != nil {
		c.t.Logf("close node %d: %v", i, err)
	}
	c.Nodes[i] = nil
}

// Restart stops node i and starts it again on its address and data
// directory; mutate, if given, changes its config first (new --peers, say).
func (c *Cluster) Restart(i int, mutate ...func(*server.Config)) {
	c.t.Helper()
	c.Stop(i)
	for _, m := range mutate {
		m(&c.cfgs[i])
	}
	c.Start(i)
}

// Close stops every node.
func (c *Cluster) Close() {
	for i := range c.Nodes {
		c.Stop(i)
	}
}

// WaitReady waits until every running node serves.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	WaitFor(c.t, 20*time.Second, "nodes ready", func() bool {
		for _, n := range c.Nodes {
			if n != nil && !n.Ready() {
				return false
			}
		}
		return true
	})
}

// CreateTable creates a table through node 0 (or the first running node)
// and waits for its leaders.
func (c *Cluster) CreateTable(name string, partitions, replicas int) *tpb.TableInfo {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		t, err := n.CreateTable(ctx, &tpb.CreateTableRequest{Name: name, Partitions: uint32(partitions), Replicas: uint32(replicas)})
		if err != nil {
			c.t.Fatalf("create table %s: %v", name, err)
		}
		return t
	}
	c.t.Fatal("no running node")
	return nil
}

// Replica returns node i's replica of a table partition, nil if absent.
func (c *Cluster) Replica(i int, table string, partition uint32) *replica.Replica {
	if c.Nodes[i] == nil {
		return nil
	}
	return c.Nodes[i].Replica(table, partition)
}

// LeaderOf returns the index of the node leading a partition, -1 if none.
func (c *Cluster) LeaderOf(table string, partition uint32) int {
	for i := range c.Nodes {
		if r := c.Replica(i, table, partition); r != nil && r.IsLeader() {
			return i
		}
	}
	return -1
}

// WithTLS gives each node of a test cluster a certificate of ca, for use
// as a MakeCluster mutation. Clusters made with the same ca trust each
// other (their nodes are admins to one another).
func WithTLS(t testing.TB, ca *testpki.CA) func(*server.Config) {
	return func(c *server.Config) {
		c.TLS = &server.TLSIdentity{Cert: ca.Issue(t, c.NodeID).Certificate(t), CAs: ca.Pool()}
	}
}

// WithAuth turns auth on with tokens, for use as a MakeCluster mutation;
// nodes present token (may be empty under TLS) on their outgoing calls.
func WithAuth(tokens *server.Tokens, token string) func(*server.Config) {
	return func(c *server.Config) { c.AuthTokens, c.AuthToken = tokens, token }
}

// WaitFor polls cond every 10ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
