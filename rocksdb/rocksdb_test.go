package rocksdb

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"unlimited open files", func(c *Config) { c.MaxOpenFiles = -1 }, true},
		{"no block cache", func(c *Config) { c.BlockCacheBytes = 0 }, false},
		{"tiny write buffer", func(c *Config) { c.WriteBufferBytes = 1024 }, false},
		{"no write buffers", func(c *Config) { c.MaxWriteBuffers = 0 }, false},
		{"no threads", func(c *Config) { c.BackgroundThreads = 0 }, false},
		{"zero open files", func(c *Config) { c.MaxOpenFiles = 0 }, false},
		{"budget without block cache", func(c *Config) { c.BlockCacheBytes, c.MemoryBudgetBytes = 0, 16<<20 }, true},
		{"tiny budget", func(c *Config) { c.MemoryBudgetBytes = 1 << 20 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			sh, err := NewShared(c)
			if tt.ok != (err == nil) {
				t.Fatalf("NewShared() = %v, want ok=%v", err, tt.ok)
			}
			if sh != nil {
				sh.Close()
			}
		})
	}
}

func TestOpenRejectsSyncWithoutWAL(t *testing.T) {
	sh := mustNewShared(t)
	opts := Options{Sync: true, DisableWAL: true}
	if _, err := Open(t.TempDir(), sh, opts); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Open err = %v, want ErrInvalidConfig", err)
	}
	if _, err := OpenKV(t.TempDir(), sh, opts); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("OpenKV err = %v, want ErrInvalidConfig", err)
	}
}

func TestOpenAfterSharedClose(t *testing.T) {
	sh := mustNewShared(t)
	db := mustOpen(t, sh, Options{})
	sh.Close()
	// An instance opened before Close keeps working.
	mustPut(t, db, "h", "s", "v", 0)
	if v, ok := mustGet(t, db, "h", "s"); !ok || v != "v" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if _, err := Open(t.TempDir(), sh, Options{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open err = %v, want ErrClosed", err)
	}
	if _, err := OpenKV(t.TempDir(), sh, Options{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenKV err = %v, want ErrClosed", err)
	}
}

func TestPutGetDelete(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{Sync: true})
	if _, ok := mustGet(t, db, "h", "s"); ok {
		t.Fatal("found a record in an empty DB")
	}
	mustPut(t, db, "h", "s", "v1", 0)
	mustPut(t, db, "h", "", "empty sort key", 0)
	mustPut(t, db, "h", "empty", "", 0)
	tests := []struct{ hashKey, sortKey, want string }{
		{"h", "s", "v1"},
		{"h", "", "empty sort key"},
		{"h", "empty", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.hashKey, tt.sortKey), func(t *testing.T) {
			v, expireTS, found, err := db.Get([]byte(tt.hashKey), []byte(tt.sortKey))
			if err != nil || !found || string(v) != tt.want || expireTS != 0 || v == nil {
				t.Fatalf("Get = %q, %d, %v, %v; want %q", v, expireTS, found, err, tt.want)
			}
		})
	}
	mustPut(t, db, "h", "s", "v2", 0)
	if v, _ := mustGet(t, db, "h", "s"); v != "v2" {
		t.Fatalf("overwritten value = %q, want v2", v)
	}
	mustWrite(t, db, func(b *Batch) { b.Delete([]byte("h"), []byte("s")) })
	if _, ok := mustGet(t, db, "h", "s"); ok {
		t.Fatal("deleted record still found")
	}
}

func TestGetReturnsCopies(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	mustPut(t, db, "h", "s", "value", 0)
	v1, _, _, _ := db.Get([]byte("h"), []byte("s"))
	v1[0] = 'X'
	if v, _ := mustGet(t, db, "h", "s"); v != "value" {
		t.Fatalf("modifying a returned value changed the stored one: %q", v)
	}
}

func TestBatch(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	b := db.NewBatch()
	b.Put([]byte("h"), []byte("a"), []byte("1"), 0)
	b.Put([]byte("h"), []byte("b"), []byte("2"), 0)
	b.Delete([]byte("h"), []byte("c"))
	b.PutMeta([]byte("decree"), []byte("7"))
	if b.Count() != 4 {
		t.Fatalf("Count = %d, want 4", b.Count())
	}
	// Nothing is visible before Write.
	if _, ok := mustGet(t, db, "h", "a"); ok {
		t.Fatal("record visible before Write")
	}
	if err := db.Write(b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b.Close()
	b.Close()
	if err := db.Write(b); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("Write of closed batch = %v, want ErrBatchClosed", err)
	}
	if b.Count() != 0 {
		t.Fatalf("closed batch Count = %d", b.Count())
	}
	b.Put([]byte("h"), []byte("z"), nil, 0) // a no-op, not a crash
	v, found, err := db.GetMeta([]byte("decree"))
	if err != nil || !found || string(v) != "7" {
		t.Fatalf("GetMeta = %q, %v, %v", v, found, err)
	}
	if _, found, _ := db.GetMeta([]byte("missing")); found {
		t.Fatal("GetMeta found a missing key")
	}
	// Metadata lives apart from records.
	if _, ok := mustGet(t, db, "", "decree"); ok {
		t.Fatal("meta key visible as a record")
	}
}

