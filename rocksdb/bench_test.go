package rocksdb

import (
	"encoding/binary"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
)

// benchWriters is the number of concurrent writers in the synced benchmarks,
// roughly the partitions of one node writing at once.
const benchWriters = 64

// benchSyncedPut runs benchWriters goroutines, each writing batches of
// perBatch 256-byte records with Sync on, against a DB and a KV.
func benchSyncedPut(b *testing.B, perBatch int) {
	value := make([]byte, 256)
	b.Run("db", func(b *testing.B) {
		db := mustOpen(b, mustNewShared(b), Options{Sync: true})
		runSyncedPut(b, perBatch, func(keys [][]byte) error {
			batch := db.NewBatch()
			defer batch.Close()
			for _, k := range keys {
				batch.Put(k[:4], k[4:], value, 0)
			}
			return db.Write(batch)
		})
	})
	for _, kvCase := range []struct {
		name  string
		write func(kv *KV, batch *KVBatch) error
	}{
		{"kv", (*KV).Write},
		{"kv-write-synced", (*KV).WriteSynced},
	} {
		b.Run(kvCase.name, func(b *testing.B) {
			kv := mustOpenKV(b, filepath.Join(b.TempDir(), "kv"), mustNewShared(b), Options{Sync: true})
			runSyncedPut(b, perBatch, func(keys [][]byte) error {
				batch := kv.NewBatch()
				defer batch.Close()
				for _, k := range keys {
					batch.Put(k, value)
				}
				return kvCase.write(kv, batch)
			})
		})
	}
}

// runSyncedPut drives write from benchWriters goroutines; each b.N iteration
// is one record, so ns/op is per record.
func runSyncedPut(b *testing.B, perBatch int, write func(keys [][]byte) error) {
	var seq atomic.Uint64
	b.SetBytes(256)
	b.SetParallelism((benchWriters + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		keys := make([][]byte, 0, perBatch)
		for {
			keys = keys[:0]
			for len(keys) < perBatch && pb.Next() {
				k := make([]byte, 12)
				binary.BigEndian.PutUint64(k[4:], seq.Add(1))
				keys = append(keys, k)
			}
			if len(keys) == 0 {
				return
			}
			if err := write(keys); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSyncedPut measures one record per synced batch from 64 writers.
func BenchmarkSyncedPut(b *testing.B) { benchSyncedPut(b, 1) }

// BenchmarkSyncedPut16 measures 16 records per synced batch from 64 writers.
func BenchmarkSyncedPut16(b *testing.B) { benchSyncedPut(b, 16) }

// BenchmarkSyncedPutOneWriter measures one synced single-record write at a
// time: the latency of one write plus fsync, which bounds any store that
// needs several such writes in sequence per acknowledged write (a raft
// leader's log, then a follower's).
func BenchmarkSyncedPutOneWriter(b *testing.B) {
	db := mustOpen(b, mustNewShared(b), Options{Sync: true})
	value := make([]byte, 256)
	k := make([]byte, 12)
	b.SetBytes(256)
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(k[4:], uint64(i))
		batch := db.NewBatch()
		batch.Put(k[:4], k[4:], value, 0)
		if err := db.Write(batch); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
}
