package raftnet

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// PoolSize is how many idle connections a group's NetworkTransport keeps
// per peer (raft.NetworkTransportConfig.MaxPool).
const PoolSize = 3

// VoteTransport is a group's NetworkTransport with two fixes to elections
// after a peer's process dies, each of which otherwise costs the group a
// whole second election round (0.9-1.8 s at the defaults: the tail of the
// failover figure in BenchmarkDefaults):
//
//   - Stale pooled connections. When a peer's process is restarted, every
//     connection pooled to its old process is dead, and the first RPC on
//     one fails with EOF. raft retries AppendEntries soon on its own, but
//     a vote or pre-vote lost this way counts as refused. A failed attempt
//     releases its connection, so at most PoolSize retries reach a fresh
//     one. Vote requests are safe to resend: a voter answers the same
//     candidate in the same term the same way, and a stale connection
//     never reached the new process.
//   - A voter that still names a dead leader. raft refuses every vote while
//     it knows a leader, and forgets the leader only when its own timer
//     fires, so the first survivor to campaign is refused by the other and
//     if the other's log is behind, its own campaign is refused too. With
//     a VoteGate (Elections.LeaderGone), a vote request that arrives while
//     this member's leader is known dead (its port refuses connections) is
//     held until a lease has passed since this member's last contact, the
//     point where raft's own rule lets it vote, and then answered on its
//     merits (the log), not refused for that leader. The lease a live
//     leader may hold is respected exactly as raft's heartbeat timeout
//     does. A candidate whose log is behind cannot win, so the voter then
//     campaigns at once (Elections.CandidateSeen).
type VoteTransport struct {
	*raft.NetworkTransport

	gate     atomic.Pointer[VoteGate]
	start    sync.Once
	consumer chan raft.RPC
	done     chan struct{}
	stop     sync.Once
}

// VoteGate is what a VoteTransport asks of the voter's elections
// (replica.Elections).
type VoteGate interface {
	// LeaderGone is ok when the leader the voter still follows is known
	// dead, with that leader's address and how long until a lease has
	// passed since the voter's last contact with it (zero or less: passed).
	LeaderGone() (leader raft.ServerAddress, wait time.Duration, ok bool)
	// CandidateSeen is told of a vote request about to be answered on its
	// merits, with the candidate's last log index.
	CandidateSeen(lastIndex uint64)
}

var (
	_ raft.Transport   = (*VoteTransport)(nil)
	_ raft.WithClose   = (*VoteTransport)(nil)
	_ raft.WithPreVote = (*VoteTransport)(nil)
)

// NewVoteTransport wraps nt.
func NewVoteTransport(nt *raft.NetworkTransport) *VoteTransport {
	return &VoteTransport{NetworkTransport: nt, consumer: make(chan raft.RPC), done: make(chan struct{})}
}

// SetVoteGate installs g; nil removes it.
func (t *VoteTransport) SetVoteGate(g VoteGate) {
	if g == nil {
		t.gate.Store(nil)
		return
	}
	t.gate.Store(&g)
}

// RequestVote sends a vote request, again on another connection when a
// pooled one was stale.
func (t *VoteTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return retryStale(func() error { return t.NetworkTransport.RequestVote(id, target, args, resp) })
}

// RequestPreVote sends a pre-vote request, again on another connection
// when a pooled one was stale.
func (t *VoteTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return retryStale(func() error { return t.NetworkTransport.RequestPreVote(id, target, args, resp) })
}

// AppendEntries sends entries, again on another connection when a pooled
// one was stale. raft would retry a failed one only at its next trigger or
// after its commit timeout, so the first entries a restarted follower is
// sent (a nudge when it comes back) would wait that long; entries are
// safe to resend (a follower applies an index once).
func (t *VoteTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return retryStale(func() error { return t.NetworkTransport.AppendEntries(id, target, args, resp) })
}

// TimeoutNow asks a peer to campaign (leadership transfer), again on
// another connection when a pooled one was stale.
func (t *VoteTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return retryStale(func() error { return t.NetworkTransport.TimeoutNow(id, target, args, resp) })
}

// Consumer is the channel raft reads incoming RPCs from: the
// NetworkTransport's, with vote requests passed through the gate.
func (t *VoteTransport) Consumer() <-chan raft.RPC {
	t.start.Do(func() { go t.forward() })
	return t.consumer
}

// Close stops the forwarding and closes the NetworkTransport; it is
// idempotent.
func (t *VoteTransport) Close() error {
	t.stop.Do(func() { close(t.done) })
	return t.NetworkTransport.Close()
}

func (t *VoteTransport) forward() {
	in := t.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if !t.hold(rpc) {
				t.deliver(rpc)
			}
		case <-t.done:
			return
		}
	}
}

func (t *VoteTransport) deliver(rpc raft.RPC) {
	select {
	case t.consumer <- rpc:
	case <-t.done:
	}
}

// hold passes a vote request through the gate: answered on its merits
// now, or held (in its own goroutine; it reports true) until the voter
// may forget its dead leader.
func (t *VoteTransport) hold(rpc raft.RPC) bool {
	g := t.gate.Load()
	if g == nil || !isVote(rpc.Command) {
		return false
	}
	leader, wait, ok := (*g).LeaderGone()
	if !ok {
		return false
	}
	if wait <= 0 {
		forgetLeader(*g, rpc.Command, leader)
		return false
	}
	go func() {
		timer := time.NewTimer(wait + time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-t.done:
			return
		}
		if leader, wait, ok := (*g).LeaderGone(); ok && wait <= 0 {
			forgetLeader(*g, rpc.Command, leader)
		}
		t.deliver(rpc)
	}()
	return true
}

func isVote(cmd any) bool {
	switch cmd.(type) {
	case *raft.RequestVoteRequest, *raft.RequestPreVoteRequest:
		return true
	}
	return false
}

// forgetLeader makes raft answer a vote request as it would once its own
// timer had dropped the dead leader: a vote request gets the flag raft
// uses for leadership transfers (it only skips the known-leader check); a
// pre-vote, which has no such flag and changes no state, names the dead
// leader as its sender for that check only. g learns of the candidate
// first.
func forgetLeader(g VoteGate, cmd any, leader raft.ServerAddress) {
	switch req := cmd.(type) {
	case *raft.RequestVoteRequest:
		g.CandidateSeen(req.LastLogIndex)
		req.LeadershipTransfer = true
	case *raft.RequestPreVoteRequest:
		g.CandidateSeen(req.LastLogIndex)
		req.RPCHeader.Addr = []byte(leader)
	}
}

// retryStale calls call until it does not fail on a stale connection, at
// most PoolSize+1 times.
func retryStale(call func() error) error {
	err := call()
	for i := 0; i < PoolSize && staleConn(err); i++ {
		err = call()
	}
	return err
}

// staleConn reports whether err is what a pooled connection to a process
// that is gone answers: end of stream, reset or broken pipe. A refused
// dial (the peer is down now) is not stale and is not retried.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
