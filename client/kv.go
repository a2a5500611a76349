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
	_, err := t.batched(ctx, t.partitionOf(hashKey), &batchOp{write: w, size: len(hashKey) + len(sortKey) + len(value)})
	return err
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
	get := &tandempb.GetRequest{HashKey: hashKey, SortKey: sortKey}
	res, err := t.batched(ctx, t.partitionOf(hashKey), &batchOp{get: get, size: len(hashKey) + len(sortKey)})
	if err != nil {
		return Record{}, err
	}
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
	_, err := t.batched(ctx, t.partitionOf(hashKey), &batchOp{write: w, size: len(hashKey) + len(sortKey)})
	return err
}

// MultiGet reads several sort keys of one hash key atomically. It returns
// the live records found, in the order of sortKeys; absent keys are simply
// missing. sortKeys must not be empty.
func (t *Table) MultiGet(ctx context.Context, hashKey []byte, sortKeys [][]byte) ([]Record, error) {
	if err := checkHashKey(hashKey); err != nil {
		return nil, err
	}
	if len(sortKeys) == 0 {
		return nil, fmt.Errorf("%w: multi-get needs at least one sort key", ErrInvalidArgument)
	}
	req := &tandempb.MultiGetRequest{Table: t.name, HashKey: hashKey, SortKeys: sortKeys}
	var resp *tandempb.MultiGetResponse
	err := t.call(ctx, t.partitionOf(hashKey), false, func(ctx context.Context, kv tandempb.KVClient) (err error) {
		resp, err = kv.MultiGet(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return recordsFromProto(resp.GetRecords()), nil
}

// MultiSet writes several sort keys of one hash key atomically. WithTTL
// applies to every record written.
func (t *Table) MultiSet(ctx context.Context, hashKey []byte, kvs []SortKeyValue, opts ...WriteOption) error {
	o := applyWriteOptions(opts)
	if err := firstErr(o.err, checkHashKey(hashKey)); err != nil {
		return err
	}
	if len(kvs) == 0 {
		return fmt.Errorf("%w: multi-set needs at least one record", ErrInvalidArgument)
	}
	wire := make([]*tandempb.SortKeyValue, len(kvs))
	for i, kv := range kvs {
		wire[i] = &tandempb.SortKeyValue{SortKey: kv.SortKey, Value: kv.Value}
	}
	req := &tandempb.MultiSetRequest{Table: t.name, HashKey: hashKey, Kvs: wire, TtlSeconds: o.ttlSeconds}
	return t.call(ctx, t.partitionOf(hashKey), true, func(ctx context.Context, kv tandempb.KVClient) error {
		_, err := kv.MultiSet(ctx, req)
		return err
	})
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
