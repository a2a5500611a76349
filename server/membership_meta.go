package server

import (
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// The meta group's membership: every registered node that is not removed
// is a member, the first cluster.meta_voters alive ones (by id, the
// current voters first) vote. The meta leader converges the raft
// configuration to that, one change at a time, in the membership loop.

// metaConfigTimeout bounds one change of the meta group's configuration.
const metaConfigTimeout = 10 * time.Second

// metaServers returns the meta group's raft configuration.
func (m *metaGroup) metaServers() ([]raft.Server, error) {
	f := m.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}

// addNonvoter adds node id to the meta group as a non-voter unless it is a
// member already; it runs on the leader.
func (m *metaGroup) addNonvoter(id, addr string) error {
	servers, err := m.metaServers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == id {
			return nil
		}
	}
	if err := m.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, metaConfigTimeout).Error(); err != nil {
		return fmt.Errorf("%w: add %s to the meta group: %v", ErrNoMetaLeader, id, err)
	}
	return nil
}

// metaPlan is the next change the meta group's configuration needs.
type metaPlan struct {
	add, promote, demote, remove string
}

// planMetaVoters decides the next change of the meta group's membership:
// add a missing member, promote a caught-up alive non-voter while alive
// voters are fewer than want, demote a dead, draining or surplus voter
// once enough alive ones vote, drop removed nodes. Promotion comes before demotion, so
// the count of alive voters never falls. caughtUp says whether a node's
// meta log is close enough to the leader's to vote.
func planMetaVoters(servers []raft.Server, nodes map[string]string, leader string, want int, caughtUp func(string) bool) metaPlan {
	voters, members := map[string]bool{}, map[string]bool{}
	for _, s := range servers {
		members[string(s.ID)] = true
		voters[string(s.ID)] = s.Suffrage == raft.Voter
	}
	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if nodes[id] != nodeRemoved && !members[id] {
			return metaPlan{add: id}
		}
	}
	aliveVoters := 0
	for id, v := range voters {
		if v && (nodes[id] == nodeAlive || id == leader && nodes[id] == "") {
			aliveVoters++
		}
	}
	if aliveVoters < want {
		for _, id := range ids {
			if members[id] && !voters[id] && nodes[id] == nodeAlive && caughtUp(id) {
				return metaPlan{promote: id}
			}
		}
	}
	var surplus string
	for _, s := range servers {
		id := string(s.ID)
		st, registered := nodes[id]
		if id == leader || !registered {
			continue // the leader is never reconfigured away; unknown ids are left alone
		}
		switch {
		case st == nodeRemoved && voters[id]:
			return metaPlan{demote: id}
		case st == nodeRemoved:
			return metaPlan{remove: id}
		case voters[id] && (st == nodeDead || st == nodeDraining) && aliveVoters >= want:
			return metaPlan{demote: id}
		case voters[id] && st == nodeAlive:
			surplus = id
		}
	}
	if aliveVoters > want && surplus != "" {
		return metaPlan{demote: surplus}
	}
	return metaPlan{}
}

// applyMetaPlan carries out one change on the leader.
func (m *metaGroup) applyMetaPlan(p metaPlan, addr func(string) string) error {
	var f raft.IndexFuture
	switch {
	case p.add != "":
		f = m.raft.AddNonvoter(raft.ServerID(p.add), raft.ServerAddress(addr(p.add)), 0, metaConfigTimeout)
	case p.promote != "":
		f = m.raft.AddVoter(raft.ServerID(p.promote), raft.ServerAddress(addr(p.promote)), 0, metaConfigTimeout)
	case p.demote != "":
		f = m.raft.DemoteVoter(raft.ServerID(p.demote), 0, metaConfigTimeout)
	case p.remove != "":
		f = m.raft.RemoveServer(raft.ServerID(p.remove), 0, metaConfigTimeout)
	default:
		return nil
	}
	if err := f.Error(); err != nil {
		return err
	}
	m.lg.Info("meta group membership changed", zap.String("added", p.add), zap.String("promoted", p.promote),
		zap.String("demoted", p.demote), zap.String("removed", p.remove))
	return nil
}
