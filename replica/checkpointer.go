package replica

import (
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/rocksdb"
)

// checkpointer creates a replica's checkpoints: RocksDB checkpoints (hard
// links) taken at exactly one applied decree, described by a manifest with
// checksums, built in a temporary directory and published by one rename.
type checkpointer struct {
	table     string
	partition uint32
	store     *dataStore
	ap        *applier
	catalog   *checkpoint.Catalog
	now       func() time.Time
	lg        *zap.Logger

	mu sync.Mutex // one creation at a time per replica
	// sstCRC caches checksums of SST files of the instance generation
	// sstGen: SST files are immutable and their numbers never reused within
	// one instance.
	sstCRC map[string]checkpoint.FileInfo
	sstGen uint64
}

// isEmpty reports whether the partition holds no live records.
func (c *checkpointer) isEmpty() (bool, error) {
	empty := false
	err := c.store.with(func(db *rocksdb.DB) error {
		recs, _, err := db.Scan(rocksdb.ScanRange{Limit: 1})
		empty = len(recs) == 0
		return err
	})
	return empty, err
}

// size is the partition's approximate data size.
func (c *checkpointer) size() uint64 {
	var n uint64
	_ = c.store.with(func(db *rocksdb.DB) error { n = db.ApproximateSize(); return nil })
	return n
}

// create takes and publishes a checkpoint at the current applied decree.
// The memtable is flushed before the apply lock is taken, so writes stall
// only while RocksDB links files (and flushes the little written since).
// An empty partition gets a metadata-only checkpoint: nothing to flush or
// link.
func (c *checkpointer) create(purpose checkpoint.Purpose) (*checkpoint.Manifest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if empty, err := c.isEmpty(); err != nil {
		return nil, err
	} else if !empty {
		if err := c.store.with(func(db *rocksdb.DB) error { return db.Flush() }); err != nil {
			return nil, fmt.Errorf("flush before checkpoint: %w", err)
		}
	}
	if purpose == checkpoint.PurposeDuplication {
		c.settle(settleMax)
	}
	m, err := c.snapshotLocked(purpose)
	if err != nil {
		return nil, err
	}
	if gen := c.store.gen(); gen != c.sstGen || c.sstCRC == nil {
		c.sstCRC, c.sstGen = map[string]checkpoint.FileInfo{}, gen
	}
	if err := c.catalog.Publish(m, c.sstCRC); err != nil {
		return nil, err
	}
	c.sstCRC = map[string]checkpoint.FileInfo{}
	for _, f := range m.Files {
		c.sstCRC[f.Name] = f
	}
	return m, nil
}

// snapshotLocked captures the data at one decree with applies held off,
// into the catalog's temporary directory for the checkpoint.
func (c *checkpointer) snapshotLocked(purpose checkpoint.Purpose) (*checkpoint.Manifest, error) {
	c.ap.applyMu.Lock()
	defer c.ap.applyMu.Unlock()
	m := checkpoint.NewManifest(c.table, c.partition, c.ap.Applied(), c.now(), purpose)
	tmp := c.catalog.TmpDir(m.ID)
	empty, err := c.isEmpty()
	if err != nil {
		return nil, err
	}
	if empty {
		m.Empty = true
		return m, os.MkdirAll(tmp, 0o755)
	}
	if err := c.store.with(func(db *rocksdb.DB) error { return db.Checkpoint(tmp) }); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("rocksdb checkpoint at decree %d: %w", m.Decree, err)
	}
	return m, nil
}

// settleMax bounds how long a duplication base waits for compactions.
const settleMax = 10 * time.Second

// settle waits, at most max, until no compaction is pending or running. A
// duplication base taken with L0 files a compaction is about to merge is
// merged again on the remote right after its restore, into files only
// the remote holds: a failback from it could then reuse none of the
// source's files (duplication/reuse.go). Settled, the remote keeps the
// base's files as they are until its own writes compact them. It runs
// after the checkpoint's flush, which may be what makes a compaction due.
// A failback base (PurposeFailback) does not wait: the compaction its
// flush starts would replace files the old source holds with ones only
// this side holds.
func (c *checkpointer) settle(max time.Duration) {
	timeout := time.NewTimer(max) // real time: it bounds a wait, whatever the replica's clock
	defer timeout.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for c.store.compacting() {
		select {
		case <-timeout.C:
			c.lg.Info("duplication base taken with compactions still pending", zap.Duration("waited", max))
			return
		case <-tick.C:
		}
	}
}
