package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// result is the outcome of the measured phase.
type result struct {
	o       options
	elapsed time.Duration
	stats   *stats
	errs    *errorLog
}

// measure runs o.clients closed-loop workers on store until o.duration
// passes, o.ops ops were issued, or ctx ends, whichever comes first.
func measure(ctx context.Context, store kvStore, o options) *result {
	errs := &errorLog{}
	budget := &opBudget{limit: o.ops}
	workers := make([]*worker, o.clients)
	var next atomic.Int64
	for i := range workers {
		workers[i] = newWorker(store, o, i, errs)
		if o.op == opLoad {
			workers[i].pick = sequentialPicker(&next, o.keys)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, budget) })
	}
	wg.Wait()
	res := &result{o: o, elapsed: time.Since(start), stats: newStats(), errs: errs}
	for _, w := range workers {
		res.stats.merge(w.stats)
	}
	return res
}

// preload writes every key (every record, all its fields) once with
// o.clients workers, within o.preloadTimeout. It fails when the time runs
// out; write errors are counted and reported but do not stop it.
func preload(ctx context.Context, store kvStore, o options, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.preloadTimeout)
	defer cancel()
	fmt.Fprintf(log, "preloading %d keys with %d clients...\n", o.keys, o.clients)
	errs := &errorLog{}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for id := range o.clients {
		w := newWorker(store, o, id, errs)
		pick := sequentialPicker(&next, o.keys)
		wg.Go(func() {
			for i := pick(); i >= 0 && !ended(ctx); i = pick() {
				if _, err := w.do(ctx, insertKind(o), i); err != nil && !ended(ctx) {
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("preload stopped after %s: %w", elapsed.Round(time.Millisecond), err)
	}
	fmt.Fprintf(log, "preloaded %d keys in %s (%.0f ops/s), %d errors\n",
		o.keys, elapsed.Round(time.Millisecond), float64(o.keys)/elapsed.Seconds(), errs.total)
	printErrors(log, errs)
	return nil
}

// openTable returns the table o names, creating it first when it is
// missing and o.create is set.
func openTable(ctx context.Context, c *client.Client, o options, log io.Writer) (*client.Table, error) {
	tbl, err := c.Table(ctx, o.table)
	if err == nil || !errors.Is(err, client.ErrTableNotFound) || !o.create {
		return tbl, err
	}
	info, cerr := c.CreateTable(ctx, o.table, o.partitions, o.replicas)
	if cerr != nil {
		// Someone else may have created it in between.
		if tbl, err = c.Table(ctx, o.table); err == nil {
			return tbl, nil
		}
		return nil, fmt.Errorf("create table %q: %w", o.table, cerr)
	}
	fmt.Fprintf(log, "created table %s: %d partitions x %d replicas\n",
		info.GetName(), info.GetPartitions(), info.GetReplicas())
	return c.Table(ctx, o.table)
}

// waitLeaders waits until every partition of table has a leader, so that
// elections do not count against the measurement. It gives up quietly at
// ctx's end: the ops then wait for leaders themselves.
func waitLeaders(ctx context.Context, c *client.Client, table string, log io.Writer) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Partitions(ctx, table)
		if err == nil && allLed(resp.GetPartitions()) {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(log, "warning: not every partition of %s has a leader yet\n", table)
			return
		case <-tick.C:
		}
	}
}

// allLed reports whether every partition has a leader.
func allLed(parts []*tandempb.PartitionInfo) bool {
	for _, p := range parts {
		if p.GetLeaderAddr() == "" {
			return false
		}
	}
	return len(parts) > 0
}
