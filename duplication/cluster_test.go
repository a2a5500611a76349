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

	"github.com/tandem-kv/tandem/logdb"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/raftnet"
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
	logDB  *logdb.DB
	mux    *raftnet.Mux
	server *grpc.Server
	meta   *testMeta
	node   *Node
	timing replica.RaftTiming

	mu        sync.Mutex
	replicas  map[string][]*replica.Replica
	conns     map[string]*grpc.ClientConn
	retention logdb.RetentionCap
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
		retention: logdb.RetentionCap{MaxBytes: 1 << 30, MaxAge: time.Hour}}
	if opts.timing != nil {
		opts.timing(&c.timing)
	}
	var err error
	if c.sh, err = rocksdb.NewShared(rocksdb.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if c.logDB, err = logdb.Open(filepath.Join(c.dir, "raftlog"), c.sh); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.mux = raftnet.NewMux(ln, zap.NewNop())
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
	cfg.SourceAddrs = []string{c.addr()}
	cfg.Replicas, cfg.Meta, cfg.Registry = testReplicas{c}, c.meta, testRegistry{c.meta}
	cfg.Dial = c.dial
	cfg.Ready = func() bool { return true }
	cfg.RetentionCap = func() logdb.RetentionCap { c.mu.Lock(); defer c.mu.Unlock(); return c.retention }
	cfg.ToStatus = testToStatus
	cfg.Now = c.clock
	cfg.Logger = zap.NewNop()
	cfg.DataDir = c.dir
	if refresh > 0 {
		cfg.Refresh = refresh
	}
	n, err := NewNode(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.meta.onChange = n.MetaChanged
	c.meta.partitions = func(table string) uint32 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return uint32(len(c.replicas[table]))
	}
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
	rs, err := c.openTable(table, partitions)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, r := range rs {
		waitFor(c.t, "a leader of "+table, r.IsLeader)
	}
	return rs
}

// openTable opens a replica of every partition of table, each the only
// member of its raft group.
func (c *testCluster) openTable(table string, partitions uint32) ([]*replica.Replica, error) {
	c.mu.Lock()
	base := uint64(len(c.replicas)+1) << 20
	c.mu.Unlock()
	rs := make([]*replica.Replica, partitions)
	for p := range rs {
		g := base | uint64(p)
		r, err := replica.Open(replica.Config{
			NodeID: c.name + "-n1", Group: g, Table: table, Partition: uint32(p), Dir: c.Dir(g),
			Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(c.name + "-n1"), Address: raft.ServerAddress(c.addr())}},
			Raft:    c.timing, Shared: c.sh, LogDB: c.logDB, Mux: c.mux, Logger: zap.NewNop(), Campaign: true,
			OnLeaderChange: func(string) { c.node.LeaderChanged() },
		})
		if err != nil {
			return nil, err
		}
		rs[p] = r
	}
	c.mu.Lock()
	c.replicas[table] = rs
	c.mu.Unlock()
	return rs, nil
}

func (c *testCluster) Dir(group uint64) string {
	return filepath.Join(c.dir, fmt.Sprintf("g%d", group))
}

