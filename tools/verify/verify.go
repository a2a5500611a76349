package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// expiryGrace widens "expired" at comparison time, so that a record the
// servers already treat as expired, by clocks a little ahead of ours, is
// ignored too.
const expiryGrace = 2 * time.Second

// partitionResult is the outcome of comparing one partition.
type partitionResult struct {
	partition      int
	source, target uint64 // live records on each side
	differences    int
}

// result is the outcome of the whole comparison.
type result struct {
	table      string
	partitions []partitionResult
	diffs      []difference // the first --max-diffs differences
}

// identical reports whether no partition differs.
func (r *result) identical() bool { return r.differences() == 0 }

// differences counts the differences of every partition.
func (r *result) differences() int {
	n := 0
	for _, p := range r.partitions {
		n += p.differences
	}
	return n
}

// verify connects to both clusters and compares the table partition by
// partition, printing each partition's outcome as it is known.
func verify(ctx context.Context, o options, out io.Writer) (*result, error) {
	src, closeSrc, err := openTable(ctx, "source", o.source, o.table, o.cred)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	tgt, closeTgt, err := openTable(ctx, "target", o.target, o.table, o.targetCred.Over(o.cred))
	if err != nil {
		return nil, err
	}
	defer closeTgt()
	n := src.Partitions()
	if m := tgt.Partitions(); m != n {
		return nil, fmt.Errorf("table %s has %d partitions on the source but %d on the target; "+
			"the comparison goes partition by partition, so both must have the same count", o.table, n, m)
	}
	res := &result{table: o.table}
	for p := range n {
		pr, diffs, err := verifyPartition(ctx, src, tgt, p, o.maxDiffs-len(res.diffs))
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, err)
		}
		res.partitions = append(res.partitions, pr)
		res.diffs = append(res.diffs, diffs...)
		printPartition(out, pr, diffs)
	}
	return res, nil
}

// openTable dials one cluster with cred and opens the table there. The
// returned function closes the connection.
func openTable(ctx context.Context, side string, addrs []string, table string, cred credflags.Flags) (*client.Table, func(), error) {
	cfg := client.DefaultConfig()
	cfg.Addrs = addrs
	if err := cred.Apply(&cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", side, err)
	}
	c, err := client.DialConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %v: %w", side, addrs, err)
	}
	tbl, err := c.Table(ctx, table)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%s %v: table %s: %w", side, addrs, table, err)
	}
	return tbl, func() { c.Close() }, nil
}

// verifyPartition compares partition p by checksum and, when the
// checksums differ, record by record, keeping at most keep differences.
func verifyPartition(ctx context.Context, src, tgt partitionScanner, p, keep int) (partitionResult, []difference, error) {
	horizon := time.Now().Add(24 * 365 * time.Hour)
	if d, ok := ctx.Deadline(); ok {
		horizon = d.Add(expiryGrace)
	}
	sums, err := checksumBoth(ctx, [2]partitionScanner{src, tgt}, p, horizon)
	if err != nil {
		return partitionResult{}, nil, err
	}
	cutoff := time.Now().Add(expiryGrace)
	s, t := sums[0].Result(cutoff), sums[1].Result(cutoff)
	if s == t {
		return partitionResult{partition: p, source: s.count, target: t.count}, nil, nil
	}
	m, err := mergeBoth(ctx, src, tgt, p, keep)
	if err != nil {
		return partitionResult{}, nil, err
	}
	return partitionResult{partition: p, source: m.source, target: m.target, differences: m.total}, m.diffs, nil
}

// checksumBoth scans partition p on both sides at once and returns each
// side's checksum.
func checksumBoth(ctx context.Context, sides [2]partitionScanner, p int, horizon time.Time) ([2]*checksum, error) {
	var (
		sums [2]*checksum
		errs [2]error
		wg   sync.WaitGroup
	)
	for i, tbl := range sides {
		sums[i] = newChecksum(horizon)
		wg.Go(func() { errs[i] = sumStream(ctx, tbl, p, sums[i]) })
	}
	wg.Wait()
	for i, side := range []string{"source", "target"} {
		if errs[i] != nil {
			return sums, fmt.Errorf("scan %s: %w", side, errs[i])
		}
	}
	return sums, nil
}

// sumStream adds every record of partition p of tbl to sum.
func sumStream(ctx context.Context, tbl partitionScanner, p int, sum *checksum) error {
	s := newScanStream(ctx, tbl, p)
	defer s.Close()
	for {
		r, ok, err := s.Next()
		if err != nil || !ok {
			return err
		}
		sum.Add(r)
	}
}

// mergeBoth scans partition p on both sides again and merges them.
func mergeBoth(ctx context.Context, src, tgt partitionScanner, p, keep int) (mergeResult, error) {
	s, t := newScanStream(ctx, src, p), newScanStream(ctx, tgt, p)
	defer s.Close()
	defer t.Close()
	now := func() time.Time { return time.Now().Add(expiryGrace) }
	return mergeDiff(s, t, p, keep, now)
}
