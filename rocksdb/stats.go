package rocksdb

/*
#include <stdint.h>
#include "rocksdb/c.h"

typedef struct tandem_stats_t tandem_stats_t;

tandem_stats_t* tandem_stats_create();
void tandem_stats_destroy(tandem_stats_t* s);
void tandem_stats_install(rocksdb_options_t* opts, tandem_stats_t* s);
void tandem_stats_tickers(tandem_stats_t* s, uint64_t* out);
*/
import "C"

import (
	"github.com/linxGnu/grocksdb"
)

// statistics is one RocksDB Statistics object every instance of a Shared
// reports to, so the node's tickers are read in one call (stats_shim.cc).
// Only tickers are kept (no histograms or timers): BenchmarkStatisticsCost
// compares reads and writes with and without it.
type statistics struct {
	c *C.tandem_stats_t
}

func newStatistics() *statistics { return &statistics{c: C.tandem_stats_create()} }

// install makes the instance opened with o count into s.
func (s *statistics) install(o *grocksdb.Options) { C.tandem_stats_install(cOptions(o), s.c) }

func (s *statistics) destroy() {
	C.tandem_stats_destroy(s.c)
	s.c = nil
}

// NodeStats are a Shared's node-wide RocksDB counters and cache figures.
type NodeStats struct {
	// BlockCacheHits and BlockCacheMisses count block lookups in the
	// shared cache by every instance.
	BlockCacheHits, BlockCacheMisses uint64
	// StallMicros is the time writers were delayed or stopped by RocksDB's
	// write stall conditions (too many memtables, L0 files, pending
	// compaction bytes).
	StallMicros uint64
	// BlockCacheUsage and BlockCacheCapacity are the shared cache's bytes.
	BlockCacheUsage, BlockCacheCapacity uint64
}

// Stats reads the node-wide counters; zero after Close.
func (s *Shared) Stats() NodeStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return NodeStats{}
	}
	var t [3]C.uint64_t
	if s.stats != nil {
		C.tandem_stats_tickers(s.stats.c, &t[0])
	}
	return NodeStats{
		BlockCacheHits: uint64(t[0]), BlockCacheMisses: uint64(t[1]), StallMicros: uint64(t[2]),
		BlockCacheUsage: s.cache.GetUsage(), BlockCacheCapacity: s.cache.GetCapacity(),
	}
}

// StoreStats are one instance's storage figures, summed over its column
// families; Add sums them over instances.
type StoreStats struct {
	MemtableBytes          uint64
	SSTBytes               uint64
	PendingCompactionBytes uint64
	// WriteStalled is 1 when RocksDB delays or stops the instance's
	// writes right now.
	WriteStalled uint64
}

// Add returns the sum of s and o.
func (s StoreStats) Add(o StoreStats) StoreStats {
	return StoreStats{s.MemtableBytes + o.MemtableBytes, s.SSTBytes + o.SSTBytes,
		s.PendingCompactionBytes + o.PendingCompactionBytes, s.WriteStalled + o.WriteStalled}
}

// storeStats reads the properties of db's column families.
func storeStats(db *grocksdb.DB, cfs ...*grocksdb.ColumnFamilyHandle) StoreStats {
	var st StoreStats
	prop := func(name string, cf *grocksdb.ColumnFamilyHandle) uint64 {
		var v uint64
		if cf != nil {
			v, _ = db.GetIntPropertyCF(name, cf)
		} else {
			v, _ = db.GetIntProperty(name)
		}
		return v
	}
	for _, cf := range cfs {
		st.MemtableBytes += prop("rocksdb.cur-size-all-mem-tables", cf)
		st.SSTBytes += prop("rocksdb.total-sst-files-size", cf)
		st.PendingCompactionBytes += prop("rocksdb.estimate-pending-compaction-bytes", cf)
	}
	if prop("rocksdb.is-write-stopped", nil) > 0 || prop("rocksdb.actual-delayed-write-rate", nil) > 0 {
		st.WriteStalled = 1
	}
	return st
}

// Stats reads the DB's storage figures; zero after Close.
func (db *DB) Stats() StoreStats {
	if db.rlock() != nil {
		return StoreStats{}
	}
	defer db.mu.RUnlock()
	return storeStats(db.db, db.records, db.meta)
}

// Stats reads the store's storage figures; zero after Close.
func (kv *KV) Stats() StoreStats {
	if kv.rlock() != nil {
		return StoreStats{}
	}
	defer kv.mu.RUnlock()
	return storeStats(kv.db, nil)
}
