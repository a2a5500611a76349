// Package raftnet carries a node's raft traffic. Nothing here knows what a
// partition is: a raft group is a number, and every group of a node, data
// or meta, uses the same pieces.
//
// One port, many groups. Mux sniffs the first four bytes of every
// connection on the node's address: "TNDR" and an 8-byte group id is raft
// (the mux answers one status byte, so an unknown group is an immediate,
// explained error rather than a hang), anything else is gRPC. Under TLS the
// listener is wrapped before the sniff, and a raft connection must carry a
// client certificate of the cluster's CA. Each group gets a stream layer
// on the mux for its own raft.NetworkTransport (mux.go, stream.go).
//
// Heartbeats are coalesced. With hundreds of groups a node's leaders send
// thousands of empty AppendEntries a second; the node's HeartbeatHub
// gathers those going to the same node into one frame on one connection,
// a reserved mux route (so TLS applies), waiting up to a fortieth of the
// heartbeat timeout for each other (hub.go, sender.go, accept.go, frame.go).
// A group's HeartbeatTransport sends its heartbeats through the hub and all
// else on its own connections, and keeps the heartbeat acks its leader's
// read lease is computed from (transport.go, acks.go). Heartbeats a read's
// VerifyLeader waits for skip the window (HeartbeatHub.Expedite).
//
// Dead peers are noticed at once. PeerWatch holds an idle connection to
// every peer; when it ends and a new one is refused, the peer's process is
// gone, and followers of the groups it led elect after the lease timeout
// instead of the failure-detection timeout (peerwatch.go). The
// VoteTransport under every group makes that election take one round: a
// vote lost to a connection pooled to a dead process is resent, and a
// voter still naming the dead leader answers on the merits of the log once
// its own lease has passed (votes.go; the turns are replica.Elections').
//
// New groups elect at once. ProbeGroup asks a peer whether it has a group
// open; the Campaigner of a group's designated member starts the first
// election as soon as a majority has it open, so a new table gets leaders
// in milliseconds without members splitting their votes (campaign.go).
package raftnet
