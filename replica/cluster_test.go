package replica

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/rocksdb"
)

// Replicas of several groups on three nodes, each node with its own mux,
// raft log and heartbeat hub, as server.Node wires them: the tests of how a
// replica uses the node's plumbing (coalesced heartbeats, leases, reads).

func mustNewMux(t *testing.T) *raftnet.Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A connection the mux is still routing can log after the test ends,
	// which a zaptest logger reports as a race: no test logger here.
	m := raftnet.NewMux(ln, zap.NewNop())
	go m.Serve()
	t.Cleanup(func() { m.Close() })
	return m
}

// hbNode is one node of a replica-level cluster: its own mux, raft log,
// heartbeat hub and replicas.
type hbNode struct {
	t        *testing.T
	id       string
	dir      string
	timing   RaftTiming
	sh       *rocksdb.Shared
	logDB    *logdb.DB
	mux      *raftnet.Mux
	hub      *raftnet.HeartbeatHub
	replicas map[uint64]*Replica
	stopped  bool
}

// mustNewHBNode starts a node whose hub coalesces heartbeats for window.
func mustNewHBNode(t *testing.T, id string, timing RaftTiming, window time.Duration) *hbNode {
	t.Helper()
	n := &hbNode{t: t, id: id, dir: t.TempDir(), timing: timing, replicas: map[uint64]*Replica{}}
	n.sh = mustNewShared(t)
	n.logDB = mustNewLogDB(t, filepath.Join(n.dir, "raftlog"), n.sh)
	n.mux = mustNewMux(t)
	cfg := timing.HubConfig(n.mux, zap.NewNop())
	cfg.Window = window
	hub, err := raftnet.NewHeartbeatHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.hub = hub
	t.Cleanup(n.stop)
	return n
}

func (n *hbNode) addr() string { return n.mux.Addr().String() }

// stop closes the node's replicas, hub, mux and raft log, as a node
// shutting down does.
func (n *hbNode) stop() {
	if n.stopped {
		return
	}
	n.stopped = true
	for _, r := range n.replicas {
		r.Close()
	}
	n.hub.Close()
	n.mux.Close()
	n.logDB.Close()
}

// open starts the node's replica of group, a member of nodes.
func (n *hbNode) open(group uint64, nodes []*hbNode) *Replica {
	n.t.Helper()
	var servers []raft.Server
	for _, o := range nodes {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(o.id), Address: raft.ServerAddress(o.addr())})
	}
	r, err := Open(Config{
		NodeID: n.id, Group: group, Table: "t", Partition: uint32(group),
		Dir: filepath.Join(n.dir, fmt.Sprint(group)), Servers: servers, Raft: n.timing,
		Shared: n.sh, LogDB: n.logDB, Mux: n.mux, Heartbeats: n.hub, Logger: zap.NewNop(),
	})
	if err != nil {
		n.t.Fatal(err)
	}
	n.replicas[group] = r
	return r
}

