package replica

import (
	"strconv"
	"time"

	"go.uber.org/zap"
)

// hashicorp/raft arms its snapshot timer with the SnapshotInterval in force
// when the previous timer fired (runSnapshots), so an interval lowered at
// run time (checkpoint.interval) took effect only once the old one had
// passed: up to twice the old interval (20 minutes from the 10-minute
// default) without a raft snapshot, hence without log compaction, so a
// duplication floor held the log far past dup.log_retain_bytes. A user
// snapshot makes runSnapshots loop and arm its timer anew with the current
// interval; rearmSnapshots takes that snapshot when raft's timer, armed
// with the new interval, would have taken one.

// rearmSnapshots takes, every current SnapshotInterval, the snapshot raft's
// timer would take (SnapshotThreshold entries since the last one), once:
// after it raft's own timer runs with the current interval. A later call
// supersedes an earlier one that has not snapshotted yet.
func (r *Replica) rearmSnapshots() {
	r.snapMu.Lock()
	r.snapGen++
	gen := r.snapGen
	r.snapMu.Unlock()
	go func() {
		for {
			select {
			case <-r.done:
				return
			case <-time.After(r.raft.ReloadableConfig().SnapshotInterval):
			}
			r.snapMu.Lock()
			superseded := gen != r.snapGen
			r.snapMu.Unlock()
			if superseded {
				return
			}
			if !r.snapshotDue() {
				continue
			}
			if err := r.raft.Snapshot().Error(); err != nil {
				r.lg.Debug("snapshot after a lowered snapshot interval", zap.Error(err))
			}
			return
		}
	}()
}

// snapshotDue reports whether raft's snapshot timer would snapshot now:
// SnapshotThreshold entries or more since the last snapshot.
func (r *Replica) snapshotDue() bool {
	last, err := strconv.ParseUint(r.raft.Stats()["last_snapshot_index"], 10, 64)
	if err != nil {
		return false
	}
	return r.raft.LastIndex()-last >= r.raft.ReloadableConfig().SnapshotThreshold
}
