package rocksdb

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// put writes records of hashKey in one batch: sortKeys[i] gets value.
func put(t testing.TB, db *DB, hashKey []byte, sortKeys [][]byte, value []byte, expireTS uint32) {
	t.Helper()
	b := db.NewBatch()
	defer b.Close()
	for _, sk := range sortKeys {
		b.Put(hashKey, sk, value, expireTS)
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
}

func keys(names ...string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

// MultiGet returns the live records asked for, in the order asked.
func TestMultiGet(t *testing.T) {
	clock := newFakeClock()
	db := mustOpen(t, mustNewShared(t), Options{Now: clock.Now})
	put(t, db, []byte("h"), keys("a", "b"), []byte("v"), 0)
	put(t, db, []byte("h"), keys("c"), []byte("ttl"), clock.Unix()+10)
	put(t, db, []byte("h"), keys("gone"), []byte("x"), clock.Unix()+1)
	put(t, db, []byte("other"), keys("a"), []byte("o"), 0)
	clock.Advance(time.Second)
	recs, err := db.MultiGet([]byte("h"), keys("c", "nope", "gone", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[0].SortKey) != "c" || string(recs[0].Value) != "ttl" || recs[0].ExpireTS != clock.Unix()+9 ||
		string(recs[1].SortKey) != "a" || string(recs[1].Value) != "v" || string(recs[1].HashKey) != "h" {
		t.Fatalf("multi-get = %+v, want c then a", recs)
	}
	if recs, err := db.MultiGet([]byte("none"), keys("a")); err != nil || len(recs) != 0 {
		t.Fatalf("multi-get of an absent hash key = %v, %v", recs, err)
	}
}

// A MultiGet racing writes of whole batches sees each batch whole: every
// field it returns comes from one batch.
func TestMultiGetSeesBatchesWhole(t *testing.T) {
	db := mustOpen(t, mustNewShared(t), Options{})
	fields := keys("f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9")
	put(t, db, []byte("h"), fields, []byte("init"), 0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			put(t, db, []byte("h"), fields, fmt.Appendf(nil, "v%d", i), 0)
		}
	})
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	for range 20000 {
		recs, err := db.MultiGet([]byte("h"), fields)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(fields) {
			t.Fatalf("%d fields, want %d", len(recs), len(fields))
		}
		for _, r := range recs {
			if !bytes.Equal(r.Value, recs[0].Value) {
				t.Fatalf("torn read: %s=%s beside %s=%s", r.SortKey, r.Value, recs[0].SortKey, recs[0].Value)
			}
		}
	}
}
