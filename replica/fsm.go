package replica

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/rocksdb"
)

// applier applies committed raft entries to the replica's RocksDB. It holds
// the command dispatch so tests can drive it without raft; fsm adapts it to
// raft.BatchingFSM.
type applier struct {
	store *dataStore
	lg    *zap.Logger
	// applyMu is held for a whole apply batch; a checkpoint holds it to
	// capture the data exactly at one decree.
	applyMu sync.Mutex

	mu      sync.Mutex
	applied uint64
	// appliedCh is closed and replaced every time applied advances, so
	// readers can wait for a decree without polling.
	appliedCh chan struct{}
	// dup is the duplication state kept with the data (see dupstate.go).
	dup dupState
	// onConfirmed is called after a batch changed a confirmed decree.
	onConfirmed func()
}

func newApplier(store *dataStore, lg *zap.Logger) (*applier, error) {
	d, err := store.appliedDecree()
	if err != nil {
		return nil, err
	}
	ds, err := store.loadDupState()
	if err != nil {
		return nil, err
	}
	return &applier{store: store, lg: lg, applied: d, appliedCh: make(chan struct{}), dup: ds}, nil
}

// Applied is the last decree written to RocksDB.
func (a *applier) Applied() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied
}

// waitApplied blocks until decree d is applied or ctx ends. Entries raft
// keeps to itself (the leader's no-op, barriers) never reach the FSM, so a
// decree is also reached when every entry between the last applied one and
// d is of that kind; skipped asks the log about those.
func (a *applier) waitApplied(ctx context.Context, d uint64, skipped func(from, to uint64) bool) error {
	for {
		a.mu.Lock()
		applied, ch := a.applied, a.appliedCh
		a.mu.Unlock()
		if applied >= d || (skipped != nil && d-applied <= maxSkippedScan && skipped(applied+1, d)) {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("wait for decree %d (applied %d): %w", d, applied, ctx.Err())
		}
	}
}

// maxSkippedScan bounds how many log entries waitApplied inspects.
const maxSkippedScan = 64

func (a *applier) advance(d uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d > a.applied {
		a.applied = d
		close(a.appliedCh)
		a.appliedCh = make(chan struct{})
	}
}

