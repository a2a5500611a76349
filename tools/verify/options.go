package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// options are the command-line flags.
type options struct {
	source   []string
	target   []string
	table    string
	json     bool
	timeout  time.Duration
	maxDiffs int
	// cred are the credentials of both clusters; targetCred overrides
	// them field by field for the target.
	cred, targetCred credflags.Flags
}

// parseOptions parses and validates the command line.
func parseOptions(argv []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tandem-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "RPC address of a node of the source cluster, or a comma-separated list (required)")
	target := fs.String("target", "", "RPC address of a node of the target cluster, or a comma-separated list (required)")
	fs.StringVar(&o.table, "table", "", "table to compare (required)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on the last line")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time limit of the whole comparison")
	fs.IntVar(&o.maxDiffs, "max-diffs", 20, "most differences to list (all are counted)")
	o.cred.Register(fs, "", "both clusters")
	o.targetCred.Register(fs, "target-", "the target cluster, when it differs")
	if err := fs.Parse(argv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.source, o.target = client.SplitAddrs(*source), client.SplitAddrs(*target)
	return o, o.validate()
}

// validate reports the first problem with o.
func (o options) validate() error {
	switch {
	case len(o.source) == 0:
		return errors.New("--source is required")
	case len(o.target) == 0:
		return errors.New("--target is required")
	case o.table == "":
		return errors.New("--table is required")
	case o.timeout <= 0:
		return fmt.Errorf("--timeout must be positive, not %s", o.timeout)
	case o.maxDiffs < 0:
		return fmt.Errorf("--max-diffs must not be negative, not %d", o.maxDiffs)
	}
	return nil
}
