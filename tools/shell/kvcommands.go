package main

import (
	"context"
	"errors"

	"github.com/tandem-kv/tandem/client"
)

func runSet(ctx context.Context, s *session, a args) (result, error) {
	ttl, err := a.durationFlag("ttl")
	if err != nil {
		return nil, err
	}
	var opts []client.WriteOption
	if ttl > 0 {
		opts = append(opts, client.WithTTL(ttl))
	}
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	if err := tbl.Set(ctx, []byte(a.arg(1)), []byte(a.arg(2)), []byte(a.arg(3)), opts...); err != nil {
		return nil, err
	}
	return messageResult{text: "OK"}, nil
}

func runGet(ctx context.Context, s *session, a args) (result, error) {
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	rec, err := tbl.GetRecord(ctx, []byte(a.arg(1)), []byte(a.arg(2)))
	if errors.Is(err, client.ErrNotFound) {
		return valueResult{}, err
	}
	if err != nil {
		return nil, err
	}
	return valueResult{found: true, rec: rec}, nil
}

func runDel(ctx context.Context, s *session, a args) (result, error) {
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	if err := tbl.Del(ctx, []byte(a.arg(1)), []byte(a.arg(2))); err != nil {
		return nil, err
	}
	return messageResult{text: "OK"}, nil
}

func runScan(ctx context.Context, s *session, a args) (result, error) {
	limit, err := a.intFlag("limit", 0)
	if err != nil {
		return nil, err
	}
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	if len(a.pos) == 2 {
		recs, err := tbl.ScanHashKey(ctx, []byte(a.arg(1)), limit)
		if err != nil {
			return nil, err
		}
		return scanResult{recs}, nil
	}
	var recs []client.Record
	err = tbl.ScanAll(ctx, func(r client.Record) error {
		if limit > 0 && len(recs) == limit {
			return errStopScan
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	return scanResult{recs}, nil
}

func runCount(ctx context.Context, s *session, a args) (result, error) {
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	n, err := tbl.Count(ctx)
	if err != nil {
		return nil, err
	}
	return countResult{n}, nil
}

func runConfigGet(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := c.GetConfig(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return configResult{entries}, nil
}

func runConfigSet(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	entry, err := c.SetConfig(ctx, a.arg(0), a.arg(1))
	if err != nil {
		return nil, err
	}
	return configSetResult{entry}, nil
}