// applyBatch writes every command entry above the applied decree in one
// RocksDB batch together with the new decree, so a replayed entry is never
// applied twice. Failing to persist stops the process: diverging silently is
// worse.
func (a *applier) applyBatch(logs []*raft.Log) []interface{} {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	results := make([]interface{}, len(logs))
	from := a.Applied()
	st := a.dupState()
	b := batchState{src: st.source, confirmed: st.confirmed, replicatedMs: st.replicatedMs, fencedAt: st.fencedAt, unfencedAt: st.unfencedAt, unfollowed: st.unfollowed}
	skips := st.skips
	last := from
	for i, l := range logs {
		results[i] = l.Index
		if l.Index <= from {
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		cmd, err := decode(l.Data)
		if err != nil {
			a.lg.Fatal("undecodable committed command", zap.Uint64("decree", l.Index), zap.Error(err))
		}
		b.index = l.Index
		if b.addLogged(cmd, a.lg) {
			results[i] = fmt.Errorf("%w (fenced at decree %d)", ErrFenced, b.fencedAt)
		}
	}
	if last == from {
		return results
	}
	if len(b.skips) > 0 {
		skips = skips.with(b.skips)
		a.lg.Info("shipped entries skipped: a re-shipped batch", zap.Uint64("decree", b.skips[0].decree),
			zap.Uint64("source_decree_before", b.skips[0].src), zap.Int("entries", len(b.skips)))
	}
	// gofail: var fsmBeforeApply struct{}
	err := a.store.with(func(db *rocksdb.DB) error { return writeBatch(db, b, st, last, skips) })
	if err != nil {
		a.lg.Fatal("apply to rocksdb failed", zap.Uint64("decree", last), zap.Error(err))
	}
	// gofail: var fsmAfterApply struct{}
	a.setDupState(dupState{source: b.src, confirmed: b.confirmed, trustedFrom: st.trustedFrom, replicatedMs: b.replicatedMs,
		fencedAt: b.fencedAt, unfencedAt: b.unfencedAt, unfollowed: b.unfollowed, skips: skips})
	a.advance(last)
	if b.confirmedChanged && a.onConfirmed != nil {
		a.onConfirmed()
	}
	return results
}

// batchState accumulates what one apply batch writes.
type batchState struct {
	muts             []Mutation
	src              uint64
	confirmed        map[string]uint64
	confirmedChanged bool
	replicatedMs     uint64
	// index is the decree of the entry being added; fencedAt and
	// unfencedAt the partition's fence (fence.go); srcReset is set when a
	// step set the source decree outright.
	index                uint64
	fencedAt, unfencedAt uint64
	srcReset             bool
	unfollowed           bool
	// skipped is set when add skipped a shipped entry (or a whole
	// Duplicated command after a promote); skips are the records the
	// batch adds for such entries (dupchain.go).
	skipped bool
	skips   []skipRecord
}

// add adds one command to the batch; it reports whether client mutations
// in it were refused by a fence.
func (b *batchState) add(cmd command, lg *zap.Logger) (refused bool) {
	fenced := dupState{fencedAt: b.fencedAt, unfencedAt: b.unfencedAt}.fenced(b.index)
	switch cmd.Kind {
	case commandKindMutation:
		if fenced {
			return true
		}
		b.muts = append(b.muts, cmd.Mutations...)
	case commandKindDuplicated:
		if b.unfollowed {
			b.skipped = true // recorded, so ReadLog ships none of it nor its time
			return false     // promoted: shipped entries no longer apply
		}
		for _, e := range cmd.Duplicated {
			if e.SourceDecree <= b.src {
				b.skipped = true
				continue // already applied: a re-shipped batch changes nothing
			}
			muts, _ := decodeCommand(e.Command)
			b.muts = append(b.muts, muts...)
			b.src = e.SourceDecree
		}
		b.src = max(b.src, cmd.UpTo)
		// Applied through UpTo, every write the source acknowledged
		// before AtMs is here (a re-shipped older batch cannot lower it).
		b.replicatedMs = max(b.replicatedMs, cmd.AtMs)
	case commandKindDupConfirm:
		if cmd.Confirmed > b.confirmed[cmd.DupID] {
			b.setConfirmed(cmd.DupID, cmd.Confirmed, true)
		}
	case commandKindDupRelease:
		if _, ok := b.confirmed[cmd.DupID]; ok {
			b.setConfirmed(cmd.DupID, 0, false)
		}
	case commandKindBatch:
		for _, sub := range cmd.Batch {
			refused = b.add(sub, lg) || refused
		}
	case commandKindDupStep:
		b.applyStep(cmd, b.index)
	}
	return refused
}

// setConfirmed copies the map on first change (the applier's map is shared).
func (b *batchState) setConfirmed(id string, d uint64, keep bool) {
	if !b.confirmedChanged {
		c := make(map[string]uint64, len(b.confirmed)+1)
		for k, v := range b.confirmed {
			c[k] = v
		}
		b.confirmed, b.confirmedChanged = c, true
	}
	if keep {
		b.confirmed[id] = d
	} else {
		delete(b.confirmed, id)
	}
}

func writeBatch(db *rocksdb.DB, b batchState, prev dupState, decree uint64, skips skipLog) error {
	meta := map[string][]byte{}
	if len(b.skips) > 0 {
		meta[string(skipsKey)] = skips.encode()
	}
	if b.src != prev.source || b.srcReset {
		meta[string(sourceDecreeKey)] = u64(b.src)
	}
	if b.fencedAt != prev.fencedAt || b.unfencedAt != prev.unfencedAt {
		meta[string(fenceKey)] = append(u64(b.fencedAt), u64(b.unfencedAt)...)
	}
	if b.unfollowed != prev.unfollowed {
		v := byte(0)
		if b.unfollowed {
			v = 1
		}
		meta[string(unfollowedKey)] = []byte{v}
	}
	if b.replicatedMs != prev.replicatedMs {
		meta[string(replicatedKey)] = u64(b.replicatedMs)
	}
	if b.confirmedChanged {
		j, _ := json.Marshal(b.confirmed)
		meta[string(confirmedKey)] = j
	}
	return writeMutations(db, b.muts, decree, meta)
}

func u64(v uint64) []byte {
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], v)
	return d[:]
}

func writeMutations(db *rocksdb.DB, muts []Mutation, decree uint64, meta map[string][]byte) error {
	b := db.NewBatch()
	defer b.Close()
	for _, m := range muts {
		switch m.Op {
		case OpPut:
			b.Put(m.HashKey, m.SortKey, m.Value, m.ExpireTS)
		case OpDelete:
			b.Delete(m.HashKey, m.SortKey)
		}
	}
	for k, v := range meta {
		b.PutMeta([]byte(k), v)
	}
	b.PutMeta(appliedDecreeKey, u64(decree))
	return db.Write(b)
}

// fsm adapts applier and the snapshot logic to raft.
type fsm struct {
	*applier
	snaps *snapshotter
	met   *Metrics
	table string
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	defer f.met.observeApply(f.table, time.Now())
	return f.applyBatch(logs)
}

// Snapshot returns at once; Persist, which raft runs off the FSM
// goroutine, gets a checkpoint at this decree or newer from the catalog
// (through the scheduler, at raft-snapshot priority) and streams it. A
// newer decree is harmless: replayed entries at or below it are skipped.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &checkpointSnapshot{s: f.snaps, min: f.Applied()}, nil
}

// Restore replaces the replica's data with a streamed checkpoint.
func (f *fsm) Restore(rc io.ReadCloser) (err error) {
	defer rc.Close()
	defer func() { f.met.snapshotInstalled(f.table, err) }()
	if err := f.snaps.install(rc); err != nil {
		return err
	}
	// gofail: var snapshotInstallAfterSwap struct{}
	d, err := f.store.appliedDecree()
	if err != nil {
		return err
	}
	ds, err := f.store.loadDupState()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.dup = ds
	f.applied = d
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.mu.Unlock()
	f.lg.Info("restored snapshot", zap.Uint64("decree", d))
	return nil
}
