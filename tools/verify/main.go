// Command tandem-verify compares one table on two Tandem clusters record by
// record and reports whether they hold the same data:
//
//	tandem-verify --source HOST:PORT[,..] --target HOST:PORT[,..] --table T \
//	    [--json] [--timeout 5m] [--max-diffs 20]
//
// Both tables must have the same partition count: the comparison goes
// partition by partition. Each partition is first scanned on both sides at
// once to compute a record count and a checksum; when those match the
// partition is identical. Otherwise both sides are scanned again and merged
// in key order to list the differences: records missing on the target,
// extra on the target, and records whose value or expiry differs.
//
// Output is one line per partition, each differing partition followed by
// its differences (at most --max-diffs in all are shown), and a last line
// "identical: N records" or "differs: ..."; with --json the last line is a
// JSON object instead. The exit status is 0 when the tables are identical,
// 1 when they differ and 2 on a usage or connection error.
//
// Records that expire while the tool runs may be seen on one side only, so
// a record whose expiry (ExpireAt) has passed at comparison time, give or
// take a grace of expiryGrace for clock skew, is ignored on both sides.
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
)

// Exit statuses of tandem-verify.
const (
	exitIdentical = 0
	exitDiffers   = 1
	exitError     = 2 // bad flags, unreachable cluster, missing table
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(argv []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), argv, stdout, stderr)
}

// runContext is run under ctx; ending ctx stops the comparison with an
// error.
func runContext(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(argv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitIdentical
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem-verify:", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := verify(ctx, o, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "tandem-verify:", err)
		return exitError
	}
	if err := printSummary(stdout, res, o.json); err != nil {
		fmt.Fprintln(stderr, "tandem-verify:", err)
		return exitError
	}
	if !res.identical() {
		return exitDiffers
	}
	return exitIdentical
}
