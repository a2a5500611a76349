package raftnet

import "errors"

var (
	// ErrClosed is returned by a mux, stream layer, heartbeat hub or peer
	// watch after Close.
	ErrClosed = errors.New("raftnet: closed")
	// ErrUnknownGroup is returned when a raft connection names a group the
	// remote node does not host (yet, or any more).
	ErrUnknownGroup = errors.New("raftnet: unknown raft group")
	// ErrRaftUnauthenticated is returned when a node under TLS refuses a
	// raft connection that presented no certificate signed by its CA.
	ErrRaftUnauthenticated = errors.New("raftnet: raft connection not authenticated")
	// ErrGroupExists is returned when a raft group is registered twice on a
	// node.
	ErrGroupExists = errors.New("raftnet: raft group already registered")
	// ErrHeartbeatRefused is returned for a heartbeat the destination node
	// could not deliver: the group is not open there, or not started.
	ErrHeartbeatRefused = errors.New("raftnet: heartbeat refused")
	// ErrMalformedHeartbeat is returned when a heartbeat frame cannot be
	// decoded.
	ErrMalformedHeartbeat = errors.New("raftnet: malformed heartbeat frame")
	// ErrTimeout is returned when a heartbeat frame gets no reply within the
	// hub's frame timeout.
	ErrTimeout = errors.New("raftnet: timed out")
)
