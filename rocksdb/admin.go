package rocksdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/linxGnu/grocksdb"
)

// ApproximateSize returns the bytes of all SST files plus all memtables of
// both column families; 0 after Close.
func (db *DB) ApproximateSize() uint64 {
	if db.rlock() != nil {
		return 0
	}
	defer db.mu.RUnlock()
	var total uint64
	for _, cf := range []*grocksdb.ColumnFamilyHandle{db.records, db.meta} {
		for _, p := range []string{"rocksdb.total-sst-files-size", "rocksdb.cur-size-all-mem-tables"} {
			if v, ok := db.db.GetIntPropertyCF(p, cf); ok {
				total += v
			}
		}
	}
	return total
}

// Property returns a RocksDB integer property of the records column family,
// such as "rocksdb.estimate-num-keys"; ok is false for unknown properties and
// after Close.
func (db *DB) Property(name string) (value uint64, ok bool) {
	if db.rlock() != nil {
		return 0, false
	}
	defer db.mu.RUnlock()
	return db.db.GetIntPropertyCF(name, db.records)
}

// Flush writes the memtables of both column families to SST files in one
// atomic flush and waits for it.
func (db *DB) Flush() error {
	if err := db.rlock(); err != nil {
		return err
	}
	defer db.mu.RUnlock()
	if err := flushAll(db.db, []*grocksdb.ColumnFamilyHandle{db.records, db.meta}); err != nil {
		return fmt.Errorf("flush %s: %w", db.dir, err)
	}
	return nil
}

// Compact runs a full manual compaction of the records column family, which
// also drops expired records through the TTL compaction filter.
func (db *DB) Compact() error {
	if err := db.rlock(); err != nil {
		return err
	}
	defer db.mu.RUnlock()
	co := grocksdb.NewCompactRangeOptions()
	defer co.Destroy()
	co.SetBottommostLevelCompaction(grocksdb.KForce)
	db.db.CompactRangeCFOpt(db.records, grocksdb.Range{}, co)
	return nil
}

// Checkpoint creates a RocksDB checkpoint of both column families in dir,
// which must not exist: SST files are hard-linked after the memtables are
// flushed, so the checkpoint needs no WAL replay.
func (db *DB) Checkpoint(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("checkpoint %s: %w", dir, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := db.rlock(); err != nil {
		return err
	}
	defer db.mu.RUnlock()
	cp, err := db.db.NewCheckpoint()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	defer cp.Destroy()
	if err := cp.CreateCheckpoint(dir, 0); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return nil
}
