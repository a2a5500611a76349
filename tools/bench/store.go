package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tandem-kv/tandem/client"
)

// kvStore is what the load generator drives, so Tandem and the baselines
// it is compared with get the very same load.
type kvStore interface {
	// Set writes key (acknowledged = durable as the store promises).
	Set(ctx context.Context, key, value []byte) error
	// Get reads key linearizably; found is false for an absent key.
	Get(ctx context.Context, key []byte) (found bool, err error)
	// ReadRecord reads every field of record key linearizably; found is
	// false when the record has none.
	ReadRecord(ctx context.Context, key []byte, fields [][]byte) (found bool, err error)
	// UpdateField writes one field of record key.
	UpdateField(ctx context.Context, key, field, value []byte) error
	// WriteRecord writes every field of record key atomically: field i
	// gets values[i].
	WriteRecord(ctx context.Context, key []byte, fields, values [][]byte) error
}

// tandemStore drives one Tandem table through the client SDK.
type tandemStore struct{ tbl *client.Table }

func (s tandemStore) Set(ctx context.Context, key, value []byte) error {
	return s.tbl.Set(ctx, key, sortKey, value)
}

func (s tandemStore) Get(ctx context.Context, key []byte) (bool, error) {
	_, err := s.tbl.Get(ctx, key, sortKey)
	if errors.Is(err, client.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ReadRecord is one MultiGet of every field.
func (s tandemStore) ReadRecord(ctx context.Context, key []byte, fields [][]byte) (bool, error) {
	recs, err := s.tbl.MultiGet(ctx, key, fields)
	return len(recs) > 0, err
}

// UpdateField is one Set.
func (s tandemStore) UpdateField(ctx context.Context, key, field, value []byte) error {
	return s.tbl.Set(ctx, key, field, value)
}

// WriteRecord is one MultiSet of every field.
func (s tandemStore) WriteRecord(ctx context.Context, key []byte, fields, values [][]byte) error {
	kvs := make([]client.SortKeyValue, len(fields))
	for i, f := range fields {
		kvs[i] = client.SortKeyValue{SortKey: f, Value: values[i]}
	}
	return s.tbl.MultiSet(ctx, key, kvs)
}

// openTandem connects to Tandem and prepares the table.
func openTandem(ctx context.Context, o options, log io.Writer) (tandemStore, func(), error) {
	cfg := client.DefaultConfig()
	cfg.Addrs = o.addrs
	cfg.RequestTimeout = o.timeout
	cfg.DialTimeout = min(cfg.DialTimeout, o.timeout)
	cfg.BatchOps = o.batchOps
	if err := o.cred.Apply(&cfg); err != nil {
		return tandemStore{}, nil, err
	}
	c, err := client.DialConfig(ctx, cfg)
	if err != nil {
		return tandemStore{}, nil, fmt.Errorf("dial %v: %w", o.addrs, err)
	}
	tbl, err := openTable(ctx, c, o, log)
	if err != nil {
		c.Close()
		return tandemStore{}, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, leaderWait)
	waitLeaders(wctx, c, o.table, log)
	cancel()
	return tandemStore{tbl: tbl}, func() { c.Close() }, nil
}
