package logdb

import "errors"

var (
	// ErrMalformedLog is returned when a stored raft log entry or stable
	// value cannot be decoded.
	ErrMalformedLog = errors.New("logdb: malformed log entry")
)
