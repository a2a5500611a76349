package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/raftlog"
	"github.com/tandem-kv/tandem/rocksdb"
)

// hbNode is one node of a replica-level cluster: its own mux, raft log,
// heartbeat hub and replicas.
type hbNode struct {
	t        *testing.T
	id       string
	dir      string
	timing   RaftTiming
	sh       *rocksdb.Shared
	logDB    *LogDB
	mux      *Mux
	hub      *HeartbeatHub
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
	hub, err := NewHeartbeatHub(cfg)
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
	cmd := EncodeCommand([]Mutation{{Op: OpPut, HashKey: []byte(key), SortKey: []byte("s"), Value: []byte(value)}})
	if _, err := r.Propose(ctx, cmd); err != nil {
		t.Fatalf("propose: %v", err)
	}
}

func read(t *testing.T, r *Replica, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var v []byte
	err := r.Read(ctx, func(db *rocksdb.DB) error {
		var err error
		v, _, _, err = db.Get([]byte(key), []byte("s"))
		return err
	})
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
		if err := l2.replicas[2].Raft().LeadershipTransferToServer(raft.ServerID(l1.id), raft.ServerAddress(l1.addr())).Error(); err != nil {
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

// hbEndpoint is a raw group transport on a node's hub, for driving
// heartbeats without raft.
type hbEndpoint struct {
	node  *hbNode
	trans *HeartbeatTransport
}

func mustNewEndpoint(t *testing.T, n *hbNode, group uint64) *hbEndpoint {
	t.Helper()
	sl, err := n.mux.StreamLayer(group)
	if err != nil {
		t.Fatal(err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: 1, Timeout: time.Second, Logger: raftlog.New(zap.NewNop())})
	ht, err := n.hub.Transport(group, nt, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ht.Close() })
	return &hbEndpoint{node: n, trans: ht}
}

// answer installs a heartbeat handler that succeeds with term.
func (e *hbEndpoint) answer(term uint64) {
	e.trans.SetHeartbeatHandler(func(rpc raft.RPC) {
		rpc.Respond(&raft.AppendEntriesResponse{Term: term, LastLog: 7, Success: true}, nil)
	})
}

func heartbeatReq() *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n1"), Addr: []byte("127.0.0.1:1")}, Term: 3, Leader: []byte("127.0.0.1:1")}
}

func (e *hbEndpoint) heartbeat(addr string) (raft.AppendEntriesResponse, error) {
	var resp raft.AppendEntriesResponse
	err := e.trans.AppendEntries("peer", raft.ServerAddress(addr), heartbeatReq(), &resp)
	return resp, err
}

