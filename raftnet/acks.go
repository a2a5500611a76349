package raftnet

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Read leases (replica/lease.go) start when a quorum has accepted
// heartbeats sent at or after some time. The transport is where both ends
// of a heartbeat are seen, so it keeps the acks.

// heartbeatAcks keeps, per follower, when the newest heartbeat it accepted
// in the current term was sent.
type heartbeatAcks struct {
	mu   sync.Mutex
	term uint64
	sent map[raft.ServerID]time.Time
}

// record notes that follower id accepted a heartbeat of term sent at sent.
func (a *heartbeatAcks) record(id raft.ServerID, term uint64, sent time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case term < a.term:
		return
	case term > a.term || a.sent == nil:
		a.term, a.sent = term, make(map[raft.ServerID]time.Time)
	}
	if sent.After(a.sent[id]) {
		a.sent[id] = sent
	}
}

// since returns the latest time s such that need of the followers ids
// accepted heartbeats of term sent at s or later; ok is false when fewer
// have. need 0 (a group of one voter) needs nobody: it is now.
func (a *heartbeatAcks) since(term uint64, ids []raft.ServerID, need int) (s time.Time, ok bool) {
	if need <= 0 {
		return time.Now(), true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.term != term {
		return time.Time{}, false
	}
	times := make([]time.Time, 0, len(ids))
	for _, id := range ids {
		if t, ok := a.sent[id]; ok {
			times = append(times, t)
		}
	}
	if len(times) < need {
		return time.Time{}, false
	}
	slices.SortFunc(times, func(x, y time.Time) int { return y.Compare(x) })
	return times[need-1], true
}

// AcceptedSince returns the latest time s such that need of the followers
// ids accepted heartbeats of term sent through this transport at s or
// later; ok is false when fewer have. need 0 (a group of one voter) needs
// nobody: it is now.
func (t *HeartbeatTransport) AcceptedSince(term uint64, ids []raft.ServerID, need int) (s time.Time, ok bool) {
	return t.acks.since(term, ids, need)
}
