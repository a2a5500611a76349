package rocksdb

import (
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// KV is a plain ordered key-value store with one column family and no TTL.
// The node's shared raft log store is built on it, so Write honours
// Options.Sync, and RocksDB group-commits concurrent synced writes.
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
