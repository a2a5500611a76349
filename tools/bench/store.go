package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

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

// etcdStore drives an etcd cluster with its v3 client: Put, and Get with
// etcd's default linearizable reads.
type etcdStore struct{ cli *clientv3.Client }

func (s etcdStore) Set(ctx context.Context, key, value []byte) error {
	_, err := s.cli.Put(ctx, string(key), string(value))
	return err
}

func (s etcdStore) Get(ctx context.Context, key []byte) (bool, error) {
	resp, err := s.cli.Get(ctx, string(key))
	if err != nil {
		return false, err
	}
	return len(resp.Kvs) > 0, nil
}

// A record in etcd is one key per field under the record's prefix,
// "KEY/FIELD", the usual way to keep a row in a flat key space.

// recordPrefix is the prefix of record key's fields.
func recordPrefix(key []byte) string { return string(key) + "/" }

// ReadRecord is one linearizable range get of the record's prefix.
func (s etcdStore) ReadRecord(ctx context.Context, key []byte, _ [][]byte) (bool, error) {
	resp, err := s.cli.Get(ctx, recordPrefix(key), clientv3.WithPrefix())
	if err != nil {
		return false, err
	}
	return len(resp.Kvs) > 0, nil
}

// UpdateField is one Put.
func (s etcdStore) UpdateField(ctx context.Context, key, field, value []byte) error {
	_, err := s.cli.Put(ctx, recordPrefix(key)+string(field), string(value))
	return err
}

// WriteRecord is one transaction of a Put per field.
func (s etcdStore) WriteRecord(ctx context.Context, key []byte, fields, values [][]byte) error {
	puts := make([]clientv3.Op, len(fields))
	for i, f := range fields {
		puts[i] = clientv3.OpPut(recordPrefix(key)+string(f), string(values[i]))
	}
	_, err := s.cli.Txn(ctx).Then(puts...).Commit()
	return err
}

// openEtcd connects to the etcd endpoints.
func openEtcd(ctx context.Context, o options) (etcdStore, func(), error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: o.addrs, DialTimeout: min(5*time.Second, o.timeout), Logger: zap.NewNop()})
	if err != nil {
		return etcdStore{}, nil, fmt.Errorf("etcd %v: %w", o.addrs, err)
	}
	sctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if _, err := cli.Status(sctx, o.addrs[0]); err != nil {
		cli.Close()
		return etcdStore{}, nil, fmt.Errorf("etcd %s: %w", o.addrs[0], err)
	}
	return etcdStore{cli: cli}, func() { cli.Close() }, nil
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
