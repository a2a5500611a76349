package replica

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

const (
	// campaignWindow bounds how long a designated member keeps trying to
	// start its group's first election; past it raft's timeouts decide.
	campaignWindow = 30 * time.Second
	// probeTimeout bounds one look at whether a peer has the group open.
	probeTimeout = 500 * time.Millisecond
)

// Campaigner starts a raft group's election as soon as a majority of its
// voters have the group open, so a new group (or one whose nodes all
// restarted) gets a leader in milliseconds rather than after a
// failure-detection timeout. A node runs it for one designated member of
// each group, so members do not split their votes. Campaigning before a
// majority is open would fail and cost more: raft waits a whole election
// timeout after a pre-vote nobody answered.
type Campaigner struct {
	Raft      *raft.Raft
	Elections *Elections
	Mux       *Mux
	Group     uint64
	NodeID    string
	// Addresses resolves voters' ids to dial addresses (nil: raft's).
	Addresses raft.ServerAddressProvider
	Logger    *zap.Logger
}

// Run campaigns until a leader is known, done closes or campaignWindow
// passes.
func (c Campaigner) Run(done <-chan struct{}) {
	deadline := time.Now().Add(campaignWindow)
	wait := time.Duration(0)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return
		case <-time.After(wait):
		}
		if _, id := c.Raft.LeaderWithID(); id != "" {
			return
		}
		wait = 10 * time.Millisecond
		if c.Raft.State() != raft.Follower || !c.majorityOpen() {
			continue
		}
		if err := c.Elections.Campaign(); err != nil {
			c.Logger.Warn("campaign", zap.Error(err))
			return
		}
		c.Logger.Debug("campaigning: a majority of the group is open", zap.Uint64("group", c.Group))
		wait = 200 * time.Millisecond
	}
}

// majorityOpen reports whether a majority of the group's voters (this one
// included) have the group open.
func (c Campaigner) majorityOpen() bool {
	f := c.Raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters, open := 0, 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(s.ID) == c.NodeID {
			open++
			continue
		}
		addr := s.Address
		if c.Addresses != nil {
			if a, err := c.Addresses.ServerAddr(s.ID); err == nil {
				addr = a
			}
		}
		if c.Mux.ProbeGroup(string(addr), c.Group, probeTimeout) == nil {
			open++
		}
	}
	return open > voters/2
}

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
	deadline := time.Now().Add(campaignWindow)
	for time.Now().Before(deadline) && r.raft.State() == raft.Leader {
		if r.cfg.Mux.ProbeGroup(addr, r.cfg.Group, probeTimeout) == nil {
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
