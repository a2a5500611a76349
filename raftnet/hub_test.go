package raftnet

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/raftlog"
)

// fastFrameTimeout is the frame timeout of groups with test timing (a
// heartbeat timeout of 200ms).
const fastFrameTimeout = 200 * time.Millisecond

// hubNode is a node's mux and heartbeat hub, without raft groups.
type hubNode struct {
	mux *Mux
	hub *HeartbeatHub
}

// mustNewHubNode starts a hub that coalesces heartbeats for window and
// gives a frame frameTimeout.
func mustNewHubNode(t *testing.T, frameTimeout, window time.Duration) *hubNode {
	t.Helper()
	n := &hubNode{mux: mustNewMux(t)}
	hub, err := NewHeartbeatHub(HubConfig{Mux: n.mux, Window: window, FrameTimeout: frameTimeout, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	n.hub = hub
	t.Cleanup(func() { hub.Close() })
	return n
}

func (n *hubNode) addr() string { return n.mux.Addr().String() }

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

// hbEndpoint is a raw group transport on a node's hub, for driving
// heartbeats without raft.
type hbEndpoint struct {
	node  *hubNode
	trans *HeartbeatTransport
}

func mustNewEndpoint(t *testing.T, n *hubNode, group uint64) *hbEndpoint {
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
	a := mustNewHubNode(t, fastFrameTimeout, 200*time.Millisecond)
	b := mustNewHubNode(t, fastFrameTimeout, 0)
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
			a := mustNewHubNode(t, 300*time.Millisecond, time.Millisecond)
			b := mustNewHubNode(t, 300*time.Millisecond, 0)
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
	a := mustNewHubNode(t, fastFrameTimeout, time.Millisecond)
	b := mustNewHubNode(t, fastFrameTimeout, 0)
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
