package replica

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/raftnet"
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
// raft (server.Node). A leadership transfer is the one case in which
// followers vote despite a known leader (the target campaigns with raft's
// transfer flag): Tandem transfers leadership to balance leaders and to
// drain a node, and TransferLeadership ends the leader's lease before it
// starts, so from then on every read of that term goes through a
// VerifyLeader round; a read that passed the lease check earlier was
// served while no other leader could exist yet.

// readLeaseFraction is the part of the leader lease timeout a lease lasts.
const readLeaseFraction = 0.9

// leaseFrom returns when the read lease of term started for the group of
// r, from the heartbeat acks its transport saw
// (raftnet.HeartbeatTransport.AcceptedSince).
func leaseFrom(r *raft.Raft, self raft.ServerID, ht *raftnet.HeartbeatTransport, term uint64) (time.Time, bool) {
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
	return ht.AcceptedSince(term, followers, voters/2) // a quorum is voters/2+1, the leader included
}
