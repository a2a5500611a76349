package rocksdb

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"
	"go.uber.org/zap"
)

// Column family names of a DB.
const (
	cfRecords = "default"
	cfMeta    = "meta"
)

// Options are per-instance settings of a DB or KV.
type Options struct {
	// Sync fsyncs the WAL on every Write; concurrent synced writes share one
	// fsync (RocksDB's group commit).
	Sync bool
	// DisableWAL writes without RocksDB's WAL, for callers that keep their
	// own log and replay it after a crash. It cannot be combined with Sync.
	DisableWAL bool
	// Now is the clock for TTL, used by reads and the compaction filter; it
	// must be safe for concurrent use. Nil means time.Now.
	Now func() time.Time
}

// validate rejects option combinations RocksDB refuses at write time.
func (o Options) validate() error {
	if o.Sync && o.DisableWAL {
		return fmt.Errorf("Sync requires the WAL: %w", ErrInvalidConfig)
	}
	return nil
}

// newWriteOptions returns write options that follow o.
func (o Options) newWriteOptions() *grocksdb.WriteOptions {
	wo := grocksdb.NewDefaultWriteOptions()
	wo.SetSync(o.Sync)
	wo.DisableWAL(o.DisableWAL)
	return wo
}

// DB is one partition replica's data: column family "default" holds records,
// "meta" holds replica metadata (applied decree etc.) written atomically with
// records in one batch. Atomic flush is on, so records and metadata reach
// SST files together. The records column family has a compaction filter that
// drops expired records.
type DB struct {
	dir string
	now func() time.Time
	lg  *zap.Logger

	// mu is held for reading by every call that touches C state and for
	// writing by Close, so Close waits for in-flight calls.
	mu       sync.RWMutex
	closed   bool
	db       *grocksdb.DB
	records  *grocksdb.ColumnFamilyHandle
	meta     *grocksdb.ColumnFamilyHandle
	recOpts  *grocksdb.Options // also the DB-wide options; holds the filter
	metaOpts *grocksdb.Options
	ro       *grocksdb.ReadOptions
	wo       *grocksdb.WriteOptions
}

// Open opens the DB in dir, creating it if missing.
func Open(dir string, sh *Shared, opts Options) (*DB, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open db %s: %w", dir, err)
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.closed {
		return nil, fmt.Errorf("open db %s: shared: %w", dir, ErrClosed)
	}
	recOpts := sh.newOptions(sh.bloomTable)
	recOpts.SetAtomicFlush(true)
	recOpts.SetCompactionFilter(&ttlFilter{now: now})
	metaOpts := sh.newOptions(sh.plainTable)
	rdb, cfs, err := grocksdb.OpenDbColumnFamilies(recOpts, dir,
		[]string{cfRecords, cfMeta}, []*grocksdb.Options{recOpts, metaOpts})
	if err != nil {
		recOpts.Destroy()
		metaOpts.Destroy()
		return nil, fmt.Errorf("open db %s: %w", dir, err)
	}
	return &DB{
		dir: dir, now: now, lg: sh.lg.With(zap.String("db", dir)),
		db: rdb, records: cfs[0], meta: cfs[1],
		recOpts: recOpts, metaOpts: metaOpts,
		ro: grocksdb.NewDefaultReadOptions(), wo: opts.newWriteOptions(),
	}, nil
}

// Close closes the DB after in-flight calls finish. Later calls, including
// Close, return ErrClosed.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	db.closed = true
	db.records.Destroy()
	db.meta.Destroy()
	db.db.Close()
	db.ro.Destroy()
	db.wo.Destroy()
	db.recOpts.Destroy()
	db.metaOpts.Destroy()
	return nil
}

// Dir returns the directory the DB lives in.
func (db *DB) Dir() string { return db.dir }

// rlock takes the read lock and reports ErrClosed if the DB is closed; on
// success the caller must call db.mu.RUnlock.
func (db *DB) rlock() error {
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Write applies b atomically, honouring Options.Sync and DisableWAL.
func (db *DB) Write(b *Batch) error {
	if b.wb == nil {
		return ErrBatchClosed
	}
	if b.err != nil {
		return b.err
	}
	if err := db.rlock(); err != nil {
		return err
	}
	defer db.mu.RUnlock()
	if err := db.db.Write(db.wo, b.wb); err != nil {
		return fmt.Errorf("write %s: %w", db.dir, err)
	}
	return nil
}

// Get returns the value of a record. found is false for absent records and
// for expired ones (expireTS != 0 && expireTS <= Now().Unix()).
func (db *DB) Get(hashKey, sortKey []byte) (value []byte, expireTS uint32, found bool, err error) {
	raw, found, err := db.get(db.records, EncodeKey(hashKey, sortKey))
	if err != nil || !found {
		return nil, 0, false, err
	}
	expireTS, value, err = DecodeValue(raw)
	if err != nil {
		return nil, 0, false, err
	}
	if expired(expireTS, db.now().Unix()) {
		return nil, 0, false, nil
	}
	return value, expireTS, true, nil
}

// GetMeta returns the metadata value stored under key.
func (db *DB) GetMeta(key []byte) (value []byte, found bool, err error) {
	return db.get(db.meta, key)
}

// get reads key from cf and returns a Go-owned copy of its value.
func (db *DB) get(cf *grocksdb.ColumnFamilyHandle, key []byte) ([]byte, bool, error) {
	if err := db.rlock(); err != nil {
		return nil, false, err
	}
	defer db.mu.RUnlock()
	s, err := db.db.GetCF(db.ro, cf, key)
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", db.dir, err)
	}
	defer s.Free()
	if !s.Exists() {
		return nil, false, nil
	}
	return clone(s.Data()), true, nil
}

// clone returns a Go-owned copy of b, non-nil even when b is empty.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
