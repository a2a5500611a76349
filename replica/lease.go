package replica

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Read leases. A follower that accepts a heartbeat of term T at time c
// refuses votes and pre-votes for anyone else until c + its heartbeat
// timeout (hashicorp/raft rejects them while it knows a leader, and forgets
// the leader only after a heartbeat timeout without contact), and the
// leader itself steps down no sooner than a leader lease timeout after the
// quorum contact it last had. So once a quorum (the leader and enough
// followers) has accepted heartbeats sent at or after s, no other leader can
// be elected before s + the leader lease timeout, which is shorter than the
// heartbeat timeout: until then the leader may serve reads from its own
// state without a VerifyLeader round. Leases use 0.9 of that, for clock
// rate drift, and count from when a heartbeat was handed to the transport,
// before it left. A restarted follower knows no leader and would vote at
// once, so a node with raft state waits a lease timeout before it starts
// raft (server.Node). Tandem never transfers leadership, the one case in
// which followers vote despite a known leader.

// readLeaseFraction is the part of the leader lease timeout a lease lasts.
const readLeaseFraction = 0.9

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

// leaseFrom returns when the read lease of term started for the group of
// r (see heartbeatAcks.since), from its transport's heartbeat acks.
func leaseFrom(r *raft.Raft, self raft.ServerID, acks *heartbeatAcks, term uint64) (time.Time, bool) {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return time.Time{}, false
	}
	var followers []raft.ServerID
	voters, selfVotes := 0, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == self {
			selfVotes = true
		} else {
			followers = append(followers, s.ID)
		}
	}
	if !selfVotes {
		return time.Time{}, false
	}
	return acks.since(term, followers, voters/2) // a quorum is voters/2+1, the leader included
}
