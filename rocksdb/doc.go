// Package rocksdb is the only package in Tandem that talks to RocksDB (through
// grocksdb). It hides cgo resource lifetimes and exposes two stores:
//
//   - DB holds one partition replica's data. Column family "default" holds
//     records in the Pegasus model (hash key + sort key -> value with an
//     optional expiry time); column family "meta" holds replica metadata such
//     as the applied decree. A Batch writes records and metadata atomically,
//     and atomic flush keeps them consistent on disk even when the caller
//     writes without RocksDB's WAL. A compaction filter drops expired records;
//     reads never return them, whether or not compaction has run yet.
//   - KV is a plain ordered key-value store. The node's shared raft log store
//     is built on it, so its writes honour Options.Sync and concurrent synced
//     writes are group-committed by RocksDB.
//
// All instances of one node are opened against one Shared, which owns the
// LRU block cache, the table options and the background thread pool, so that
// hundreds of instances stay light.
//
// Every []byte this package returns is a Go-owned copy; callers may keep and
// modify it. DB and KV are safe for concurrent use. Close waits for
// in-flight calls; calls after Close return ErrClosed.
//
// Key layout: EncodeKey puts a 2-byte big-endian hash key length before the
// hash key, so records of one hash key are contiguous and sorted by sort key,
// while different hash keys sort first by length and then bytewise.
package rocksdb
