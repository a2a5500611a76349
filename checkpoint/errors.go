package checkpoint

import "errors"

var (
	// ErrInvalid is returned when a checkpoint's manifest or files are
	// malformed or do not match their checksums, or a purpose is unknown.
	ErrInvalid = errors.New("checkpoint: invalid checkpoint")
	// ErrNotFound is returned for a checkpoint id the catalog does not
	// list.
	ErrNotFound = errors.New("checkpoint: not found")
	// ErrClosed is returned for a checkpoint request the scheduler dropped
	// because it or the partition's registration closed.
	ErrClosed = errors.New("checkpoint: scheduler closed")
)
