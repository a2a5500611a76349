package rocksdb

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Writers that finish while an fsync runs share the next one; a failed
// fsync fails its writers and every later one.
func TestWALSyncerSharesFsyncs(t *testing.T) {
	var s walSyncer
	started, release := make(chan struct{}), make(chan struct{})
	var calls int
	var failNext bool
	fsync := func() error {
		calls++
		if calls == 1 {
			close(started)
			<-release
		}
		if failNext {
			failNext = false
			return errors.New("disk gone")
		}
		return nil
	}
	first := make(chan error, 1)
	go func() { first <- s.covered(fsync) }()
	<-started
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.covered(fsync)
		}()
	}
	waitTickets(t, &s, 6)
	close(release)
	wg.Wait()
	close(errs)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d fsyncs for 6 writers, want 2 (the first's, then one for the other 5)", calls)
	}

	s.mu.Lock()
	failNext = true
	s.mu.Unlock()
	if err := s.covered(fsync); err == nil || err.Error() != "disk gone" {
		t.Fatalf("writer covered by a failed fsync: %v", err)
	}
	if err := s.covered(fsync); err == nil || calls != 3 {
		t.Fatalf("next writer after a failed fsync: %v after %d fsyncs; want the same error, no new fsync", err, calls)
	}
}

// waitTickets waits until n writers have taken tickets.
func waitTickets(t *testing.T, s *walSyncer, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		done := s.done
		s.mu.Unlock()
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers waiting, want %d", done, n)
		}
	}
}

// WriteSynced data is there after a reopen, and concurrent writers share
// fsyncs.
func TestWriteSyncedIsDurableAndShared(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kv")
	sh := mustNewShared(t)
	kv := mustOpenKV(t, dir, sh, Options{Sync: true})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := kv.NewBatch()
				b.Put([]byte(fmt.Sprintf("k%d-%d", w, i)), []byte("v"))
				if err := kv.WriteSynced(b); err != nil {
					t.Error(err)
				}
				b.Close()
			}
		}()
	}
	wg.Wait()
	if n := kv.Syncs(); n == 0 || n > writers*each {
		t.Fatalf("%d fsyncs for %d writes", n, writers*each)
	}
	t.Logf("%d fsyncs for %d writes", kv.Syncs(), writers*each)
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	kv = mustOpenKV(t, dir, sh, Options{Sync: true})
	for w := range writers {
		if _, ok, err := kv.Get([]byte(fmt.Sprintf("k%d-%d", w, each-1))); err != nil || !ok {
			t.Fatalf("writer %d's last write after reopen: %v %v", w, ok, err)
		}
	}
	b := kv.NewBatch()
	b.Close()
	if err := kv.WriteSynced(b); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("closed batch: %v", err)
	}
}
