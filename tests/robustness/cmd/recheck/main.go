// Command recheck checks a history a robustness run saved (history.json in
// the run's artifacts directory) again, offline and by default without a
// budget: porcupine searches until it decides, however long that takes.
//
//	go run ./tests/robustness/cmd/recheck -history DIR/seed1/history.json
//	go run ./tests/robustness/cmd/recheck -history H -html out.html   # draw it
//	go run ./tests/robustness/cmd/recheck -history H -no-prune        # the full search
//
// It runs the run's checks on the saved records: linearizability (key by
// key, with the time and model steps each took), refused writes that were
// applied, and lost acknowledged writes. It exits 0 when everything holds,
// 1 when a check failed or stayed undecided, 2 on bad usage or input.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	history, html string
	budget        int64
	noPrune       bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.history, "history", "", "history.json a robustness run saved (required)")
	fs.StringVar(&o.html, "html", "", "also write porcupine's drawing of the checked history to this file")
	fs.Int64Var(&o.budget, "budget", 0, "model steps per hash key before giving up (0: none)")
	fs.BoolVar(&o.noPrune, "no-prune", false, "check every ambiguous write, even those no read saw")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.history == "" || fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("recheck: -history FILE is required, and nothing else")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	f, err := lincheck.Load(o.history)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s\n%s\n", o.history, f.Run)
	ops := lincheck.Operations(f.Records)
	fmt.Fprintf(stdout, "%d records, %d operations to check\n", len(f.Records), len(ops))
	refused := lincheck.RefusedWritesSeen(f.Records)
	lost := lincheck.LostWrites(ops, lincheck.FinalReads(f.Records))
	if !o.noPrune {
		var dropped int
		ops, dropped = lincheck.Prune(ops)
		fmt.Fprintf(stdout, "pruned %d ambiguous writes no read saw\n", dropped)
	}
	rep := lincheck.Check(ops, o.budget)
	for _, k := range rep.Keys {
		fmt.Fprintf(stdout, "  %-6s %6d operations %10d steps %12s  %s\n", k.HashKey, k.Ops, k.Steps, k.Took.Round(time.Microsecond), k.Result)
	}
	fmt.Fprintf(stdout, "linearizability: %s\n", rep.Summary())
	for _, l := range refused {
		fmt.Fprintf(stdout, "refused write applied: %s\n", l)
	}
	for _, l := range lost {
		fmt.Fprintf(stdout, "lost acknowledged write: %s\n", l)
	}
	if o.html != "" {
		if err := lincheck.Visualize(ops, o.budget, o.html); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		fmt.Fprintf(stdout, "drawing in %s\n", o.html)
	}
	if rep.Result != porcupine.Ok || len(refused) > 0 || len(lost) > 0 {
		fmt.Fprintln(stdout, "FAIL")
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
