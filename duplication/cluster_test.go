package duplication

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
)

// testCluster is a one-node cluster in the test process, built from the
// real parts a node has: a mux serving raft and gRPC on one loopback port,
// a real replica (its own raft group and RocksDB) per partition, and the
// duplication Node under test. Only the metadata is a plain table here
// (testMeta): the meta group is the server's.
type testCluster struct {
	t      *testing.T
	name   string
	dir    string
	sh     *rocksdb.Shared
	logDB  *replica.LogDB
	mux    *replica.Mux
	server *grpc.Server
	meta   *testMeta
	node   *Node
	timing replica.RaftTiming

	mu        sync.Mutex
	replicas  map[string][]*replica.Replica
	conns     map[string]*grpc.ClientConn
	retention replica.RetentionCap
	now       time.Time // zero: the real clock
}

// clusterOptions changes a test cluster from the defaults.
type clusterOptions struct {
	refresh time.Duration
	timing  func(*replica.RaftTiming)
}

func mustNewCluster(t *testing.T, name string, opts clusterOptions) *testCluster {
	t.Helper()
	c := &testCluster{t: t, name: name, dir: t.TempDir(), meta: newTestMeta(), timing: replica.FastRaftTiming(),
		replicas: map[string][]*replica.Replica{}, conns: map[string]*grpc.ClientConn{},
		retention: replica.RetentionCap{MaxBytes: 1 << 30, MaxAge: time.Hour}}
	if opts.timing != nil {
		opts.timing(&c.timing)
	}
	var err error
	if c.sh, err = rocksdb.NewShared(rocksdb.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if c.logDB, err = replica.OpenLogDB(filepath.Join(c.dir, "raftlog"), c.sh); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.mux = replica.NewMux(ln, zap.NewNop())
	go c.mux.Serve()
	c.node = c.mustNewNode(opts.refresh)
	c.server = grpc.NewServer()
	tpb.RegisterDuplicationServer(c.server, c.node.Source())
	tpb.RegisterAdminServer(c.server, &testAdmin{c: c})
	go c.server.Serve(c.mux.GRPCListener())
	t.Cleanup(c.close)
	return c
}

func (c *testCluster) mustNewNode(refresh time.Duration) *Node {
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Cluster = c.name+"-n1", c.name
	cfg.Peers = []Peer{{ID: cfg.NodeID, Addr: c.addr()}}
	cfg.Replicas, cfg.Meta = testReplicas{c}, c.meta
	cfg.Dial = c.dial
	cfg.Ready = func() bool { return true }
	cfg.RetentionCap = func() replica.RetentionCap { c.mu.Lock(); defer c.mu.Unlock(); return c.retention }
	cfg.ToStatus = testToStatus
	cfg.Now = c.clock
	cfg.Logger = zap.NewNop()
	if refresh > 0 {
		cfg.Refresh = refresh
	}
	n, err := NewNode(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.meta.onChange = n.MetaChanged
	n.Start()
	return n
}

func (c *testCluster) addr() string { return c.mux.Addr().String() }

func (c *testCluster) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

func (c *testCluster) dial(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[addr]; ok {
		return conn, nil
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err == nil {
		c.conns[addr] = conn
	}
	return conn, err
}

func (c *testCluster) close() {
	c.node.Close()
	c.server.Stop()
	c.mu.Lock()
	for _, rs := range c.replicas {
		for _, r := range rs {
			r.Close()
		}
	}
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.mux.Close()
	c.logDB.Close()
	c.sh.Close()
}

// mustOpenTable opens a replica of every partition of table and waits
// until each leads its one-member group.
func (c *testCluster) mustOpenTable(table string, partitions uint32) []*replica.Replica {
	c.t.Helper()
	rs := make([]*replica.Replica, partitions)
	for p := range rs {
		g := uint64(len(c.replicas)+1)<<20 | uint64(p)
		r, err := replica.Open(replica.Config{
			NodeID: c.name + "-n1", Group: g, Table: table, Partition: uint32(p), Dir: c.Dir(g),
			Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(c.name + "-n1"), Address: raft.ServerAddress(c.addr())}},
			Raft:    c.timing, Shared: c.sh, LogDB: c.logDB, Mux: c.mux, Logger: zap.NewNop(), Campaign: true,
			OnLeaderChange: func(string) { c.node.LeaderChanged() },
		})
		if err != nil {
			c.t.Fatal(err)
		}
		rs[p] = r
	}
	c.mu.Lock()
	c.replicas[table] = rs
	c.mu.Unlock()
	for _, r := range rs {
		waitFor(c.t, "a leader of "+table, r.IsLeader)
	}
	return rs
}

func (c *testCluster) Dir(group uint64) string {
	return filepath.Join(c.dir, fmt.Sprintf("g%d", group))
}

// write puts n records (keys from..from+n-1) into r, one raft entry each.
func write(t *testing.T, r *replica.Replica, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		key := []byte(fmt.Sprintf("k%06d", i))
		cmd := replica.EncodeCommand([]replica.Mutation{{Op: replica.OpPut, HashKey: key, SortKey: []byte("s"), Value: []byte("v")}})
		if _, err := r.Propose(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
}

// sameData reports whether two replicas hold the same records.
func sameData(a, b *replica.Replica) bool {
	ca, err := a.LocalChecksum()
	if err != nil {
		return false
	}
	cb, err := b.LocalChecksum()
	return err == nil && ca.Records == cb.Records && ca.Sum == cb.Sum
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testReplicas is the cluster's replicas as duplication.Replicas.
type testReplicas struct{ c *testCluster }

func (tr testReplicas) Leader(table string, p uint32) (Replica, error) {
	r, ok := tr.Local(table, p)
	if !ok {
		return nil, fmt.Errorf("table %q partition %d: not on this node", table, p)
	}
	if !r.IsLeader() {
		return nil, replica.ErrNotLeader
	}
	return r, nil
}

func (tr testReplicas) Local(table string, p uint32) (Replica, bool) {
	tr.c.mu.Lock()
	defer tr.c.mu.Unlock()
	rs := tr.c.replicas[table]
	if int(p) >= len(rs) {
		return nil, false
	}
	return rs[p], true
}

func (tr testReplicas) All() []Replica {
	tr.c.mu.Lock()
	defer tr.c.mu.Unlock()
	var out []Replica
	for _, rs := range tr.c.replicas {
		for _, r := range rs {
			out = append(out, r)
		}
	}
	return out
}

func (tr testReplicas) Dir(group uint64) string { return tr.c.Dir(group) }

func testToStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unavailable, err.Error())
}

// testAdmin answers Route as a node does: this node leads every partition
// it has a leading replica of.
type testAdmin struct {
	tpb.UnimplementedAdminServer
	c *testCluster
}

func (a *testAdmin) Route(_ context.Context, req *tpb.RouteRequest) (*tpb.RouteResponse, error) {
	a.c.mu.Lock()
	rs, ok := a.c.replicas[req.Table]
	a.c.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "table %q", req.Table)
	}
	resp := &tpb.RouteResponse{Table: &tpb.TableInfo{Name: req.Table, Partitions: uint32(len(rs))}}
	for p, r := range rs {
		pr := &tpb.PartitionRoute{Index: uint32(p), ReplicaAddrs: []string{a.c.addr()}}
		if r.IsLeader() {
			pr.LeaderAddr = a.c.addr()
		}
		resp.Partitions = append(resp.Partitions, pr)
	}
	return resp, nil
}

