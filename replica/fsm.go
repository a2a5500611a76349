package replica

import (
	"context"
	"encoding/binary"
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
}

func newApplier(store *dataStore, lg *zap.Logger) (*applier, error) {
	d, err := store.appliedDecree()
	if err != nil {
		return nil, err
	}
	return &applier{store: store, lg: lg, applied: d, appliedCh: make(chan struct{})}, nil
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
	last := from
	var muts []Mutation
	for i, l := range logs {
		results[i] = l.Index
		if l.Index <= from {
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		m, err := DecodeCommand(l.Data)
		if err != nil {
			a.lg.Fatal("undecodable committed command", zap.Uint64("decree", l.Index), zap.Error(err))
		}
		muts = append(muts, m...)
	}
	if last == from {
		return results
	}
	err := a.store.with(func(db *rocksdb.DB) error { return writeMutations(db, muts, last) })
	if err != nil {
		a.lg.Fatal("apply to rocksdb failed", zap.Uint64("decree", last), zap.Error(err))
	}
	a.advance(last)
	return results
}

func writeMutations(db *rocksdb.DB, muts []Mutation, decree uint64) error {
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
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], decree)
	b.PutMeta(appliedDecreeKey, d[:])
	return db.Write(b)
}

// fsm adapts applier and the snapshot logic to raft.
type fsm struct {
	*applier
	snaps *snapshotter
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) interface{} { return f.applyBatch([]*raft.Log{l})[0] }

func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} { return f.applyBatch(logs) }

// Snapshot returns at once; Persist, which raft runs off the FSM
// goroutine, gets a checkpoint at this decree or newer from the catalog
// (through the scheduler, at raft-snapshot priority) and streams it. A
// newer decree is harmless: replayed entries at or below it are skipped.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &checkpointSnapshot{s: f.snaps, min: f.Applied()}, nil
}

// Restore replaces the replica's data with a streamed checkpoint.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.snaps.install(rc); err != nil {
		return err
	}
	d, err := f.store.appliedDecree()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.applied = d
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.mu.Unlock()
	f.lg.Info("restored snapshot", zap.Uint64("decree", d))
	return nil
}
