package rocksdb

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// fakeClock is a concurrency-safe injectable clock with one-second steps.
type fakeClock struct{ unix atomic.Int64 }

// newFakeClock returns a clock at a fixed, realistic time.
func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.unix.Store(1_700_000_000)
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(c.unix.Load(), 0) }
func (c *fakeClock) Unix() uint32            { return uint32(c.unix.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.unix.Add(int64(d / time.Second)) }

// mustNewShared returns a small Shared closed at the end of the test.
func mustNewShared(t testing.TB) *Shared {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BlockCacheBytes = 8 << 20
	cfg.WriteBufferBytes = 1 << 20
	if tt, ok := t.(*testing.T); ok {
		cfg.Logger = zaptest.NewLogger(tt)
	}
	sh, err := NewShared(cfg)
	if err != nil {
		t.Fatalf("NewShared: %v", err)
	}
	t.Cleanup(sh.Close)
	return sh
}

// mustOpen opens a DB in a fresh directory and closes it at the end of the
// test unless the test closed it already.
func mustOpen(t testing.TB, sh *Shared, opts Options) *DB {
	t.Helper()
	return mustOpenDir(t, filepath.Join(t.TempDir(), "db"), sh, opts)
}

// mustOpenDir opens the DB in dir and closes it at the end of the test.
func mustOpenDir(t testing.TB, dir string, sh *Shared, opts Options) *DB {
	t.Helper()
	db, err := Open(dir, sh, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// mustOpenKV opens a KV in dir and closes it at the end of the test.
func mustOpenKV(t testing.TB, dir string, sh *Shared, opts Options) *KV {
	t.Helper()
	kv, err := OpenKV(dir, sh, opts)
	if err != nil {
		t.Fatalf("OpenKV(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	return kv
}

// mustWrite applies one batch built by fill.
func mustWrite(t testing.TB, db *DB, fill func(b *Batch)) {
	t.Helper()
	b := db.NewBatch()
	defer b.Close()
	fill(b)
	if err := db.Write(b); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// mustPut writes one record.
func mustPut(t testing.TB, db *DB, hashKey, sortKey, value string, expireTS uint32) {
	t.Helper()
	mustWrite(t, db, func(b *Batch) { b.Put([]byte(hashKey), []byte(sortKey), []byte(value), expireTS) })
}

// mustGet reads one record and fails the test on error.
func mustGet(t testing.TB, db *DB, hashKey, sortKey string) (string, bool) {
	t.Helper()
	v, _, found, err := db.Get([]byte(hashKey), []byte(sortKey))
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", hashKey, sortKey, err)
	}
	return string(v), found
}

// rawRecordKeys counts every key physically present in the records column
// family, expired or not, bypassing the TTL logic of the read path.
func rawRecordKeys(t testing.TB, db *DB) int {
	t.Helper()
	if err := db.rlock(); err != nil {
		t.Fatalf("rlock: %v", err)
	}
	defer db.mu.RUnlock()
	it := newIterator(db.db, db.records, nil, nil, false)
	defer it.close()
	n := 0
	for it.SeekToFirst(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("raw iterate: %v", err)
	}
	return n
}