// mustNewHBCluster starts three nodes, each with a replica of every group.
func mustNewHBCluster(t *testing.T, timing RaftTiming, window time.Duration, groups ...uint64) []*hbNode {
	t.Helper()
	nodes := make([]*hbNode, 3)
	for i := range nodes {
		nodes[i] = mustNewHBNode(t, fmt.Sprintf("n%d", i+1), timing, window)
	}
	for _, g := range groups {
		for _, n := range nodes {
			n.open(g, nodes)
		}
	}
	return nodes
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderOf waits for group to have a leader among the running nodes that
// they all agree on and returns its node.
func leaderOf(t *testing.T, nodes []*hbNode, group uint64) *hbNode {
	t.Helper()
	var leader *hbNode
	waitFor(t, 10*time.Second, fmt.Sprintf("a leader of group %d", group), func() bool {
		leader = nil
		var id string
		for _, n := range nodes {
			if n.stopped {
				continue
			}
			r := n.replicas[group]
			lid, _ := r.Leader()
			if lid == "" || (id != "" && lid != id) {
				return false
			}
			id = lid
			if r.IsLeader() {
				leader = n
			}
		}
		return leader != nil && leader.id == id
	})
	return leader
}

func put(t *testing.T, r *Replica, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.Write(ctx, []Mutation{{Op: OpPut, HashKey: []byte(key), SortKey: []byte("s"), Value: []byte(value)}}); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func read(t *testing.T, r *Replica, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, _, _, err := r.Get(ctx, []byte(key), []byte("s"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(v)
}

func TestHeartbeatHubCarriesGroupsHeartbeats(t *testing.T) {
	timing := FastRaftTiming()
	// A window near the heartbeat interval (10-20ms) so the two groups'
	// heartbeats meet in frames; the lease (50ms) still holds.
	nodes := mustNewHBCluster(t, timing, 10*time.Millisecond, 1, 2)
	l1 := leaderOf(t, nodes, 1)
	if l2 := leaderOf(t, nodes, 2); l2 != l1 {
		// Both groups led from one node, so their heartbeats to each
		// follower can share frames.
		if err := l2.replicas[2].TransferLeadership(l1.id); err != nil {
			t.Fatalf("leadership transfer: %v", err)
		}
		waitFor(t, 5*time.Second, "group 2 led by "+l1.id, func() bool { return leaderOf(t, nodes, 2) == l1 })
	}
	put(t, l1.replicas[1], "k", "v1")
	put(t, l1.replicas[2], "k", "v2")

	term1, term2 := l1.replicas[1].Status().Term, l1.replicas[2].Status().Term
	before, start := l1.hub.Stats(), time.Now()
	waitFor(t, 10*time.Second, "heartbeats over several heartbeat timeouts", func() bool {
		return time.Since(start) > 5*timing.HeartbeatTimeout && l1.hub.Stats().Heartbeats > before.Heartbeats+100
	})
	after := l1.hub.Stats()
	for g, term := range map[uint64]uint64{1: term1, 2: term2} {
		if leaderOf(t, nodes, g) != l1 || l1.replicas[g].Status().Term != term {
			t.Fatalf("group %d: leadership moved while idle (term %d, was %d)", g, l1.replicas[g].Status().Term, term)
		}
	}
	beats, frames := after.Heartbeats-before.Heartbeats, after.Frames-before.Frames
	t.Logf("%d heartbeats in %d frames, %d failed", beats, frames, after.FailedFrames-before.FailedFrames)
	if frames == 0 || beats <= frames {
		t.Fatalf("%d heartbeats in %d frames: groups did not share frames", beats, frames)
	}
	if after.FailedFrames != before.FailedFrames {
		t.Fatalf("%d frames failed on a healthy cluster", after.FailedFrames-before.FailedFrames)
	}
	if v := read(t, l1.replicas[1], "k"); v != "v1" {
		t.Fatalf("read %q", v)
	}
	if v := read(t, l1.replicas[2], "k"); v != "v2" {
		t.Fatalf("read %q", v)
	}
}

func TestHeartbeatHubReadsSkipTheWindow(t *testing.T) {
	// Slow timing with a window of a fifth of the heartbeat timeout: a
	// read that waited for the window would take 200ms or more.
	timing := DefaultRaftTiming()
	timing.LeaderLeaseTimeout = 500 * time.Millisecond
	window := 200 * time.Millisecond
	nodes := mustNewHBCluster(t, timing, window, 1)
	l := leaderOf(t, nodes, 1)
	put(t, l.replicas[1], "k", "v")
	read(t, l.replicas[1], "k")
	var took []time.Duration
	for range 5 {
		start := time.Now()
		if v := read(t, l.replicas[1], "k"); v != "v" {
			t.Fatalf("read %q", v)
		}
		took = append(took, time.Since(start))
	}
	fast := 0
	for _, d := range took {
		if d < window/2 {
			fast++
		}
	}
	if fast < 3 {
		t.Fatalf("reads took %v: they waited for the %s window", took, window)
	}
}

func TestHeartbeatHubFailover(t *testing.T) {
	nodes := mustNewHBCluster(t, FastRaftTiming(), 2*time.Millisecond, 1)
	old := leaderOf(t, nodes, 1)
	put(t, old.replicas[1], "k", "before")
	old.stop()
	l := leaderOf(t, nodes, 1)
	if l == old {
		t.Fatal("stopped node still leads")
	}
	put(t, l.replicas[1], "k", "after")
	if v := read(t, l.replicas[1], "k"); v != "after" {
		t.Fatalf("read %q", v)
	}
}
