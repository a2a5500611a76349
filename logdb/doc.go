// Package logdb is a node's raft log: one RocksDB instance holding the log
// and stable store of every raft group on the node (LogDB, one GroupLog per
// group), with group-commit fsyncs, and the duplication retention floor
// that holds compaction of a group's log back (retention.go).
package logdb
