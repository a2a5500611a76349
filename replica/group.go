package replica

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/raftnet"
)

// What the node does to a replica's raft group besides reads and writes:
// runtime settings, elections after a peer's death, a nudge for a follower
// that came back.

// nudgeWindow bounds how long a leader waits for a returning follower's
// node to have the group open.
const nudgeWindow = 30 * time.Second

// ExpediteIfLeader lowers the replica's election timeouts (Elections.
// Expedite) when it follows node id, whose node is known to be dead; it
// reports whether it did.
func (r *Replica) ExpediteIfLeader(id string) bool {
	if r.raft.State() != raft.Follower {
		return false
	}
	if leader, _ := r.Leader(); leader != id {
		return false
	}
	if err := r.elect.Expedite(id); err != nil {
		r.lg.Warn("expedite election", zap.Error(err))
		return false
	}
	r.lg.Info("leader's node is down: electing after the lease timeout", zap.String("leader", id))
	return true
}

// UpdateRaft changes the group's reloadable raft settings (runtime config).
func (r *Replica) UpdateRaft(fn func(*raft.ReloadableConfig)) error {
	if r.elect == nil {
		return errors.New("replica: not started")
	}
	return r.elect.Update(fn)
}

// RaftSettings returns the group's reloadable raft settings in force.
func (r *Replica) RaftSettings() raft.ReloadableConfig { return r.raft.ReloadableConfig() }

// NudgeFollower makes a leader send its log to follower id as soon as
// id's node has the group open again (a barrier entry wakes raft's
// replication), for a follower whose node just came back: idle, raft would
// tell it only at the next commit refresh, seconds away, and earlier the
// group is not open yet. It reports whether this replica leads a group id
// is a member of.
func (r *Replica) NudgeFollower(id string) bool {
	if r.raft.State() != raft.Leader {
		return false
	}
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != id {
			continue
		}
		addr := s.Address
		if r.cfg.Addresses != nil {
			if a, err := r.cfg.Addresses.ServerAddr(s.ID); err == nil {
				addr = a
			}
		}
		go r.nudgeWhenOpen(string(addr))
		return true
	}
	return false
}

func (r *Replica) nudgeWhenOpen(addr string) {
	deadline := time.Now().Add(nudgeWindow)
	for time.Now().Before(deadline) && r.raft.State() == raft.Leader {
		if r.cfg.Mux.ProbeGroup(addr, r.cfg.Group, raftnet.ProbeTimeout) == nil {
			_ = r.raft.Barrier(10 * time.Second).Error()
			return
		}
		select {
		case <-r.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
