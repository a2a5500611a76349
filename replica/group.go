package replica

import (
	"errors"
	"fmt"
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
	before := r.raft.ReloadableConfig().SnapshotInterval
	if err := r.elect.Update(fn); err != nil {
		return err
	}
	if r.raft.ReloadableConfig().SnapshotInterval < before {
		r.rearmSnapshots() // raft's timer still runs with the old interval (snaptimer.go)
	}
	return nil
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
	addr, ok := r.memberAddr(id)
	if ok {
		go r.nudgeWhenOpen(addr)
	}
	return ok
}

// memberAddr returns the address this node dials group member id at
// (Config.Addresses first, then the group's configuration), and whether
// id is a member.
func (r *Replica) memberAddr(id string) (string, bool) {
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return "", false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != id {
			continue
		}
		if r.cfg.Addresses != nil {
			if a, err := r.cfg.Addresses.ServerAddr(s.ID); err == nil {
				return string(a), true
			}
		}
		return string(s.Address), true
	}
	return "", false
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

// Snapshot makes raft take a snapshot now (a catalog checkpoint) and
// compact its log behind it, as it does on its own past the snapshot
// threshold.
func (r *Replica) Snapshot() error { return r.raft.Snapshot().Error() }

// LastIndex is the index of the last entry in this replica's raft log:
// appended, not necessarily committed.
func (r *Replica) LastIndex() uint64 { return r.raft.LastIndex() }

// TransferLeadership hands the group's leadership to member id. Read
// leases count on followers voting for nobody while they hear from a
// leader, which a transfer breaks on purpose, so this replica first stops
// serving reads from its lease (until it leads again in a later term).
// The node transfers leadership to balance leaders and to drain a node.
func (r *Replica) TransferLeadership(id string) error {
	addr, ok := r.memberAddr(id)
	if !ok {
		return fmt.Errorf("transfer leadership to %s: %w", id, ErrNotMember)
	}
	r.reads.endLease()
	return r.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error()
}

// Compacting reports whether RocksDB has a flush or compaction of this
// replica's data running or pending.
func (r *Replica) Compacting() bool { return r.store.compacting() }
