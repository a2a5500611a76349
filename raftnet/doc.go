// Package raftnet carries a node's raft traffic: the connection mux that
// shares the node's one port between gRPC and every raft group (Mux, one
// stream layer per group), the heartbeat hub that coalesces the heartbeats
// of all groups going to the same node (HeartbeatHub, HeartbeatTransport),
// the peer watch that notices a peer's process is gone (PeerWatch), and
// group probing with the first-election campaigner built on it
// (ProbeGroup, Campaigner).
//
// Nothing here knows what a partition is: a raft group is a number.
package raftnet
