// Package logdb is a node's raft log: one RocksDB instance holding the log
// ('l' | group | index) and stable store ('s' | group | name) of every raft
// group on the node, data and meta (DB, one GroupLog per group).
//
// One store, group-commit fsyncs. An append is written without a sync,
// then waits for an fsync that started after its write
// (rocksdb.KV.WriteSynced): appends of many partitions finishing during
// one fsync share the next, and writes go on while it runs (RocksDB's own
// synced writes queue behind the fsync). First and last index and the
// retained bytes are kept per group in memory.
//
// The log is the write-ahead log duplication ships, so compaction of a
// group's head stops at its retention floor, the lowest decree a
// duplication still needs (the replica supplies it), until a RetentionCap
// of bytes or age is exceeded and the remote must re-bootstrap instead
// (retention.go). Raft tolerates a log that starts earlier than it asked.
package logdb