func TestHeartbeatHubPerEntryErrors(t *testing.T) {
	timing := FastRaftTiming()
	a := mustNewHBNode(t, "a", timing, 200*time.Millisecond)
	b := mustNewHBNode(t, "b", timing, 0)
	open := mustNewEndpoint(t, b, 1)
	open.answer(3)
	mustNewEndpoint(t, b, 2) // registered, no handler yet
	senders := map[uint64]*hbEndpoint{}
	for _, g := range []uint64{1, 2, 3} {
		senders[g] = mustNewEndpoint(t, a, g)
	}
	// Concurrent heartbeats inside one window share a frame: the open
	// group's succeeds, the others fail each on their own.
	var wg sync.WaitGroup
	errs := map[uint64]error{}
	var mu sync.Mutex
	framesBefore := a.hub.Stats().Frames
	for g, e := range senders {
		wg.Go(func() {
			resp, err := e.heartbeat(b.addr())
			if err == nil && (!resp.Success || resp.Term != 3 || resp.LastLog != 7) {
				err = fmt.Errorf("response %+v", resp)
			}
			mu.Lock()
			errs[g] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	if errs[1] != nil {
		t.Fatalf("open group: %v", errs[1])
	}
	for _, g := range []uint64{2, 3} {
		if !errors.Is(errs[g], ErrHeartbeatRefused) {
			t.Fatalf("group %d: %v, want ErrHeartbeatRefused", g, errs[g])
		}
	}
	if f := a.hub.Stats().Frames - framesBefore; f != 1 {
		t.Fatalf("%d frames for three heartbeats inside one window", f)
	}
	// A group closed on the destination is refused too.
	open.trans.Close()
	if _, err := senders[1].heartbeat(b.addr()); !errors.Is(err, ErrHeartbeatRefused) {
		t.Fatalf("closed group: %v, want ErrHeartbeatRefused", err)
	}
}

// blackhole accepts connections and never answers frames; with handshake
// set it first completes the raft handshake, so the frame itself hangs.
type blackhole struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

func newBlackhole(t *testing.T, handshake bool) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			if handshake {
				go func() {
					hello := make([]byte, len(raftMagic)+8)
					if _, err := bufio.NewReader(c).Read(hello); err == nil {
						c.Write([]byte{handshakeOK})
					}
				}()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func TestHeartbeatHubBlackholedDestination(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handshake bool
	}{{"no handshake", false}, {"no reply to frames", true}} {
		t.Run(tc.name, func(t *testing.T) {
			timing := FastRaftTiming()
			timing.HeartbeatTimeout = 300 * time.Millisecond // frame timeout
			a := mustNewHBNode(t, "a", timing, time.Millisecond)
			b := mustNewHBNode(t, "b", timing, 0)
			mustNewEndpoint(t, b, 1).answer(3)
			sender := mustNewEndpoint(t, a, 1)
			hole := newBlackhole(t, tc.handshake)

			start := time.Now()
			stuck := make(chan error, 1)
			go func() {
				_, err := sender.heartbeat(hole.ln.Addr().String())
				stuck <- err
			}()
			// A healthy destination is not held up by the stuck one.
			waitFor(t, 5*time.Second, "the blackhole's connection", func() bool { return hole.accepted.Load() == 1 })
			if _, err := sender.heartbeat(b.addr()); err != nil {
				t.Fatalf("heartbeat to a healthy node: %v", err)
			}
			if d := time.Since(start); d > 250*time.Millisecond {
				t.Fatalf("heartbeat to a healthy node took %s behind a blackholed one", d)
			}
			select {
			case err := <-stuck:
				if !errors.Is(err, ErrTimeout) && !isNetTimeout(err) {
					t.Fatalf("blackholed heartbeat: %v, want a timeout", err)
				}
				if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
					t.Fatalf("blackholed heartbeat failed after %s, frame timeout 300ms", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blackholed heartbeat hangs")
			}
			if f := a.hub.Stats().FailedFrames; f != 1 {
				t.Fatalf("%d failed frames", f)
			}
			// The next heartbeat dials a fresh connection.
			go sender.heartbeat(hole.ln.Addr().String())
			waitFor(t, 5*time.Second, "a redial", func() bool { return hole.accepted.Load() == 2 })
		})
	}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A node without a hub (an older version) still gets heartbeats, the
// plain way.
func TestHeartbeatHubFallsBackForNodesWithoutHub(t *testing.T) {
	timing := FastRaftTiming()
	a := mustNewHBNode(t, "a", timing, time.Millisecond)
	b := mustNewHBNode(t, "b", timing, 0)
	b.hub.Close()
	sender := mustNewEndpoint(t, a, 1)
	sl, err := b.mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: 1, Timeout: time.Second, Logger: raftlog.New(zap.NewNop())})
	defer nt.Close()
	nt.SetHeartbeatHandler(func(rpc raft.RPC) {
		rpc.Respond(&raft.AppendEntriesResponse{Term: 3, Success: true}, nil)
	})
	resp, err := sender.heartbeat(b.addr())
	if err != nil || !resp.Success {
		t.Fatalf("heartbeat to a node without hub: %+v, %v", resp, err)
	}
}

// raft finds optional transport features by type assertion; the wrapper
// must have every one the NetworkTransport has.
func TestHeartbeatTransportKeepsOptionalInterfaces(t *testing.T) {
	nt := reflect.TypeOf((*raft.NetworkTransport)(nil))
	ht := reflect.TypeOf((*HeartbeatTransport)(nil))
	for _, iface := range []reflect.Type{
		reflect.TypeOf((*raft.WithClose)(nil)).Elem(),
		reflect.TypeOf((*raft.WithPreVote)(nil)).Elem(),
		reflect.TypeOf((*raft.WithPeers)(nil)).Elem(),
		reflect.TypeOf((*raft.Transport)(nil)).Elem(),
	} {
		if nt.Implements(iface) && !ht.Implements(iface) {
			t.Errorf("HeartbeatTransport lacks %s, which NetworkTransport implements", iface)
		}
	}
}

func TestIsHeartbeatMatchesNetworkTransport(t *testing.T) {
	hb := heartbeatReq()
	cases := []struct {
		name string
		mod  func(*raft.AppendEntriesRequest)
		want bool
	}{
		{"heartbeat", func(*raft.AppendEntriesRequest) {}, true},
		{"legacy leader only", func(r *raft.AppendEntriesRequest) { r.RPCHeader.Addr = nil }, true},
		{"no leader", func(r *raft.AppendEntriesRequest) { r.RPCHeader.Addr, r.Leader = nil, nil }, false},
		{"term 0", func(r *raft.AppendEntriesRequest) { r.Term = 0 }, false},
		{"prev entry", func(r *raft.AppendEntriesRequest) { r.PrevLogEntry = 4 }, false},
		{"prev term", func(r *raft.AppendEntriesRequest) { r.PrevLogTerm = 1 }, false},
		{"commit index", func(r *raft.AppendEntriesRequest) { r.LeaderCommitIndex = 9 }, false},
		{"entries", func(r *raft.AppendEntriesRequest) { r.Entries = []*raft.Log{{Index: 1}} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := *hb
			tc.mod(&r)
			if got := isHeartbeat(&r); got != tc.want {
				t.Fatalf("isHeartbeat = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHeartbeatFrameRoundTrip(t *testing.T) {
	reqs := []hbRequest{
		{group: 1, req: *heartbeatReq()},
		{group: HeartbeatGroup - 1, req: raft.AppendEntriesRequest{Term: 1 << 40, Leader: []byte("x")}},
	}
	b := appendRequestFrame(nil, reqs)
	got, err := decodeRequestFrame(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, reqs) {
		t.Fatalf("requests\n got %+v\nwant %+v", got, reqs)
	}
	replies := []hbReply{
		{resp: raft.AppendEntriesResponse{RPCHeader: raft.RPCHeader{ProtocolVersion: 3, ID: []byte("n2"), Addr: []byte("a:1")}, Term: 5, LastLog: 1 << 50, Success: true, NoRetryBackoff: true}},
		{err: "raft group 7 is not open on this node"},
		{resp: raft.AppendEntriesResponse{Term: 1}},
	}
	b = appendReplyFrame(nil, replies)
	gotReplies, err := decodeReplyFrame(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotReplies, replies) {
		t.Fatalf("replies\n got %+v\nwant %+v", gotReplies, replies)
	}
	for _, bad := range [][]byte{
		nil,
		{2, hbKindRequest, 0},            // version
		{hbFrameVersion, hbKindReply, 0}, // kind
		{hbFrameVersion, hbKindRequest, 1},
		append(appendRequestFrame(nil, reqs)[4:], 0), // trailing byte
	} {
		if _, err := decodeRequestFrame(bad); !errors.Is(err, ErrMalformedHeartbeat) {
			t.Errorf("decode %x: %v, want ErrMalformedHeartbeat", bad, err)
		}
	}
}
