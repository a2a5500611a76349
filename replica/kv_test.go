package replica

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// mustNewLeader opens the one replica of a group on one node and waits
// until it leads; ctx bounds the test's calls.
func mustNewLeader(t *testing.T) (*Replica, context.Context) {
	t.Helper()
	n := mustNewHBNode(t, "n1", FastRaftTiming(), time.Millisecond)
	r := n.open(1, []*hbNode{n})
	leaderOf(t, []*hbNode{n}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return r, ctx
}

// One replica on one node: writes of mutations and the typed reads, the
// way the server uses them.
func TestRecordAPIWritesAndReads(t *testing.T) {
	r, ctx := mustNewLeader(t)

	var muts []Mutation
	for i := range 5 {
		muts = append(muts, Mutation{Op: OpPut, HashKey: []byte("h"), SortKey: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))})
	}
	muts = append(muts, Mutation{Op: OpPut, HashKey: []byte("other"), SortKey: []byte("s"), Value: []byte("o")},
		Mutation{Op: OpDelete, HashKey: []byte("h"), SortKey: []byte("4")})
	d, err := r.Write(ctx, muts)
	if err != nil || d == 0 || r.Applied() < d {
		t.Fatalf("write: decree %d (applied %d), %v", d, r.Applied(), err)
	}
	if v, _, found, err := r.Get(ctx, []byte("h"), []byte("1")); err != nil || !found || string(v) != "v1" {
		t.Fatalf("get h/1: %q %v %v", v, found, err)
	}
	if _, _, found, err := r.Get(ctx, []byte("h"), []byte("4")); err != nil || found {
		t.Fatalf("get of a deleted record: found %v, %v", found, err)
	}
	recs, err := r.MultiGet(ctx, []byte("h"), [][]byte{[]byte("3"), []byte("4"), []byte("0")})
	if err != nil || len(recs) != 2 || string(recs[0].SortKey) != "3" || string(recs[1].Value) != "v0" {
		t.Fatalf("multi-get: %+v, %v", recs, err)
	}
	if c, err := r.Count(ctx); err != nil || c != 5 {
		t.Fatalf("count %d, %v; want 5", c, err)
	}
	var got []string
	rng := ScanRange{HashKey: []byte("h"), Limit: 3}
	for {
		page, next, err := r.Scan(ctx, rng)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range page {
			got = append(got, string(rec.SortKey))
		}
		if next == nil {
			break
		}
		rng.Cursor = next
	}
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Fatalf("paged scan of h: %v", got)
	}
	if v, _, found, err := r.Local().Get([]byte("other"), []byte("s")); err != nil || !found || string(v) != "o" {
		t.Fatalf("local get: %q %v %v", v, found, err)
	}
}

// A scan cursor of another hash key, or a hash key too long to encode, is
// refused, not read.
func TestScanRangeRefusesForeignCursors(t *testing.T) {
	r, ctx := mustNewLeader(t)
	put(t, r, "a", "1")
	put(t, r, "b", "2")
	_, cursorOfB, err := r.Scan(ctx, ScanRange{Limit: 1}) // the whole partition: a, then b
	if err != nil || cursorOfB == nil {
		t.Fatalf("first page: %x, %v", cursorOfB, err)
	}
	foreign := ScanRange{HashKey: []byte("a"), Cursor: cursorOfB}
	if foreign.CursorInRange() {
		t.Fatal("a cursor at b's record counts as inside a's range")
	}
	if recs, _, err := r.Scan(ctx, foreign); !errors.Is(err, ErrInvalidScan) {
		t.Fatalf("scan of a from b's cursor: %+v, %v; want ErrInvalidScan", recs, err)
	}
	if _, _, err := r.Scan(ctx, ScanRange{HashKey: make([]byte, MaxHashKeyLen+1)}); !errors.Is(err, ErrInvalidScan) {
		t.Fatalf("scan of a hash key too long: %v; want ErrInvalidScan", err)
	}
}

// A mutation the apply path could not take would stop every replica once
// committed: Write refuses it before proposing anything.
func TestWriteRefusesMutationsTheApplyPathCannotTake(t *testing.T) {
	r, ctx := mustNewLeader(t)
	before := r.LastIndex()
	for name, m := range map[string]Mutation{
		"hash key too long": {Op: OpPut, HashKey: make([]byte, MaxHashKeyLen+1), SortKey: []byte("s")},
		"unknown op":        {Op: 9, HashKey: []byte("h")},
	} {
		if _, err := r.Write(ctx, []Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("ok")}, m}); !errors.Is(err, ErrMalformedCommand) {
			t.Errorf("%s: %v, want ErrMalformedCommand", name, err)
		}
	}
	if r.LastIndex() != before {
		t.Fatalf("log grew from %d to %d: a refused write was proposed", before, r.LastIndex())
	}
}
