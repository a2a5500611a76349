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

// record returns n field records "f0".."f(n-1)" of value v.
func record(n int, v string) []SortKeyValue {
	kvs := make([]SortKeyValue, n)
	for i := range kvs {
		kvs[i] = SortKeyValue{SortKey: fmt.Appendf(nil, "f%d", i), Value: []byte(v)}
	}
	return kvs
}

// fields returns the sort keys of record(n, ...).
func fields(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "f%d", i)
	}
	return out
}

// collect runs fns concurrently; wait returns their errors by name once
// all have returned.
func collect(fns map[string]func() error) (wait func() map[string]error) {
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn()
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		}()
	}
	return func() map[string]error {
		wg.Wait()
		return errs
	}
}

// MultiSets, TTL'd Sets and Dels queued while a partition's write call is
// out leave together in one BatchWrite (no MultiSet call of their own):
// each MultiSet whole, a refused one refused whole with nothing of it
// stored, the others unaffected.
func TestQueuedMultiSetsShareOneCall(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx := context.Background()
	first := collect(map[string]func() error{"first": func() error { return tbl.MultiSet(ctx, []byte("first"), record(3, "v")) }})
	waitFor(t, "the first call out", func() bool { return n.batchCalls.Load() == 1 })

	ops := map[string]func() error{
		"ttl": func() error { return tbl.Set(ctx, []byte("ttl"), []byte("s"), []byte("v"), WithTTL(time.Hour)) },
		"del": func() error { return tbl.Del(ctx, []byte("first"), []byte("f0")) },
		"bad": func() error {
			return tbl.MultiSet(ctx, []byte("bad"), append(record(3, "v"), SortKeyValue{SortKey: []byte("f3"), Value: []byte("too big")}))
		},
	}
	for i := range 10 {
		hk := fmt.Sprint("rec", i)
		ops[hk] = func() error { return tbl.MultiSet(ctx, []byte(hk), record(10, hk), WithTTL(time.Minute)) }
	}
	rest := collect(ops)
	waitFor(t, "13 queued operations", func() bool { return queued(tbl, true) == 13 })
	release()
	errs := rest()
	if err := first()["first"]; err != nil {
		t.Fatal(err)
	}
	if calls, kv := n.batchCalls.Load(), n.kvCalls.Load(); calls != 2 || kv != 2 {
		t.Errorf("%d batch calls, %d KV calls for 14 writes; want 2 batch calls and nothing else", calls, kv)
	}
	for name, err := range errs {
		if name == "bad" != errors.Is(err, ErrInvalidArgument) || name != "bad" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if recs, err := tbl.MultiGet(ctx, []byte("bad"), fields(4)); err != nil || len(recs) != 0 {
		t.Errorf("refused multi-set stored %d of its records (%v)", len(recs), err)
	}
	recs, err := tbl.MultiGet(ctx, []byte("rec7"), fields(10))
	if err != nil || len(recs) != 10 || string(recs[9].Value) != "rec7" || recs[9].ExpireAt.IsZero() {
		t.Fatalf("rec7 = %v, %v; want 10 fields with a TTL", recs, err)
	}
	if r, err := tbl.GetRecord(ctx, []byte("ttl"), []byte("s")); err != nil || r.ExpireAt.IsZero() {
		t.Fatalf("ttl'd set = %+v, %v; want a TTL", r, err)
	}
}

// MultiGets and scan pages queued while a partition's read call is out
// leave together in one BatchGet, each with its own answer.
func TestQueuedRecordReadsShareOneCall(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx := context.Background()
	for h := range 5 {
		hk := fmt.Sprint("rec", h)
		for _, kv := range record(4, hk) {
			_ = n.cl.set([]byte(hk), kv.SortKey, kv.Value, 0)
		}
	}
	first := collect(map[string]func() error{"first": func() error { _, err := tbl.Get(ctx, []byte("rec0"), []byte("f0")); return err }})
	waitFor(t, "the first call out", func() bool { return n.batchCalls.Load() == 1 })

	got := make(map[string][]Record)
	var mu sync.Mutex
	keep := func(name string, recs []Record, err error) error {
		mu.Lock()
		defer mu.Unlock()
		got[name] = recs
		return err
	}
	ops := map[string]func() error{}
	for h := range 5 {
		hk := fmt.Sprint("rec", h)
		ops["get "+hk] = func() error { recs, err := tbl.MultiGet(ctx, []byte(hk), fields(5)); return keep("get "+hk, recs, err) }
		ops["scan "+hk] = func() error { recs, err := tbl.ScanHashKey(ctx, []byte(hk), 0); return keep("scan "+hk, recs, err) }
	}
	ops["scan partition"] = func() error {
		recs, _, err := tbl.ScanPartition(ctx, 0, nil, 0)
		return keep("scan partition", recs, err)
	}
	rest := collect(ops)
	waitFor(t, "11 queued reads", func() bool { return queued(tbl, false) == 11 })
	release()
	for name, err := range rest() {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := first()["first"]; err != nil {
		t.Fatal(err)
	}
	if calls, kv := n.batchCalls.Load(), n.kvCalls.Load(); calls != 2 || kv != 2 {
		t.Errorf("%d batch calls, %d KV calls for 12 reads; want 2 batch calls and nothing else", calls, kv)
	}
	for name, recs := range got {
		want := 4
		if name == "scan partition" {
			want = 20
		}
		if len(recs) != want || name != "scan partition" && string(recs[3].Value) != name[len(name)-4:] {
			t.Errorf("%s = %d records %v, want %d", name, len(recs), recs, want)
		}
	}
}

// Reads the server leaves undone because its reply is full are sent again
// until each is read; nothing fails.
func TestReadsLeftUndoneAreSentAgain(t *testing.T) {
	n, tbl, release := startHeld(t)
	n.replyOps = 2
	ctx := context.Background()
	_ = n.cl.set([]byte("h"), []byte("f0"), []byte("v"), 0)
	first := collect(map[string]func() error{"first": func() error { _, err := tbl.Get(ctx, []byte("h"), []byte("f0")); return err }})
	waitFor(t, "the first call out", func() bool { return n.batchCalls.Load() == 1 })
	ops := map[string]func() error{}
	for i := range 5 {
		ops[fmt.Sprint(i)] = func() error {
			recs, err := tbl.MultiGet(ctx, []byte("h"), fields(2))
			if err == nil && len(recs) != 1 {
				err = fmt.Errorf("%d records, want 1", len(recs))
			}
			return err
		}
	}
	rest := collect(ops)
	waitFor(t, "5 queued reads", func() bool { return queued(tbl, false) == 5 })
	release()
	for name, err := range rest() {
		if err != nil {
			t.Errorf("multi-get %s: %v", name, err)
		}
	}
	if err := first()["first"]; err != nil {
		t.Fatal(err)
	}
	// 1 held, then 2 of the 5 per call: 2 + 2 + 1.
	if calls := n.batchCalls.Load(); calls != 4 {
		t.Errorf("%d batch calls, want 4", calls)
	}
}

// A MultiSet whose deadline passes while its call is out may still apply:
// ErrAmbiguous (and here it does apply, once the server goes on).
func TestSentMultiSetTimingOutIsAmbiguous(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tbl.MultiSet(ctx, []byte("sent"), record(3, "v")); !errors.Is(err, ErrAmbiguous) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out sent multi-set: %v, want ErrAmbiguous and DeadlineExceeded", err)
	}
	release()
	waitFor(t, "the sent multi-set to apply", func() bool { return len(n.cl.multiGet([]byte("sent"), fields(3))) == 3 })
}

// A MultiSet still queued at its deadline was never sent: ErrUnavailable,
// and it never reaches the server.
func TestQueuedMultiSetAbandoned(t *testing.T) {
	n, tbl, release := startHeld(t)
	ctx := context.Background()
	first := collect(map[string]func() error{"first": func() error { return tbl.MultiSet(ctx, []byte("first"), record(3, "v")) }})
	waitFor(t, "the first call out", func() bool { return n.batchCalls.Load() == 1 })
	qctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := tbl.MultiSet(qctx, []byte("queued"), record(3, "v"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("abandoned queued multi-set: %v, want ErrUnavailable, not ErrAmbiguous", err)
	}
	release()
	if err := first()["first"]; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to empty", func() bool { return queued(tbl, true) == 0 })
	if calls := n.batchCalls.Load(); calls != 1 {
		t.Fatalf("%d calls, want the first call only", calls)
	}
	if recs := n.cl.multiGet([]byte("queued"), fields(3)); len(recs) != 0 {
		t.Fatalf("abandoned multi-set was sent: %v", recs)
	}
}

// A server older than this client ignores the multi-sets and multi-gets of
// a batch call and answers no result for them: the write's outcome is then
// unknown, never taken for a success nor retried; the read fails.
func TestServerIgnoringRecordOperations(t *testing.T) {
	cl := newTestCluster(1)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.legacyBatch = true
	n.setRoute(n.addr, n.addr)
	tbl := mustTable(t, mustDial(t, n.addr))
	ctx := context.Background()
	if err := tbl.MultiSet(ctx, []byte("h"), record(2, "v")); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("multi-set = %v, want ErrAmbiguous", err)
	}
	if _, err := tbl.MultiGet(ctx, []byte("h"), fields(2)); err == nil || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("multi-get = %v, want a plain error", err)
	}
	if calls := n.batchCalls.Load(); calls != 2 {
		t.Fatalf("%d calls for 2 operations: one was retried", calls)
	}
}
