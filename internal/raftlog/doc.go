// Package raftlog adapts hashicorp/raft's logging (hclog) to zap, for every
// raft group of a node: partitions and the meta group.
package raftlog
