package robustness

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/server/e2e"
)

var (
	flagRuns     = flag.Int("robust.runs", 1, "number of runs (seeds seed, seed+1, ...)")
	flagDuration = flag.Duration("robust.duration", 40*time.Second, "client load per run, faults included")
	flagSeed     = flag.Uint64("robust.seed", 1, "seed of the first run")
	flagFaults   = flag.String("robust.faults", "kill,pause,partition,delay,failpoint", "fault kinds to inject, comma-separated")
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
	var results []Result
	for i := 0; i < *flagRuns; i++ {
		opts := DefaultOptions()
		opts.Seed, opts.Duration, opts.Faults = *flagSeed+uint64(i), *flagDuration, faults
		opts.Artifacts = os.Getenv("TANDEM_ROBUSTNESS_ARTIFACTS")
		t.Run(fmt.Sprintf("seed=%d", opts.Seed), func(t *testing.T) {
			res := Run(t, opts)
			results = append(results, res)
			t.Log(res.Summary())
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
