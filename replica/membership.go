package replica

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Membership changes of the group, for replica moves: a new member joins
// as a non-voter, catches up (by snapshot: the checkpoint stream), is
// promoted, and the member it replaces is removed. Each call is made on
// the leader and is idempotent, so a move resumes after a leader change.

// membershipTimeout bounds one configuration change.
const membershipTimeout = 10 * time.Second

// Member is one server of the group's raft configuration.
type Member struct {
	ID    string
	Voter bool
}

// Members returns the group's latest raft configuration.
func (r *Replica) Members() ([]Member, error) {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Member
	for _, s := range f.Configuration().Servers {
		out = append(out, Member{ID: string(s.ID), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// AddNonvoter adds node id, dialled at addr, as a non-voter: raft sends it
// the log, or a snapshot when the log it needs is compacted. A member
// already in the group is left as it is.
func (r *Replica) AddNonvoter(id, addr string) error {
	if _, ok := r.member(id); ok {
		return nil
	}
	return r.changeMembers("add non-voter "+id, r.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout))
}

// Promote makes member id a voter.
func (r *Replica) Promote(id, addr string) error {
	if m, ok := r.member(id); ok && m.Voter {
		return nil
	}
	return r.changeMembers("promote "+id, r.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout))
}

// RemoveMember removes member id from the group. The leader cannot
// remove itself this way: transfer leadership first.
func (r *Replica) RemoveMember(id string) error {
	if _, ok := r.member(id); !ok {
		return nil
	}
	if id == r.cfg.NodeID {
		return fmt.Errorf("remove %s: %w: transfer leadership first", id, ErrNotLeader)
	}
	return r.changeMembers("remove "+id, r.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout))
}

// LastContact is when this replica last heard from its leader (zero on
// the leader).
func (r *Replica) LastContact() time.Time { return r.raft.LastContact() }

func (r *Replica) member(id string) (Member, bool) {
	ms, err := r.Members()
	if err != nil {
		return Member{}, false
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

func (r *Replica) changeMembers(what string, f raft.IndexFuture) error {
	if err := f.Error(); err != nil {
		if err == raft.ErrNotLeader || err == raft.ErrLeadershipLost {
			return fmt.Errorf("%s: %w: %v", what, ErrNotLeader, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	r.lg.Info("group membership changed: " + what)
	return nil
}
