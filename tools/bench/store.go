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
