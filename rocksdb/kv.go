package rocksdb

import (
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// KV is a plain ordered key-value store with one column family and no TTL.
// The node's shared raft log store is built on it: Write honours
// Options.Sync (RocksDB group-commits concurrent synced writes), and
// WriteSynced shares fsyncs between concurrent writers outside RocksDB's
// write queue.
type KV struct {
	dir string

	// mu is held for reading by every call that touches C state and for
	// writing by Close.
	mu     sync.RWMutex
	closed bool
	db     *grocksdb.DB
	opts   *grocksdb.Options
	ro     *grocksdb.ReadOptions
	wo     *grocksdb.WriteOptions
	// woNoSync writes to the WAL without an fsync, for WriteSynced.
	woNoSync *grocksdb.WriteOptions

	syncer walSyncer
}

// OpenKV opens the store in dir, creating it if missing. Options.Now is
// unused.
func OpenKV(dir string, sh *Shared, opts Options) (*KV, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open kv %s: %w", dir, err)
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.closed {
		return nil, fmt.Errorf("open kv %s: shared: %w", dir, ErrClosed)
	}
	o := sh.newOptions(sh.plainTable)
	db, err := grocksdb.OpenDb(o, dir)
	if err != nil {
		o.Destroy()
		return nil, fmt.Errorf("open kv %s: %w", dir, err)
	}
	return &KV{
		dir: dir, db: db, opts: o,
		ro: grocksdb.NewDefaultReadOptions(), wo: opts.newWriteOptions(),
		woNoSync: Options{DisableWAL: opts.DisableWAL}.newWriteOptions(),
	}, nil
}

// Close closes the store after in-flight calls finish. Later calls,
// including Close, return ErrClosed.
func (kv *KV) Close() error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.closed {
		return ErrClosed
	}
	kv.closed = true
	kv.db.Close()
	kv.ro.Destroy()
	kv.wo.Destroy()
	kv.woNoSync.Destroy()
	kv.opts.Destroy()
	return nil
}

// rlock takes the read lock and reports ErrClosed if the store is closed; on
// success the caller must call kv.mu.RUnlock.
func (kv *KV) rlock() error {
	kv.mu.RLock()
	if kv.closed {
		kv.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Get returns the value stored under key.
func (kv *KV) Get(key []byte) (value []byte, found bool, err error) {
	if err := kv.rlock(); err != nil {
		return nil, false, err
	}
	defer kv.mu.RUnlock()
	s, err := kv.db.Get(kv.ro, key)
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", kv.dir, err)
	}
	defer s.Free()
	if !s.Exists() {
		return nil, false, nil
	}
	return clone(s.Data()), true, nil
}

// Put stores value under key.
func (kv *KV) Put(key, value []byte) error {
	if err := kv.rlock(); err != nil {
		return err
	}
	defer kv.mu.RUnlock()
	if err := kv.db.Put(kv.wo, key, value); err != nil {
		return fmt.Errorf("put %s: %w", kv.dir, err)
	}
	return nil
}

// KVBatch collects mutations that KV.Write applies atomically. It is not
// safe for concurrent use; Close it when done.
type KVBatch struct {
	wb *grocksdb.WriteBatch
}

// NewBatch returns an empty batch.
func (kv *KV) NewBatch() *KVBatch {
	return &KVBatch{wb: grocksdb.NewWriteBatch()}
}

// Put stores value under key.
func (b *KVBatch) Put(key, value []byte) {
	if b.wb != nil {
		b.wb.Put(key, value)
	}
}

// Delete removes key.
func (b *KVBatch) Delete(key []byte) {
	if b.wb != nil {
		b.wb.Delete(key)
	}
}

// DeleteRange removes every key in [start, end).
func (b *KVBatch) DeleteRange(start, end []byte) {
	if b.wb != nil {
		b.wb.DeleteRange(start, end)
	}
}

// Count returns the number of mutations in the batch.
func (b *KVBatch) Count() int {
	if b.wb == nil {
		return 0
	}
	return b.wb.Count()
}

// Close frees the batch; it is safe to call more than once.
func (b *KVBatch) Close() {
	if b.wb != nil {
		b.wb.Destroy()
		b.wb = nil
	}
}

// Write applies b atomically, honouring Options.Sync and DisableWAL.
func (kv *KV) Write(b *KVBatch) error {
	if b.wb == nil {
		return ErrBatchClosed
	}
	if err := kv.rlock(); err != nil {
		return err
	}
	defer kv.mu.RUnlock()
	if err := kv.db.Write(kv.wo, b.wb); err != nil {
		return fmt.Errorf("write %s: %w", kv.dir, err)
	}
	return nil
}

// WriteSynced applies b atomically and returns once it is fsynced,
// whatever Options.Sync says. Unlike a synced Write, the fsync happens
// outside RocksDB's write queue: other writes go on while one runs, and the
// next fsync covers every write finished by then, so concurrent writers
// (the raft groups of a node) share fsyncs instead of queueing for them.
func (kv *KV) WriteSynced(b *KVBatch) error {
	if b.wb == nil {
		return ErrBatchClosed
	}
	if err := kv.rlock(); err != nil {
		return err
	}
	err := kv.db.Write(kv.woNoSync, b.wb)
	kv.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("write %s: %w", kv.dir, err)
	}
	return kv.syncer.covered(kv.syncWAL)
}

// syncWAL fsyncs the WAL.
func (kv *KV) syncWAL() error {
	if err := kv.rlock(); err != nil {
		return err
	}
	defer kv.mu.RUnlock()
	if err := kv.db.FlushWAL(true); err != nil {
		return fmt.Errorf("sync wal %s: %w", kv.dir, err)
	}
	return nil
}

// Syncs returns how many fsyncs WriteSynced calls have run.
func (kv *KV) Syncs() uint64 {
	kv.syncer.mu.Lock()
	defer kv.syncer.mu.Unlock()
	return kv.syncer.syncs
}

// walSyncer shares fsyncs between writers: a writer whose write finished
// after the running fsync started waits for the next one, which one of the
// waiters runs for all of them. A failed fsync fails every writer from then
// on: after an fsync error the kernel may have dropped the dirty pages, so
// a later successful fsync proves nothing (and RocksDB stops writing too).
type walSyncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	done    uint64 // writes finished (each writer's ticket)
	synced  uint64 // tickets covered by a finished fsync
	err     error  // the first failed fsync's error
	syncing bool
	syncs   uint64
}

// covered returns once an fsync started after the caller's write finished
// has completed, running it when no other writer is.
func (s *walSyncer) covered(fsync func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cond == nil {
		s.cond = sync.NewCond(&s.mu)
	}
	s.done++
	ticket := s.done
	for {
		switch {
		case s.err != nil:
			return s.err
		case s.synced >= ticket:
			return nil
		case s.syncing:
			s.cond.Wait()
			continue
		}
		s.syncing = true
		upTo := s.done
		s.mu.Unlock()
		err := fsync()
		s.mu.Lock()
		s.syncing = false
		s.syncs++
		if err != nil {
			s.err = err
		} else {
			s.synced = upTo
		}
		s.cond.Broadcast()
	}
}

// Flush writes the memtable to an SST file and waits for it.
func (kv *KV) Flush() error {
	if err := kv.rlock(); err != nil {
		return err
	}
	defer kv.mu.RUnlock()
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	if err := kv.db.Flush(fo); err != nil {
		return fmt.Errorf("flush %s: %w", kv.dir, err)
	}
	return nil
}
