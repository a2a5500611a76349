package raftnet

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/raftlog"
)

// trackedListener remembers the connections it accepted, so a test can
// close them all as a killed process's kernel would.
type trackedListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// kill closes the listener and every accepted connection.
func (l *trackedListener) kill() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// voter is a peer process's group 1 that grants every pre-vote and
// accepts every entry.
type voter struct {
	ln    *trackedListener
	mux   *Mux
	trans *raft.NetworkTransport
}

func startVoter(t *testing.T, addr string) *voter {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	v := &voter{ln: &trackedListener{Listener: ln}}
	v.mux = NewMux(v.ln, zap.NewNop())
	go v.mux.Serve()
	sl, err := v.mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	v.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: PoolSize, Timeout: time.Second, Logger: raftlog.New(zap.NewNop())})
	go func() {
		for rpc := range v.trans.Consumer() {
			if _, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
				rpc.Respond(&raft.AppendEntriesResponse{Term: 2, Success: true}, nil)
				continue
			}
			rpc.Respond(&raft.RequestPreVoteResponse{Term: 2, Granted: true}, nil)
		}
	}()
	return v
}

func (v *voter) kill() {
	v.ln.kill()
	v.trans.Close()
	v.mux.Close()
}

// A peer whose process was restarted must get a candidate's pre-vote on
// the first try: the connections pooled to its old process are dead, and
// a pre-vote lost to one costs the group a whole election round.
func TestPreVoteSurvivesAPeerRestart(t *testing.T) {
	v := startVoter(t, "127.0.0.1:0")
	addr := v.ln.Addr().String()
	mux := mustNewMux(t)
	sl, err := mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: PoolSize, Timeout: time.Second, Logger: raftlog.New(zap.NewNop())})
	cand := NewVoteTransport(nt)
	defer cand.Close()
	req := &raft.RequestPreVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n1"), Addr: []byte(mux.Addr().String())}, Term: 2}
	// Fill the pool with connections to the first process.
	var wg sync.WaitGroup
	for i := 0; i < PoolSize; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp raft.RequestPreVoteResponse
			if err := cand.RequestPreVote("n2", raft.ServerAddress(addr), req, &resp); err != nil || !resp.Granted {
				t.Errorf("pre-vote before the restart: %+v, %v", resp, err)
			}
		}()
	}
	wg.Wait()
	v.kill()
	v = startVoter(t, addr)
	defer v.kill()
	var resp raft.RequestPreVoteResponse
	if err := cand.RequestPreVote("n2", raft.ServerAddress(addr), req, &resp); err != nil || !resp.Granted {
		t.Fatalf("pre-vote after the peer's restart: %+v, %v (a stale pooled connection counted as a refusal)", resp, err)
	}
}

// gateStub is a voter whose leader is known dead once wait has passed.
type gateStub struct {
	mu     sync.Mutex
	ready  time.Time
	gone   bool
	seen   []uint64
	leader raft.ServerAddress
}

func (g *gateStub) LeaderGone() (raft.ServerAddress, time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leader, time.Until(g.ready), g.gone
}

func (g *gateStub) CandidateSeen(idx uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen = append(g.seen, idx)
}

// receiveVote sends req from a fresh transport to v's group 1 and returns
// the request as v's raft received it.
func receiveVote(t *testing.T, v *VoteTransport, addr string, req any) any {
	t.Helper()
	mux := mustNewMux(t)
	sl, err := mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: PoolSize, Timeout: 5 * time.Second, Logger: raftlog.New(zap.NewNop())})
	defer nt.Close()
	errc := make(chan error, 1)
	go func() {
		switch r := req.(type) {
		case *raft.RequestPreVoteRequest:
			errc <- nt.RequestPreVote("n2", raft.ServerAddress(addr), r, &raft.RequestPreVoteResponse{})
		case *raft.RequestVoteRequest:
			errc <- nt.RequestVote("n2", raft.ServerAddress(addr), r, &raft.RequestVoteResponse{})
		}
	}()
	rpc := <-v.Consumer()
	switch rpc.Command.(type) {
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{}, nil)
	default:
		rpc.Respond(&raft.RequestVoteResponse{}, nil)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return rpc.Command
}

