package logdb

import "github.com/tandem-kv/tandem/rocksdb"

// Stats reports the log store's RocksDB figures (memtables, SST files,
// pending compaction, stalls); zero after Close.
func (db *DB) Stats() rocksdb.StoreStats { return db.kv.Stats() }
