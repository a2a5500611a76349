package raftnet

import (
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

const (
	// campaignWindow bounds how long a designated member keeps trying to
	// start its group's first election; past it raft's timeouts decide.
	campaignWindow = 30 * time.Second
	// ProbeTimeout bounds one look at whether a peer has a group open.
	ProbeTimeout = 500 * time.Millisecond
)

// ProbeGroup reports whether the node at addr has raft group open: nil
// when it has, ErrUnknownGroup when it has not (yet), another error when
// the node cannot be reached.
func (m *Mux) ProbeGroup(addr string, group uint64, timeout time.Duration) error {
	conn, err := dialRaft(addr, group|probeBit, group, timeout, m.dialTLS)
	if err != nil {
		return err
	}
	return conn.Close()
}

// Campaigner starts a raft group's election as soon as a majority of its
// voters have the group open, so a new group (or one whose nodes all
// restarted) gets a leader in milliseconds rather than after a
// failure-detection timeout. A node runs it for one designated member of
// each group, so members do not split their votes. Campaigning before a
// majority is open would fail and cost more: raft waits a whole election
// timeout after a pre-vote nobody answered.
type Campaigner struct {
	Raft *raft.Raft
	// Elect starts an election now if this member has heard from no
	// leader for a heartbeat timeout, and changes nothing otherwise
	// (replica.Elections.Campaign).
	Elect  func() error
	Mux    *Mux
	Group  uint64
	NodeID string
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
		if err := c.Elect(); err != nil {
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
		if c.Mux.ProbeGroup(string(addr), c.Group, ProbeTimeout) == nil {
			open++
		}
	}
	return open > voters/2
}
