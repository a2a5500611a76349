package rocksdb

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentWriters(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{Sync: true})
	const writers, perWriter = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				b := db.NewBatch()
				b.Put([]byte(fmt.Sprint("w", w)), []byte(fmt.Sprintf("%03d", i)), []byte("v"), 0)
				b.PutMeta([]byte(fmt.Sprint("w", w)), []byte(fmt.Sprint(i)))
				err := db.Write(b)
				b.Close()
				if err != nil {
					errs <- err
					return
				}
				if _, _, _, err := db.Get([]byte(fmt.Sprint("w", w)), []byte("000")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	if n, err := db.Count(); err != nil || n != writers*perWriter {
		t.Fatalf("Count = %d, %v; want %d", n, err, writers*perWriter)
	}
	for w := range writers {
		v, ok, err := db.GetMeta([]byte(fmt.Sprint("w", w)))
		if err != nil || !ok || string(v) != fmt.Sprint(perWriter-1) {
			t.Fatalf("meta of writer %d = %q, %v, %v", w, v, ok, err)
		}
	}
}

// dbOps are the calls that must fail cleanly with ErrClosed after Close.
var dbOps = []struct {
	name string
	call func(db *DB) error
}{
	{"Write", func(db *DB) error {
		b := db.NewBatch()
		defer b.Close()
		b.Put([]byte("h"), []byte("s"), []byte("v"), 0)
		b.PutMeta([]byte("m"), []byte("v"))
		return db.Write(b)
	}},
	{"Get", func(db *DB) error { _, _, _, err := db.Get([]byte("h"), []byte("s")); return err }},
	{"GetMeta", func(db *DB) error { _, _, err := db.GetMeta([]byte("m")); return err }},
	{"Scan", func(db *DB) error { _, _, err := db.Scan(ScanRange{Limit: 10}); return err }},
	{"Count", func(db *DB) error { _, err := db.Count(); return err }},
	{"Flush", func(db *DB) error { return db.Flush() }},
	{"Compact", func(db *DB) error { return db.Compact() }},
	{"Checkpoint", func(db *DB) error { return db.Checkpoint(db.Dir() + ".cp-after-close") }},
	{"Close", func(db *DB) error { return db.Close() }},
}

func TestClosedDB(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	mustPut(t, db, "h", "s", "v", 0)
	pending := db.NewBatch()
	defer pending.Close()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, op := range dbOps {
		t.Run(op.name, func(t *testing.T) {
			if err := op.call(db); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close = %v, want ErrClosed", op.name, err)
			}
		})
	}
	// A batch made before Close is rejected, not a use-after-free.
	pending.PutMeta([]byte("m"), []byte("v"))
	if err := db.Write(pending); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write of pending batch = %v, want ErrClosed", err)
	}
	if db.ApproximateSize() != 0 {
		t.Fatal("ApproximateSize after Close is not 0")
	}
	if _, ok := db.Property("rocksdb.estimate-num-keys"); ok {
		t.Fatal("Property after Close reported ok")
	}
}

func TestCloseWhileInUse(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	for i := range 100 {
		mustPut(t, db, "h", fmt.Sprintf("%03d", i), "v", 0)
	}
	var wg sync.WaitGroup
	started := make(chan struct{}, len(dbOps))
	errs := make(chan error, len(dbOps))
	for _, op := range dbOps[:len(dbOps)-2] { // not Checkpoint or Close
		wg.Go(func() {
			for i := 0; ; i++ {
				if i == 1 {
					started <- struct{}{}
				}
				if err := op.call(db); err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- fmt.Errorf("%s: %w", op.name, err)
					}
					return
				}
			}
		})
	}
	for range len(dbOps) - 2 {
		<-started
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("call racing Close: %v", err)
	}
}