// write puts n records (keys from..from+n-1) into r, one raft entry each.
func write(t *testing.T, r *replica.Replica, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		key := []byte(fmt.Sprintf("k%06d", i))
		if _, err := r.Write(context.Background(), []replica.Mutation{{Op: replica.OpPut, HashKey: key, SortKey: []byte("s"), Value: []byte("v")}}); err != nil {
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

// CreateFollowerTable answers as a remote cluster does: the table becomes
// the duplication's follower (its replicas open here), or exists already
// as something else.
func (a *testAdmin) CreateFollowerTable(_ context.Context, spec *tpb.FollowerSpec) (*tpb.CreateFollowerTableResponse, error) {
	a.c.mu.Lock()
	_, exists := a.c.replicas[spec.Table]
	a.c.mu.Unlock()
	f, following := a.c.meta.follower(spec.Table)
	switch {
	case following && f.DupID == spec.DupId:
	case exists:
		if err := a.c.node.CheckCycle(context.Background(), spec.Table, spec.SourceCluster); err != nil {
			return nil, cycleStatus(err)
		}
		return nil, status.Errorf(codes.AlreadyExists, "cluster %s already has a table %q", a.c.name, spec.Table)
	default:
		a.c.meta.change(func(m *testMeta) {
			m.followers[spec.Table] = Follower{Table: spec.Table, DupID: spec.DupId, SourceCluster: spec.SourceCluster, SourceAddrs: spec.SourceAddrs}
		})
		if _, err := a.c.openTable(spec.Table, spec.Partitions); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &tpb.CreateFollowerTableResponse{Table: &tpb.TableInfo{Name: spec.Table, Partitions: spec.Partitions}, Cluster: a.c.name}, nil
}

// DetachFollower makes a follower table writable, as a remote cluster does.
func (a *testAdmin) DetachFollower(_ context.Context, req *tpb.DetachFollowerRequest) (*tpb.DetachFollowerResponse, error) {
	a.c.meta.change(func(m *testMeta) {
		if f, ok := m.followers[req.Table]; ok && f.DupID == req.DupId {
			delete(m.followers, req.Table)
		}
	})
	return &tpb.DetachFollowerResponse{}, nil
}

func (m *testMeta) follower(table string) (Follower, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.followers[table]
	return f, ok
}

// testMeta is a cluster's metadata as the duplication package reads it.
type testMeta struct {
	mu        sync.Mutex
	dups      map[string]Info
	followers map[string]Follower
	removed   map[string]bool
	// removedRemotes keeps removed duplications' remote addresses.
	removedRemotes map[string]string
	// promotions are the follower tables dup promote made writable.
	promotions map[string]Promotion
	onChange   func()
	// partitions counts a table's partitions, for what Duplication says.
	partitions func(table string) uint32
}

func newTestMeta() *testMeta {
	return &testMeta{dups: map[string]Info{}, followers: map[string]Follower{}, removed: map[string]bool{}, removedRemotes: map[string]string{},
		promotions: map[string]Promotion{}}
}

// testRegistry changes a testMeta as the meta group's duplication
// commands change the metadata.
type testRegistry struct{ m *testMeta }

func (r testRegistry) Add(_ context.Context, d Info) (Info, error) {
	var err error
	r.m.change(func(m *testMeta) {
		for _, o := range m.dups {
			if o.Table == d.Table && o.RemoteAddr == d.RemoteAddr {
				err = fmt.Errorf("table %q to %s is duplication %s: %w", d.Table, d.RemoteAddr, o.ID, ErrDupExists)
				return
			}
		}
		m.dups[d.ID] = d
	})
	return d, err
}

func (r testRegistry) SetRemoteCluster(_ context.Context, id, cluster string) error {
	r.m.change(func(m *testMeta) {
		if d, ok := m.dups[id]; ok {
			d.RemoteCluster = cluster
			m.dups[id] = d
		}
	})
	return nil
}

func (r testRegistry) SetState(_ context.Context, id string, st State) (Info, error) {
	var d Info
	var ok bool
	r.m.change(func(m *testMeta) {
		if d, ok = m.dups[id]; ok {
			d.State = st
			m.dups[id] = d
		}
	})
	if !ok {
		return Info{}, fmt.Errorf("duplication %s: %w", id, ErrDupNotFound)
	}
	return d, nil
}

func (r testRegistry) Remove(_ context.Context, id string) error {
	var err error
	r.m.change(func(m *testMeta) {
		d, ok := m.dups[id]
		if !ok {
			err = fmt.Errorf("duplication %s: %w", id, ErrDupNotFound)
			return
		}
		delete(m.dups, id)
		m.removed[id], m.removedRemotes[id] = true, d.RemoteAddr
	})
	return err
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
	return m.withPartitions(d), ok
}

func (m *testMeta) Duplications() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Info
	for _, d := range m.dups {
		out = append(out, m.withPartitions(d))
	}
	return out
}

func (m *testMeta) withPartitions(d Info) Info {
	if d.Partitions == 0 && m.partitions != nil {
		d.Partitions = m.partitions(d.Table)
	}
	return d
}

func (m *testMeta) Followers() []Follower {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Follower
	for _, f := range m.followers {
		if f.Partitions == 0 && m.partitions != nil {
			f.Partitions = m.partitions(f.Table)
		}
		out = append(out, f)
	}
	return out
}

func (m *testMeta) RemovedRemote(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removedRemotes[id], m.removed[id]
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