func TestBatchAtomicRecordsAndMeta(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{DisableWAL: true})
	const n = 300
	done := make(chan error, 1)
	go func() {
		// Whenever the reader sees decree d in meta, record d must exist.
		for {
			v, found, err := db.GetMeta([]byte("decree"))
			if err != nil {
				done <- err
				return
			}
			if !found {
				continue
			}
			if _, _, ok, err := db.Get([]byte("h"), v); err != nil || !ok {
				done <- fmt.Errorf("meta decree %s visible without its record (err %v)", v, err)
				return
			}
			if string(v) == fmt.Sprint(n-1) {
				done <- nil
				return
			}
		}
	}()
	for i := range n {
		d := fmt.Sprint(i)
		mustWrite(t, db, func(b *Batch) {
			b.Put([]byte("h"), []byte(d), []byte("v"), 0)
			b.PutMeta([]byte("decree"), []byte(d))
		})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReopenPreservesData(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		// flush before Close; a clean Close must persist data either way.
		flush bool
	}{
		{"wal", Options{}, false},
		{"sync wal", Options{Sync: true}, false},
		{"no wal", Options{DisableWAL: true}, false},
		{"no wal flushed", Options{DisableWAL: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := mustNewShared(t)
			dir := filepath.Join(t.TempDir(), "db")
			db := mustOpenDir(t, dir, sh, tt.opts)
			mustWrite(t, db, func(b *Batch) {
				b.Put([]byte("h"), []byte("s"), []byte("v"), 0)
				b.PutMeta([]byte("decree"), []byte("42"))
			})
			if tt.flush {
				if err := db.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			db = mustOpenDir(t, dir, sh, tt.opts)
			if v, ok := mustGet(t, db, "h", "s"); !ok || v != "v" {
				t.Fatalf("record after reopen = %q, %v", v, ok)
			}
			if v, ok, err := db.GetMeta([]byte("decree")); err != nil || !ok || string(v) != "42" {
				t.Fatalf("meta after reopen = %q, %v, %v", v, ok, err)
			}
			if db.Dir() != dir {
				t.Fatalf("Dir = %q, want %q", db.Dir(), dir)
			}
		})
	}
}

func TestCount(t *testing.T) {
	clock := newFakeClock()
	db := mustOpen(t, mustNewShared(t), Options{Now: clock.Now})
	if n, err := db.Count(); err != nil || n != 0 {
		t.Fatalf("Count of empty DB = %d, %v", n, err)
	}
	for i := range 50 {
		mustPut(t, db, fmt.Sprint("h", i%5), fmt.Sprint(i), "v", 0)
	}
	for i := range 10 {
		mustPut(t, db, "ttl", fmt.Sprint(i), "v", clock.Unix()+5)
	}
	mustWrite(t, db, func(b *Batch) { b.PutMeta([]byte("decree"), []byte("1")) })
	if n, err := db.Count(); err != nil || n != 60 {
		t.Fatalf("Count = %d, %v; want 60", n, err)
	}
	clock.Advance(5e9)
	if n, err := db.Count(); err != nil || n != 50 {
		t.Fatalf("Count after expiry = %d, %v; want 50", n, err)
	}
}

func TestSizeAndProperty(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	before := db.ApproximateSize()
	for i := range 1000 {
		mustPut(t, db, "h", fmt.Sprintf("%04d", i), string(make([]byte, 100)), 0)
	}
	if err := db.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if after := db.ApproximateSize(); after <= before || after < 1000 {
		t.Fatalf("ApproximateSize = %d (before %d)", after, before)
	}
	if n, ok := db.Property("rocksdb.estimate-num-keys"); !ok || n != 1000 {
		t.Fatalf("estimate-num-keys = %d, %v; want 1000", n, ok)
	}
	if n, ok := db.Property("rocksdb.total-sst-files-size"); !ok || n == 0 {
		t.Fatalf("total-sst-files-size = %d, %v", n, ok)
	}
	if _, ok := db.Property("rocksdb.no-such-property"); ok {
		t.Fatal("unknown property reported ok")
	}
}

func TestFlushAll(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{DisableWAL: true})
	mustWrite(t, db, func(b *Batch) {
		b.Put([]byte("h"), []byte("s"), []byte("v"), 0)
		b.PutMeta([]byte("decree"), []byte("1"))
	})
	if err := db.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for _, cf := range []struct {
		name string
		prop func(string) (uint64, bool)
	}{
		{"records", db.Property},
		{"meta", func(p string) (uint64, bool) { return db.db.GetIntPropertyCF(p, db.meta) }},
	} {
		if n, ok := cf.prop("rocksdb.num-entries-active-mem-table"); !ok || n != 0 {
			t.Fatalf("%s memtable entries after Flush = %d, %v", cf.name, n, ok)
		}
		if n, ok := cf.prop("rocksdb.total-sst-files-size"); !ok || n == 0 {
			t.Fatalf("%s SST bytes after Flush = %d, %v", cf.name, n, ok)
		}
	}
}

func TestConcurrentFlushCompactCheckpoint(t *testing.T) {
	// Manual flushes of every kind racing writes and each other must not trip
	// RocksDB's atomic-flush assertions.
	db := mustOpen(t, mustNewShared(t), Options{DisableWAL: true})
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	ops := []func(i int) error{
		func(i int) error {
			b := db.NewBatch()
			defer b.Close()
			b.Put([]byte("h"), []byte(fmt.Sprint(i)), make([]byte, 1000), 0)
			b.PutMeta([]byte("decree"), []byte(fmt.Sprint(i)))
			return db.Write(b)
		},
		func(int) error { return db.Flush() },
		func(int) error { return db.Compact() },
		func(i int) error { return db.Checkpoint(filepath.Join(dir, fmt.Sprint(i))) },
	}
	for _, op := range ops {
		wg.Go(func() {
			for i := range 150 {
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
