package rocksdb

import (
	"fmt"
	"testing"
)

// Two instances of one Shared report memtable bytes before a flush, SST
// bytes after, and their block reads to the node's one statistics object.
func TestStatsAcrossInstances(t *testing.T) {
	sh := mustNewShared(t)
	a, b := mustOpen(t, sh, Options{}), mustOpenKV(t, t.TempDir(), sh, Options{})
	for i := 0; i < 100; i++ {
		mustPut(t, a, fmt.Sprintf("h%03d", i), "s", "value", 0)
		if err := b.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	if st := a.Stats(); st.MemtableBytes == 0 || st.SSTBytes != 0 {
		t.Fatalf("before a flush: %+v, want memtable bytes and no SST bytes", st)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	if st.SSTBytes == 0 {
		t.Fatalf("after a flush: %+v, want SST bytes", st)
	}
	if sum := st.Add(b.Stats()); sum.MemtableBytes <= st.MemtableBytes {
		t.Fatalf("sum with the KV store's unflushed writes: %+v", sum)
	}
	before := sh.Stats()
	for i := 0; i < 100; i++ {
		if _, _, _, err := a.Get([]byte(fmt.Sprintf("h%03d", i)), []byte("s")); err != nil {
			t.Fatal(err)
		}
	}
	after := sh.Stats()
	if after.BlockCacheHits+after.BlockCacheMisses <= before.BlockCacheHits+before.BlockCacheMisses {
		t.Fatalf("block lookups did not count: before %+v after %+v", before, after)
	}
	if after.BlockCacheCapacity != 8<<20 || after.BlockCacheUsage == 0 {
		t.Fatalf("cache figures %+v, want 8 MiB capacity and some usage", after)
	}
}
