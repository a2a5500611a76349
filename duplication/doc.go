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
//
// Node is one tandem node's part of it all, behind narrow interfaces of the
// node (Replicas, Replica, Meta; see host.go): it serves Source, runs the
// pullers of the follower partitions it leads (started and stopped on
// leadership and metadata changes), releases the floors and base pins of
// removed duplications, pushes the retention cap to its replicas, and
// assembles `dup show` and the duplication metrics.
//
// Files: host.go (interfaces, Config), node.go (lifecycle), source.go (pull
// API), floors.go (confirmed decrees, release, retention cap), pin.go (base
// pins), followers.go (pullers per led follower partition), puller.go and
// base.go (the follower side), leader.go (finding the source leader),
// status.go (dup show), state.go (typed states), metrics.go, and disaster
// recovery: switchover.go (dup switchover, the partition steps) and
// promote.go (dup promote, the source's check of a promoted remote);
// failback: resync.go (dup resync, on the old source) and divergence.go
// (the divergence file it writes); chains: chain.go (cycle refusal along a
// chain, the switchover's check of the remote's onward duplications, the
// incoming row of dup ls).
// DESIGN.md says why it is built this way.
package duplication
