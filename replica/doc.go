// Package replica runs one partition replica: a hashicorp/raft group whose
// log lives in the node's shared RocksDB log store and whose FSM applies
// mutations to the replica's own RocksDB instance, recording the applied
// decree (raft index) in the same write batch.
//
// All groups of a node share its one listening port through Mux, which tells
// raft connections (magic + group id) from gRPC ones.
package replica
