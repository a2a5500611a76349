package client

import (
	"context"
	"fmt"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Set writes value under (hashKey, sortKey), replacing any previous value.
// WithTTL makes the record expire.
func (t *Table) Set(ctx context.Context, hashKey, sortKey, value []byte, opts ...WriteOption) error {
	o := applyWriteOptions(opts)
	if err := firstErr(o.err, checkHashKey(hashKey)); err != nil {
		return err
	}
	w := &tandempb.BatchWrite{HashKey: hashKey, SortKey: sortKey, Value: value, TtlSeconds: o.ttlSeconds}
	return t.batched(ctx, t.partitionOf(hashKey), &batchOp{write: w, size: len(hashKey) + len(sortKey) + len(value), keys: 1})
}

// Get returns the value under (hashKey, sortKey), or ErrNotFound when the
// record is absent or expired.
func (t *Table) Get(ctx context.Context, hashKey, sortKey []byte) ([]byte, error) {
	r, err := t.GetRecord(ctx, hashKey, sortKey)
	if err != nil {
		return nil, err
	}
	return r.Value, nil
}

// GetRecord is Get that also returns the record's expiry.
func (t *Table) GetRecord(ctx context.Context, hashKey, sortKey []byte) (Record, error) {
	if err := checkHashKey(hashKey); err != nil {
		return Record{}, err
	}
	op := &batchOp{get: &tandempb.GetRequest{HashKey: hashKey, SortKey: sortKey}, size: len(hashKey) + len(sortKey), keys: 1}
	if err := t.batched(ctx, t.partitionOf(hashKey), op); err != nil {
		return Record{}, err
	}
	res := op.res
	if !res.GetFound() {
		return Record{}, ErrNotFound
	}
	return Record{HashKey: hashKey, SortKey: sortKey, Value: res.GetValue(), ExpireAt: expireTime(res.GetExpireTs())}, nil
}

// Del deletes the record under (hashKey, sortKey). Deleting an absent
// record is not an error.
func (t *Table) Del(ctx context.Context, hashKey, sortKey []byte) error {
	if err := checkHashKey(hashKey); err != nil {
		return err
	}
	w := &tandempb.BatchWrite{Del: true, HashKey: hashKey, SortKey: sortKey}
	return t.batched(ctx, t.partitionOf(hashKey), &batchOp{write: w, size: len(hashKey) + len(sortKey), keys: 1})
}

// MultiGet reads several sort keys of one hash key atomically. It returns
// the live records found, in the order of sortKeys; absent keys are simply
// missing. sortKeys must not be empty. Concurrent calls to one partition
// share a call (see Table).
func (t *Table) MultiGet(ctx context.Context, hashKey []byte, sortKeys [][]byte) ([]Record, error) {
	if err := checkHashKey(hashKey); err != nil {
		return nil, err
	}
	if len(sortKeys) == 0 {
		return nil, fmt.Errorf("%w: multi-get needs at least one sort key", ErrInvalidArgument)
	}
	size := len(hashKey)
	for _, sk := range sortKeys {
		size += len(sk)
	}
	op := &batchOp{multiGet: &tandempb.MultiGetRequest{HashKey: hashKey, SortKeys: sortKeys}, size: size, keys: len(sortKeys)}
	if err := t.batched(ctx, t.partitionOf(hashKey), op); err != nil {
		return nil, err
	}
	return recordsFromProto(op.recs.GetRecords()), nil
}

// MultiSet writes several sort keys of one hash key atomically: all of
// them or, when any is invalid, none. WithTTL applies to every record
// written. Concurrent calls to one partition share a call and a raft entry
// (see Table).
func (t *Table) MultiSet(ctx context.Context, hashKey []byte, kvs []SortKeyValue, opts ...WriteOption) error {
	o := applyWriteOptions(opts)
	if err := firstErr(o.err, checkHashKey(hashKey)); err != nil {
		return err
	}
	if len(kvs) == 0 {
		return fmt.Errorf("%w: multi-set needs at least one record", ErrInvalidArgument)
	}
	wire := make([]*tandempb.SortKeyValue, len(kvs))
	size := len(hashKey)
	for i, kv := range kvs {
		wire[i] = &tandempb.SortKeyValue{SortKey: kv.SortKey, Value: kv.Value}
		size += len(kv.SortKey) + len(kv.Value)
	}
	ms := &tandempb.MultiSetRequest{HashKey: hashKey, Kvs: wire, TtlSeconds: o.ttlSeconds}
	return t.batched(ctx, t.partitionOf(hashKey), &batchOp{multiSet: ms, size: size, keys: len(kvs)})
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
