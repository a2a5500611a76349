package client

import (
	"fmt"
	"math"
	"time"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Record is one (hash key, sort key) -> value pair read from a table.
type Record struct {
	HashKey []byte
	SortKey []byte
	Value   []byte
	// ExpireAt is when the record expires; the zero time means never.
	ExpireAt time.Time
}

// SortKeyValue is one sort key and its value, as MultiSet writes them under
// one hash key.
type SortKeyValue struct {
	SortKey []byte
	Value   []byte
}

// WriteOption adjusts a write (Set, MultiSet).
type WriteOption func(*writeOptions)

// writeOptions collects the WriteOptions of one call; err holds the first
// invalid option so the call can report it.
type writeOptions struct {
	ttlSeconds uint32
	err        error
}

// WithTTL makes the written records expire d after the write. d is rounded
// up to whole seconds and must be positive; an invalid d makes the write
// fail with ErrInvalidArgument.
func WithTTL(d time.Duration) WriteOption {
	return func(o *writeOptions) {
		secs, err := ttlSeconds(d)
		if err != nil && o.err == nil {
			o.err = err
		}
		o.ttlSeconds = secs
	}
}

// ttlSeconds rounds d up to whole seconds, the server's TTL unit.
func ttlSeconds(d time.Duration) (uint32, error) {
	if d <= 0 {
		return 0, fmt.Errorf("%w: ttl %v must be positive", ErrInvalidArgument, d)
	}
	secs := (d + time.Second - 1) / time.Second
	if secs > math.MaxUint32 {
		return 0, fmt.Errorf("%w: ttl %v is too long", ErrInvalidArgument, d)
	}
	return uint32(secs), nil
}

// applyWriteOptions folds opts into one writeOptions.
func applyWriteOptions(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// recordFromProto converts a wire record.
func recordFromProto(r *tandempb.Record) Record {
	return Record{
		HashKey:  r.GetHashKey(),
		SortKey:  r.GetSortKey(),
		Value:    r.GetValue(),
		ExpireAt: expireTime(r.GetExpireTs()),
	}
}

// expireTime converts a wire expiry (Unix seconds, 0 for none).
func expireTime(ts uint32) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(int64(ts), 0)
}

// recordsFromProto converts a page of wire records.
func recordsFromProto(rs []*tandempb.Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		out[i] = recordFromProto(r)
	}
	return out
}
