package rocksdb

import (
	"fmt"
	"testing"
	"time"
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

// BenchmarkStatisticsCost runs the same cached reads and unsynced writes on
// an instance counting into the node's statistics and on one without, in
// one run, alternating chunks of 1,000 operations between the two so that
// the machine's load drifts over both alike, and prints the ratio
// (with/without) of each.
func BenchmarkStatisticsCost(b *testing.B) {
	for _, op := range []string{"get", "put"} {
		b.Run(op, func(b *testing.B) {
			var dbs [2]*DB
			for i := range dbs {
				sh := mustNewShared(b)
				if i == 0 {
					sh.stats.destroy()
					sh.stats = nil
				}
				dbs[i] = mustOpen(b, sh, Options{})
				for k := 0; k < 1000; k++ {
					mustPut(b, dbs[i], fmt.Sprintf("h%04d", k), "s", "value", 0)
				}
				if err := dbs[i].Flush(); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([][]byte, 1000)
			for k := range keys {
				keys[k] = []byte(fmt.Sprintf("h%04d", k))
			}
			var took [2]time.Duration
			b.ResetTimer()
			for done, round := 0, 0; done < b.N; round++ {
				chunk := min(1000, b.N-done)
				for j := 0; j < 2; j++ {
					i := (round + j) % 2
					start := time.Now()
					for _, key := range keys[:chunk] {
						if op == "get" {
							_, _, _, _ = dbs[i].Get(key, []byte("s"))
						} else {
							mustPut(b, dbs[i], string(key), "s", "value", 0)
						}
					}
					took[i] += time.Since(start)
				}
				done += chunk
			}
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "ns/op-without")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "ns/op-with")
			b.ReportMetric(float64(took[1])/float64(took[0]), "ratio")
		})
	}
}
