package rocksdb

import "errors"

var (
	// ErrMalformedKey is returned when an encoded record key is shorter than
	// its hash key length prefix says.
	ErrMalformedKey = errors.New("rocksdb: malformed key")
	// ErrMalformedValue is returned when an encoded record value is shorter
	// than its expiry header.
	ErrMalformedValue = errors.New("rocksdb: malformed value")
	// ErrClosed is returned by calls on a DB, KV or Shared after Close.
	ErrClosed = errors.New("rocksdb: closed")
	// ErrBatchClosed is returned when a Batch or KVBatch is written after its
	// Close.
	ErrBatchClosed = errors.New("rocksdb: batch closed")
	// ErrInvalidConfig is returned when a Config or Options value is out of
	// range.
	ErrInvalidConfig = errors.New("rocksdb: invalid config")
)
