// Package replica runs one partition replica: a hashicorp/raft group whose
// FSM applies mutations to the replica's own RocksDB instance, recording
// the applied decree (raft index) in the same write batch, and the
// linearizable reads, proposals, snapshots and checkpoints of that one
// partition.
//
// Its API is closed: reads through a View (Read, Local), writes of
// mutations (Write), duplication's log and base methods; nothing outside
// touches the RocksDB instance or the raft group. What a node shares
// between its replicas comes in through Config: the port mux and heartbeat
// hub (raftnet), the raft log store (logdb), the checkpoint scheduler
// (checkpoint). DESIGN.md says why it is built this way.
package replica
