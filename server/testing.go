package server

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
)

// TestCluster is a cluster of nodes in one process on loopback, with fast
// raft timeouts. Integration tests in any package can build on it.
type TestCluster struct {
	t     testing.TB
	Nodes []*Node
	cfgs  []Config
}

// MakeCluster starts n nodes that form one cluster and waits until every
// node serves. mutate, if given, adjusts each node's config.
func MakeCluster(t testing.TB, n int, mutate ...func(*Config)) *TestCluster {
	t.Helper()
	lns := make([]net.Listener, n)
	peers := make([]Peer, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		peers[i] = Peer{ID: fmt.Sprintf("n%d", i+1), Addr: ln.Addr().String()}
	}
	c := &TestCluster{t: t, Nodes: make([]*Node, n), cfgs: make([]Config, n)}
	base := t.TempDir()
	for i := range lns {
		cfg := DefaultConfig()
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
		c.start(i)
	}
	t.Cleanup(c.Close)
	c.WaitReady()
	return c
}

func (c *TestCluster) start(i int) {
	c.t.Helper()
	node, err := NewNode(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.Nodes[i] = node
	c.cfgs[i].Listener = nil
}

// Addrs lists the RPC addresses of the nodes that are running.
func (c *TestCluster) Addrs() []string {
	var out []string
	for i, n := range c.Nodes {
		if n != nil {
			out = append(out, c.cfgs[i].Addr)
		}
	}
	return out
}

// Config returns node i's configuration.
func (c *TestCluster) Config(i int) Config { return c.cfgs[i] }

// Stop closes node i cleanly, keeping its data.
func (c *TestCluster) Stop(i int) {
	c.t.Helper()
	if c.Nodes[i] == nil {
		return
	}
	if err := c.Nodes[i].Close(); err != nil {
		c.t.Logf("close node %d: %v", i, err)
	}
	c.Nodes[i] = nil
}

// Restart starts node i again on its address and data directory.
func (c *TestCluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.start(i)
}

// Close stops every node.
func (c *TestCluster) Close() {
	for i := range c.Nodes {
		c.Stop(i)
	}
}

// WaitReady waits until every running node serves.
func (c *TestCluster) WaitReady() {
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
func (c *TestCluster) CreateTable(name string, partitions, replicas int) *tpb.TableInfo {
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
func (c *TestCluster) Replica(i int, table string, partition uint32) *replica.Replica {
	n := c.Nodes[i]
	if n == nil {
		return nil
	}
	t, ok := n.table(table)
	if !ok {
		return nil
	}
	return n.replica(groupID(t.ID, partition))
}

// LeaderOf returns the index of the node leading a partition, -1 if none.
func (c *TestCluster) LeaderOf(table string, partition uint32) int {
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
func WithTLS(t testing.TB, ca *testpki.CA) func(*Config) {
	return func(c *Config) {
		c.TLS = &TLSIdentity{Cert: ca.Issue(t, c.NodeID).Certificate(t), CAs: ca.Pool()}
	}
}

// WithAuth turns auth on with tokens, for use as a MakeCluster mutation;
// nodes present token (may be empty under TLS) on their outgoing calls.
func WithAuth(tokens *Tokens, token string) func(*Config) {
	return func(c *Config) { c.AuthTokens, c.AuthToken = tokens, token }
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