// A vote request reaching a member whose leader's process is known gone
// is answered on its merits once a lease has passed since that member's
// last contact (raft's own rule), not refused for the dead leader; before
// that point it waits, and without a dead leader it passes unchanged.
func TestVoteGateAnswersOnMeritsOnceTheLeasePassed(t *testing.T) {
	mux := mustNewMux(t)
	sl, err := mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVoteTransport(raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: PoolSize, Timeout: 5 * time.Second, Logger: raftlog.New(zap.NewNop())}))
	defer v.Close()
	g := &gateStub{leader: "127.0.0.1:9", gone: true, ready: time.Now().Add(150 * time.Millisecond)}
	v.SetVoteGate(g)
	addr := mux.Addr().String()
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n2"), Addr: []byte("127.0.0.1:7")}

	pre := receiveVote(t, v, addr, &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 5, LastLogIndex: 40}).(*raft.RequestPreVoteRequest)
	if time.Now().Before(g.ready) {
		t.Fatal("a pre-vote was delivered before a lease had passed since the voter's last contact")
	}
	if string(pre.RPCHeader.Addr) != "127.0.0.1:9" {
		t.Fatalf("pre-vote not answered on its merits: sender %q", pre.RPCHeader.Addr)
	}
	vote := receiveVote(t, v, addr, &raft.RequestVoteRequest{RPCHeader: hdr, Term: 5, LastLogIndex: 41}).(*raft.RequestVoteRequest)
	if !vote.LeadershipTransfer || string(vote.RPCHeader.Addr) != "127.0.0.1:7" {
		t.Fatalf("vote not answered on its merits (or its candidate changed): %+v", vote)
	}
	g.mu.Lock()
	if len(g.seen) != 2 || g.seen[0] != 40 || g.seen[1] != 41 {
		t.Errorf("voter told of candidates %v, want [40 41]", g.seen)
	}
	g.gone = false
	g.mu.Unlock()
	plain := receiveVote(t, v, addr, &raft.RequestVoteRequest{RPCHeader: hdr, Term: 6, LastLogIndex: 42}).(*raft.RequestVoteRequest)
	if plain.LeadershipTransfer {
		t.Fatal("a vote request was changed although the voter's leader is alive")
	}
}

// Entries sent to a peer whose process was restarted go through on the
// first try too: raft retries a failed send only at its next trigger or
// commit timeout, so a follower nudged when it comes back would wait.
func TestAppendEntriesSurvivesAPeerRestart(t *testing.T) {
	v := startVoter(t, "127.0.0.1:0")
	addr := v.ln.Addr().String()
	mux := mustNewMux(t)
	sl, err := mux.StreamLayer(1)
	if err != nil {
		t.Fatal(err)
	}
	leader := NewVoteTransport(raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: PoolSize, Timeout: time.Second, Logger: raftlog.New(zap.NewNop())}))
	defer leader.Close()
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n1"), Addr: []byte(mux.Addr().String())},
		Term: 2, PrevLogEntry: 1, PrevLogTerm: 1, Entries: []*raft.Log{{Index: 2, Term: 2, Type: raft.LogCommand, Data: []byte("x")}}}
	send := func() error {
		return leader.AppendEntries("n2", raft.ServerAddress(addr), req, &raft.AppendEntriesResponse{})
	}
	var wg sync.WaitGroup
	for i := 0; i < PoolSize; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(); err != nil {
				t.Errorf("entries before the restart: %v", err)
			}
		}()
	}
	wg.Wait()
	v.kill()
	v = startVoter(t, addr)
	defer v.kill()
	if err := send(); err != nil {
		t.Fatalf("entries after the peer's restart: %v (a stale pooled connection failed the send)", err)
	}
}
