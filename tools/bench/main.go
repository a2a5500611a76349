// Command tandem-bench puts closed-loop load on a Tandem table (or, for
// comparison, an etcd cluster) and reports throughput and latency
// percentiles: --clients goroutines share one client, each with one op in
// flight at a time, for --duration. Ops work on single records (set, get,
// mixed) or on records of --fields fields (load, read-record,
// update-field, update-record, record-mix).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit statuses of tandem-bench.
const (
	exitOK    = 0
	exitFail  = 1 // could not run, or not one op succeeded
	exitUsage = 2 // bad flags
)

// leaderWait bounds the wait for every partition to have a leader.
const leaderWait = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status. Ending ctx
// stops the load early; what was measured is still reported.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(argv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem-bench:", err)
		return exitUsage
	}
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tandem-bench:", err)
		return exitFail
	}
	s := summarize(res)
	printErrors(stderr, res.errs)
	printHuman(stdout, s)
	if o.json {
		if err := printJSON(stdout, s); err != nil {
			fmt.Fprintln(stderr, "tandem-bench:", err)
			return exitFail
		}
	}
	if s.Ops == 0 {
		fmt.Fprintln(stderr, "tandem-bench: no op succeeded")
		return exitFail
	}
	return exitOK
}

// reads reports whether op reads.
func reads(op string) bool {
	return op == opGet || op == opMixed || op == opReadRecord || op == opRecordMix
}

// bench connects to the target, prepares it and measures.
func bench(ctx context.Context, o options, log io.Writer) (*result, error) {
	var store kvStore
	var closeStore func()
	var err error
	if o.target == targetEtcd {
		store, closeStore, err = openEtcd(ctx, o)
	} else {
		store, closeStore, err = openTandem(ctx, o, log)
	}
	if err != nil {
		return nil, err
	}
	defer closeStore()
	if o.preload {
		if err := preload(ctx, store, o, log); err != nil {
			return nil, err
		}
	} else if reads(o.op) {
		fmt.Fprintln(log, "note: without --preload, reads of keys never written count as not found")
	}
	return measure(ctx, store, o), nil
}