// testMeta is a cluster's metadata as the duplication package reads it.
type testMeta struct {
	mu        sync.Mutex
	dups      map[string]Info
	followers map[string]Follower
	removed   map[string]bool
	onChange  func()
}

func newTestMeta() *testMeta {
	return &testMeta{dups: map[string]Info{}, followers: map[string]Follower{}, removed: map[string]bool{}}
}

// change applies fn to the metadata and tells the node, as the meta group
// does after every apply.
func (m *testMeta) change(fn func(m *testMeta)) {
	m.mu.Lock()
	fn(m)
	notify := m.onChange
	m.mu.Unlock()
	if notify != nil {
		notify()
	}
}

func (m *testMeta) Duplication(id string) (Info, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dups[id]
	return d, ok
}

func (m *testMeta) Duplications() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Info
	for _, d := range m.dups {
		out = append(out, d)
	}
	return out
}

func (m *testMeta) Followers() []Follower {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Follower
	for _, f := range m.followers {
		out = append(out, f)
	}
	return out
}

func (m *testMeta) Removed() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.removed {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// dupPair is a duplication of table t from cluster src to cluster dst, as
// `dup add` leaves it: recorded on the source, a follower table on the
// remote.
type dupPair struct {
	id       string
	src, dst *testCluster
	srcReps  []*replica.Replica
	dstReps  []*replica.Replica
}

func mustNewDupPair(t *testing.T, partitions uint32, srcOpts, dstOpts clusterOptions) *dupPair {
	t.Helper()
	d := &dupPair{id: "17", src: mustNewCluster(t, "east", srcOpts), dst: mustNewCluster(t, "west", dstOpts)}
	d.srcReps = d.src.mustOpenTable("t", partitions)
	d.src.meta.change(func(m *testMeta) {
		m.dups[d.id] = Info{ID: d.id, Table: "t", RemoteAddr: d.dst.addr(), RemoteCluster: "west", State: StateActive, Partitions: partitions}
	})
	return d
}

// follow makes the remote's table the duplication's follower: its
// partition leaders start pulling.
func (d *dupPair) follow() {
	d.dst.meta.change(func(m *testMeta) {
		m.followers["t"] = Follower{Table: "t", DupID: d.id, SourceCluster: "east", SourceAddrs: []string{d.src.addr()}}
	})
}

// pullers counts the remote node's running pullers.
func (c *testCluster) pullers() int {
	c.node.followers.mu.Lock()
	defer c.node.followers.mu.Unlock()
	return len(c.node.followers.pullers)
}

// caughtUp reports whether every remote partition holds its source
// partition's data.
func (d *dupPair) caughtUp() bool {
	for p, s := range d.srcReps {
		if !sameData(s, d.dstReps[p]) {
			return false
		}
	}
	return true
}
