package raftnet

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// HeartbeatTransport is a group's raft transport: its NetworkTransport (as
// a VoteTransport) for everything but heartbeats, which go through the node's HeartbeatHub.
// Embedding forwards every optional interface the NetworkTransport has
// (raft.WithClose, raft.WithPreVote): raft checks for them by type
// assertion, and a wrapper without them would silently turn off pre-vote.
type HeartbeatTransport struct {
	*VoteTransport
	hub   *HeartbeatHub
	group uint64
	addrs raft.ServerAddressProvider

	handler       atomic.Pointer[func(raft.RPC)]
	expediteUntil atomic.Int64
	closeOnce     sync.Once
	// acks are the heartbeats followers accepted, for read leases.
	acks heartbeatAcks
}

var (
	_ raft.Transport   = (*HeartbeatTransport)(nil)
	_ raft.WithClose   = (*HeartbeatTransport)(nil)
	_ raft.WithPreVote = (*HeartbeatTransport)(nil)
)

// isHeartbeat tells a heartbeat from other AppendEntries exactly as
// hashicorp's NetworkTransport does on receipt, so every request it would
// hand its heartbeat fast path goes through the hub and nothing else does.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	leader := req.RPCHeader.Addr
	if len(leader) == 0 {
		leader = req.Leader
	}
	return req.Term != 0 && leader != nil && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

// AppendEntries sends heartbeats through the hub and everything else over
// the group's own connections.
func (t *HeartbeatTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if !isHeartbeat(req) {
		return t.VoteTransport.AppendEntries(id, target, req, resp)
	}
	sent := time.Now()
	err := t.heartbeat(id, target, req, resp, sent)
	if err == nil && resp.Success && resp.Term == req.Term {
		t.acks.record(id, req.Term, sent)
	}
	return err
}

// heartbeat sends one heartbeat through the hub when it can.
func (t *HeartbeatTransport) heartbeat(id raft.ServerID, target raft.ServerAddress, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, now time.Time) error {
	if !fitsFrame(req) {
		return t.VoteTransport.AppendEntries(id, target, req, resp)
	}
	addr := target
	if t.addrs != nil {
		if a, err := t.addrs.ServerAddr(id); err == nil {
			addr = a
		}
	}
	urgent := now.UnixNano() < t.expediteUntil.Load()
	err := t.hub.heartbeat(string(addr), t.group, req, resp, urgent)
	if errors.Is(err, ErrUnknownGroup) {
		// The destination runs no hub (an older node): heartbeat the
		// plain way.
		return t.VoteTransport.AppendEntries(id, target, req, resp)
	}
	return err
}

// fitsFrame reports whether a heartbeat's fields fit the frame format.
func fitsFrame(req *raft.AppendEntriesRequest) bool {
	return len(req.RPCHeader.ID) <= maxHeartbeatField && len(req.RPCHeader.Addr) <= maxHeartbeatField &&
		len(req.Leader) <= maxHeartbeatField && req.ProtocolVersion >= 0
}

// SetHeartbeatHandler keeps raft's heartbeat fast path for the hub and
// passes it on, so heartbeats that still come the plain way are served too.
func (t *HeartbeatTransport) SetHeartbeatHandler(cb func(raft.RPC)) {
	if cb == nil {
		t.handler.Store(nil)
	} else {
		t.handler.Store(&cb)
	}
	t.NetworkTransport.SetHeartbeatHandler(cb)
}

// Close leaves the hub and closes the NetworkTransport; it is idempotent.
func (t *HeartbeatTransport) Close() error {
	t.closeOnce.Do(func() { t.hub.unregister(t) })
	return t.VoteTransport.Close()
}
