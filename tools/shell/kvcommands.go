package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
	value, err := s.setValue(a)
	if err != nil {
		return nil, err
	}
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	if err := tbl.Set(ctx, []byte(a.arg(1)), []byte(a.arg(2)), value, opts...); err != nil {
		return nil, err
	}
	return messageResult{text: "OK"}, nil
}

// maxValueBytes is the largest kv.max_value_bytes a cluster accepts
// (server/runtimeconfig.go): a bigger value file is refused unsent, and
// never read whole into memory. Smaller ones go to the cluster, whose own
// limit decides.
const maxValueBytes = 64 << 20

// setValue is set's value: its fourth positional, or the content of
// --value-file (exactly one of them).
func (s *session) setValue(a args) ([]byte, error) {
	path, fromFile := a.flags["value-file"]
	switch {
	case fromFile && len(a.pos) == 4:
		return nil, fmt.Errorf("%w: give VALUE or --value-file, not both", errUsage)
	case !fromFile && len(a.pos) == 3:
		return nil, fmt.Errorf("%w: VALUE missing: give VALUE or --value-file PATH", errUsage)
	case !fromFile:
		return []byte(a.arg(3)), nil
	case path == "-":
		return s.readStdinValue()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errValueFile, err)
	}
	defer f.Close()
	return readValue(f, path)
}

// readStdinValue reads stdin to its end as a value, once per session, and
// only when the commands do not come from stdin themselves.
func (s *session) readStdinValue() ([]byte, error) {
	if s.stdinCommands {
		return nil, fmt.Errorf("%w: --value-file - reads stdin, but the commands come from stdin: give a file, or the commands with -e", errValueFile)
	}
	if s.stdinRead {
		return nil, fmt.Errorf("%w: stdin was already read by an earlier --value-file -", errValueFile)
	}
	s.stdinRead = true
	return readValue(s.stdin, "stdin")
}

// readValue reads r (named name) whole, refusing more than maxValueBytes.
func readValue(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", errValueFile, name, err)
	}
	if len(b) > maxValueBytes {
		return nil, fmt.Errorf("%w: %s holds more than %d bytes, the largest kv.max_value_bytes a cluster accepts; nothing was sent",
			errValueTooLarge, name, maxValueBytes)
	}
	return b, nil
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
