package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// startHeld starts a leader whose batch calls wait until release is
// called, and a table handle on it with one partition.
func startHeld(t *testing.T) (*testNode, *Table, func()) {
	t.Helper()
	cl := newTestCluster(1)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.hold = make(chan struct{})
	n.setRoute(n.addr, n.addr)
	var once sync.Once
	release := func() { once.Do(func() { close(n.hold) }) }
	t.Cleanup(release)
	return n, mustTable(t, mustDial(t, n.addr)), release
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func queued(tbl *Table, write bool) int {
	q := tbl.batches.queue(0, write)
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ops)
}

// While a partition's calls are out, new operations queue and then leave
// together, each with its own result: one refused value fails alone.
func TestQueuedOperationsShareOneCall(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx := context.Background()
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	set := func(k, v string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := tbl.Set(ctx, []byte(k), []byte("s"), []byte(v))
			mu.Lock()
			errs[k] = err
			mu.Unlock()
		}()
	}
	for i := range maxBatchInflight {
		set(fmt.Sprintf("first%d", i), "1")
		waitFor(t, "calls out", func() bool { return n.batchCalls.Load() == int32(i+1) })
	}
	for i := range 10 {
		set(fmt.Sprintf("k%d", i), "v")
	}
	set("bad", "too big")
	waitFor(t, "11 queued operations", func() bool { return queued(tbl, true) == 11 })
	release()
	wg.Wait()
	if got := n.batchCalls.Load(); got != maxBatchInflight+1 {
		t.Errorf("%d calls for %d writes, want %d", got, maxBatchInflight+11, maxBatchInflight+1)
	}
	for k, err := range errs {
		if k == "bad" != errors.Is(err, ErrInvalidArgument) || k != "bad" && err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if got, err := tbl.Get(ctx, []byte("k3"), []byte("s")); err != nil || string(got) != "v" {
		t.Fatalf("get k3 = %q, %v", got, err)
	}
	if _, err := tbl.Get(ctx, []byte("bad"), []byte("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused write stored: %v", err)
	}
}

// An operation whose caller gives up while it is still queued is never
// sent; one already sent reports, for a write, that it may have applied.
func TestAbandonedOperations(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range maxBatchInflight {
		k := fmt.Sprint("first", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = tbl.Set(ctx, []byte(k), []byte("s"), []byte("v"))
		}()
		waitFor(t, "calls out", func() bool { return n.batchCalls.Load() == int32(i+1) })
	}

	qctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := tbl.Set(qctx, []byte("queued"), []byte("s"), []byte("v"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("abandoned queued write: %v, want ErrUnavailable, not ErrAmbiguous", err)
	}
	release()
	wg.Wait()
	if _, err := tbl.Get(ctx, []byte("queued"), []byte("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("abandoned write was sent: %v", err)
	}
	if q := queued(tbl, true); q != 0 {
		t.Fatalf("%d operations left queued", q)
	}
}

// A write whose deadline passes while its call is out may still apply.
func TestSentWriteTimingOutIsAmbiguous(t *testing.T) {
	_, tbl, _ := startHeld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tbl.Set(ctx, []byte("a"), []byte("s"), []byte("v")); !errors.Is(err, ErrAmbiguous) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out sent write: %v, want ErrAmbiguous and DeadlineExceeded", err)
	}
}

// BatchOps 1 sends every operation at once in a call of its own, however
// many are out.
func TestBatchOpsOneSendsAlone(t *testing.T) {
	cl := newTestCluster(1)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.hold = make(chan struct{})
	n.setRoute(n.addr, n.addr)
	cfg := testConfig(t, n.addr)
	cfg.BatchOps = 1
	c, err := DialConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl := mustTable(t, c)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tbl.Set(context.Background(), []byte(fmt.Sprint(i)), nil, []byte("v")); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, "20 calls out at once", func() bool { return n.batchCalls.Load() == 20 })
	close(n.hold)
	wg.Wait()
	if got := n.batchCalls.Load(); got != 20 {
		t.Fatalf("%d calls for 20 writes with BatchOps 1, want 20", got)
	}
	cfg.BatchOps = -1
	if err := cfg.Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative BatchOps: %v", err)
	}
}
