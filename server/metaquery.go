package server

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// The meta group's facade: what the rest of the node asks of the
// metadata and of the group, so no caller reaches into the FSM's state or
// the raft instance. Answers are copies from this node's state; changes go
// through apply on the leader.

// table returns a table by name.
func (m *metaGroup) table(name string) (*TableMeta, bool) {
	var t *TableMeta
	m.fsm.view(func(s *MetaState) {
		if tm, ok := s.Tables[name]; ok {
			c := *tm
			t = &c
		}
	})
	return t, t != nil
}

// tables lists the tables by name.
func (m *metaGroup) tables() []*TableMeta {
	var out []*TableMeta
	m.fsm.view(func(s *MetaState) {
		for _, t := range s.sortedTables() {
			c := *t
			out = append(out, &c)
		}
	})
	return out
}

// followerTables lists the tables that are duplications' followers.
func (m *metaGroup) followerTables() []*TableMeta {
	var out []*TableMeta
	m.fsm.view(func(s *MetaState) {
		for _, t := range s.sortedTables() {
			if t.Follower != nil {
				c, f := *t, *t.Follower
				f.SourceAddrs = slices.Clone(f.SourceAddrs)
				c.Follower = &f
				out = append(out, &c)
			}
		}
	})
	return out
}

// replicaLoad counts the replicas each node hosts.
func (m *metaGroup) replicaLoad() map[string]int {
	load := map[string]int{}
	m.fsm.view(func(s *MetaState) {
		for _, t := range s.Tables {
			for _, nodes := range t.Placement {
				for _, id := range nodes {
					load[id]++
				}
			}
		}
	})
	return load
}

// configOverrides returns the runtime settings set with `config set`.
func (m *metaGroup) configOverrides() map[string]string {
	out := map[string]string{}
	m.fsm.view(func(s *MetaState) {
		for k, v := range s.Config {
			out[k] = v
		}
	})
	return out
}

// dup returns a duplication of this cluster's tables.
func (m *metaGroup) dup(id string) (*DupMeta, bool) {
	var d *DupMeta
	m.fsm.view(func(s *MetaState) {
		if x, ok := s.Dups[id]; ok {
			c := *x
			d = &c
		}
	})
	return d, d != nil
}

// dups lists the duplications of table ("" for every table) by id.
func (m *metaGroup) dups(table string) []*DupMeta {
	var out []*DupMeta
	m.fsm.view(func(s *MetaState) {
		for _, d := range s.Dups {
			if table == "" || d.Table == table {
				c := *d
				out = append(out, &c)
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// removedDup reports whether duplication id was removed, and the remote
// address it had when the metadata still knows it.
func (m *metaGroup) removedDup(id string) (remote string, removed bool) {
	m.fsm.view(func(s *MetaState) {
		_, removed = s.RemovedDups[id]
		remote = s.RemovedDupRemotes[id]
	})
	return remote, removed
}

// removedDups lists the ids of removed duplications.
func (m *metaGroup) removedDups() []string {
	var out []string
	m.fsm.view(func(s *MetaState) {
		for id := range s.RemovedDups {
			out = append(out, id)
		}
	})
	sort.Strings(out)
	return out
}

// state returns a copy of the whole metadata, for callers that need one
// consistent view of several parts.
func (m *metaGroup) state() *MetaState { return m.fsm.snapshotState() }

// changes is signalled (without blocking) after every change of the
// metadata; it has one reader (the reconcile loop).
func (m *metaGroup) changes() <-chan struct{} { return m.fsm.onChange }

// watch calls fn, which must not block, after every change of the
// metadata.
func (m *metaGroup) watch(fn func()) { m.fsm.watch(fn) }

// caughtUp reports whether this node has applied every meta command it
// knows is committed (its FSM included; see fsmCaughtUp).
func (m *metaGroup) caughtUp() bool {
	applied := m.raft.AppliedIndex()
	return applied >= m.raft.CommitIndex() && m.fsmCaughtUp(applied)
}

// barrier returns once this node, leading the group, has applied every
// entry before now.
func (m *metaGroup) barrier(timeout time.Duration) error { return m.raft.Barrier(timeout).Error() }

// isFollower reports whether this node follows the meta group's leader
// (neither leads nor runs an election).
func (m *metaGroup) isFollower() bool { return m.raft.State() == raft.Follower }

// waitCommitted blocks until this node's metadata includes everything it
// knows is committed.
func (m *metaGroup) waitCommitted(ctx context.Context) error {
	return m.waitApplied(ctx, m.raft.CommitIndex())
}

// expedite shortens the wait for a new meta leader once node gone, which
// led the group, is seen down (replica.Elections.Expedite); it reports
// whether it did.
func (m *metaGroup) expedite(gone string) bool {
	if lid, _ := m.leader(); lid != gone || !m.isFollower() {
		return false
	}
	return m.elect.Expedite(gone) == nil
}
