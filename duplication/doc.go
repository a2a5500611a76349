// Package duplication copies a table to a remote cluster.
//
// The source side (Source) serves, on each partition leader, a base
// checkpoint pinned for the duplication, its files, and the partition's WAL
// (its raft log) from a decree on; it records the confirmed decree each pull
// carries and persists it through raft, which holds log compaction back.
//
// The follower side (Puller) runs on each partition leader of the remote
// (follower) table: it pulls the base's files (checksummed, resumable),
// installs them through its own raft group, then pulls WAL batches with a
// long poll and proposes them to its group with their source decrees, so a
// re-applied batch changes nothing. When the source says the log it needs
// is gone, it re-bootstraps from a new base.
package duplication
