package logdb

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// RetentionCap bounds the raft log a duplication floor may hold back: past
// either bound, compaction proceeds and a remote that still needed the
// entries re-bootstraps from a new base.
type RetentionCap struct {
	MaxBytes uint64
	MaxAge   time.Duration
}

// DefaultRetentionCap keeps at most 1 GiB or a day of log per partition for
// lagging duplications.
func DefaultRetentionCap() RetentionCap {
	return RetentionCap{MaxBytes: 1 << 30, MaxAge: 24 * time.Hour}
}

// retention holds back raft's log compaction below the lowest confirmed
// decree of any duplication of the partition. raft tolerates a log that
// starts earlier than it asked; the entries raft wanted gone are deleted
// once the floor passes them, or once the cap is exceeded.
type retention struct {
	// floor returns the lowest decree still needed (confirmed+1) and
	// whether any duplication holds one.
	floor func() (uint64, bool)
	now   func() time.Time

	mu         sync.Mutex
	cap        RetentionCap
	pendingMax uint64 // the highest index raft asked to delete
	overridden uint64 // compactions that ignored the floor (cap exceeded)
}

// SetRetentionFloor makes compaction stop below floor's decree (the lowest
// one still needed, and whether any is), until the cap is exceeded. The
// replica sets it once, before raft starts.
func (g *GroupLog) SetRetentionFloor(floor func() (uint64, bool)) { g.ret.floor = floor }

// SetRetentionCap changes the cap at run time.
func (g *GroupLog) SetRetentionCap(c RetentionCap) {
	g.ret.mu.Lock()
	g.ret.cap = c
	g.ret.mu.Unlock()
	g.CompactPending()
}

// compactLimit returns how far a prefix compaction up to max may go.
func (g *GroupLog) compactLimit(max uint64) uint64 {
	if g.ret.floor == nil {
		return max
	}
	f, ok := g.ret.floor()
	if !ok || f == 0 || f-1 >= max {
		return max
	}
	if g.capExceeded(f) {
		g.ret.mu.Lock()
		g.ret.overridden++
		g.ret.mu.Unlock()
		return max
	}
	return f - 1
}

// capExceeded reports whether keeping the log from index keep on would
// break the retention cap.
func (g *GroupLog) capExceeded(keep uint64) bool {
	g.ret.mu.Lock()
	c := g.ret.cap
	g.ret.mu.Unlock()
	if c.MaxBytes > 0 {
		first, _ := g.FirstIndex()
		kept := g.RetainedBytes() - uint64(g.sumBytes(logKey(g.group, first), logKey(g.group, keep)))
		if kept > c.MaxBytes {
			return true
		}
	}
	var l raft.Log
	if c.MaxAge > 0 && g.GetLog(keep, &l) == nil && !l.AppendedAt.IsZero() && g.ret.now().Sub(l.AppendedAt) > c.MaxAge {
		return true
	}
	return false
}

// CompactPending deletes what raft asked to delete and the floor now allows.
func (g *GroupLog) CompactPending() {
	g.ret.mu.Lock()
	pending := g.ret.pendingMax
	g.ret.mu.Unlock()
	first, _ := g.FirstIndex()
	if pending == 0 || first == 0 || pending < first {
		return
	}
	if limit := g.compactLimit(pending); limit >= first {
		_ = g.deleteRange(first, limit)
	}
}

// RetainedBytes is the size of the group's stored log entries.
func (g *GroupLog) RetainedBytes() uint64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.bytes < 0 {
		return 0
	}
	return uint64(g.bytes)
}
