package robustness

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/tests/e2e"
	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

var (
	flagRuns     = flag.Int("robust.runs", 1, "number of runs (seeds seed, seed+1, ...)")
	flagDuration = flag.Duration("robust.duration", 40*time.Second, "client load per run, faults included")
	flagSeed     = flag.Uint64("robust.seed", 1, "seed of the first run")
	flagFaults   = flag.String("robust.faults", "kill,pause,partition,delay,failpoint,transfer", "fault kinds to inject, comma-separated")
	flagBudget   = flag.Int64("robust.budget", lincheck.DefaultBudget, "porcupine's budget per hash key, in model steps (0: none)")
)

// TestMain removes the binaries the runs built.
func TestMain(m *testing.M) {
	code := m.Run()
	e2e.RemoveBuilds()
	os.Exit(code)
}

// TestRobustness runs the load with faults and checks linearizability,
// lost acknowledged writes and replica checksums. Without flags it is the
// short fixed-seed run `make test` includes; `make test-robustness` runs
// several longer ones.
func TestRobustness(t *testing.T) {
	faults, err := ParseFaults(*flagFaults)
	if err != nil {
		t.Fatal(err)
	}
	// Every run saves its history (and a failed one its data) under one
	// directory, seed by seed.
	artifacts := os.Getenv("TANDEM_ROBUSTNESS_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "tandem-robustness-"+time.Now().Format("20060102-150405"))
	}
	var results []Result
	for i := 0; i < *flagRuns; i++ {
		opts := DefaultOptions()
		opts.Seed, opts.Duration, opts.Faults, opts.CheckBudget = *flagSeed+uint64(i), *flagDuration, faults, *flagBudget
		opts.Artifacts = artifacts
		t.Run(fmt.Sprintf("seed=%d", opts.Seed), func(t *testing.T) {
			res := Run(t, opts)
			results = append(results, res)
			t.Log(res.Summary())
			for _, l := range res.RefusedApplied {
				t.Errorf("write the SDK reported as not applied was applied: %s", l)
			}
			for _, l := range res.LostWrites {
				t.Errorf("lost acknowledged write: %s", l)
			}
			for _, m := range res.Mismatches {
				t.Errorf("replicas differ: %s", m)
			}
			if !res.OK() {
				t.Errorf("run failed: %s; artifacts in %s", res.Summary(), res.Artifacts)
			}
		})
	}
	for _, r := range results {
		t.Log(r.Summary())
	}
}
