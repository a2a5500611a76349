package replica

import "errors"

var (
	// ErrNotLeader is returned when a write or a linearizable read reaches a
	// replica that is not its partition's leader.
	ErrNotLeader = errors.New("replica: not leader")
	// ErrClosed is returned by a replica after Close.
	ErrClosed = errors.New("replica: closed")
	// ErrNotMember is returned for a node id that is not a member of the
	// replica's raft group.
	ErrNotMember = errors.New("replica: not a member of the group")
	// ErrMalformedCommand is returned when a raft command cannot be decoded.
	ErrMalformedCommand = errors.New("replica: malformed command")
	// ErrMalformedSnapshot is returned when a streamed snapshot is not a
	// flat archive of regular files with a manifest.
	ErrMalformedSnapshot = errors.New("replica: malformed snapshot stream")
	// ErrInvalidScan is returned for a scan whose hash key is too long or
	// whose cursor does not lie among the hash key's records.
	ErrInvalidScan = errors.New("replica: invalid scan range")
	// ErrMalformedState is returned when state a replica keeps with its
	// data (the applied decree, duplication progress) cannot be decoded.
	ErrMalformedState = errors.New("replica: malformed replica state")
	// ErrTimeout is returned when a call's context ends, or raft's queue
	// stays full, before anything was proposed: a read barrier that was not
	// confirmed in time, or a write still queued when its caller stopped
	// waiting (it is withdrawn from the queue, so it can never apply).
	// Nothing changed, so a retry is safe.
	ErrTimeout = errors.New("replica: timed out")
	// ErrOutcomeUnknown is returned when a write was handed to raft but its
	// outcome was not learned: the leader lost leadership before it
	// committed, raft shut down, the log write failed, or the caller stopped
	// waiting. It may or may not apply. Retrying it could apply it twice
	// around other writes, so callers must report it, not retry it.
	ErrOutcomeUnknown = errors.New("replica: write outcome unknown")
)
