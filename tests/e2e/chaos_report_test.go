package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// stallPatience is how long a duplication chaos run waits without any
// progress (no write acknowledged, no change in what tandem-verify reports)
// before it calls the cluster stuck. Waits are on progress, not on a total
// time, so a loaded machine that is merely slow does not fail a run.
const stallPatience = 2 * time.Minute

// chaosRun follows one duplication chaos run: the step under way and the
// last tandem-verify output. When the run fails it says which check failed
// and saves, like the linearizability runs, everything needed to look
// into it: both clusters' node logs and data directories, the last
// tandem-verify output and a report, under TANDEM_ROBUSTNESS_ARTIFACTS (or
// a new directory in the system's temporary directory).
type chaosRun struct {
	t        *testing.T
	seed     int64
	src, dst *Cluster
	dir      string

	mu     sync.Mutex
	step   string
	check  string // the named check that failed, if one did
	verify string // the last tandem-verify output
	notes  []string
}

// newChaosRun starts following a run on src and dst. Call it after both
// clusters started: its cleanup runs before theirs, while the nodes'
// directories still exist.
func newChaosRun(t *testing.T, seed int64, src, dst *Cluster) *chaosRun {
	r := &chaosRun{t: t, seed: seed, src: src, dst: dst, step: "setup"}
	base := os.Getenv("TANDEM_ROBUSTNESS_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "tandem-dupchaos-"+time.Now().Format("20060102-150405"))
	}
	r.dir = filepath.Join(base, fmt.Sprintf("dupchaos-seed%d", seed))
	t.Cleanup(func() {
		if t.Failed() {
			r.saveArtifacts()
		}
	})
	return r
}

// setStep names what the run does now; a failure anywhere (a helper's
// t.Fatal included) is reported as happening during it.
func (r *chaosRun) setStep(format string, args ...any) {
	r.mu.Lock()
	r.step = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	r.t.Logf("seed %d: %s", r.seed, r.step)
}

// note adds a line to the report.
func (r *chaosRun) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// require fails the run at once when err is not nil, naming the check.
func (r *chaosRun) require(check string, err error) {
	r.t.Helper()
	if err == nil {
		return
	}
	r.mu.Lock()
	r.check = check
	r.mu.Unlock()
	r.t.Fatalf("DUPCHAOS seed=%d check failed: %s: %v", r.seed, check, err)
}

// waitAcked waits until w has n acknowledged writes, failing only when
// none is acknowledged for stallPatience.
func (r *chaosRun) waitAcked(w *writer, n int) {
	r.t.Helper()
	last, since := w.count(), time.Now()
	for last < n {
		time.Sleep(10 * time.Millisecond)
		if c := w.count(); c > last {
			last, since = c, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("source writes make progress", fmt.Errorf("no write acknowledged for %s (%d acknowledged, waiting for %d; %d failed)", stallPatience, last, n, w.failures()))
		}
	}
}

// waitIdentical polls tandem-verify until it says identical, failing only
// when its report stops changing for stallPatience (the remote is no
// longer catching up). It returns the identical report.
func (r *chaosRun) waitIdentical(table string) string {
	r.t.Helper()
	var prev string
	since := time.Now()
	for {
		out, ok := Verify(r.t, r.src, r.dst, table)
		r.mu.Lock()
		r.verify = out
		r.mu.Unlock()
		if ok {
			return out
		}
		if out != prev {
			prev, since = out, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("tables identical (tandem-verify)", fmt.Errorf("the remote stopped catching up: tandem-verify said the same for %s:\n%s", stallPatience, out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// failures counts the writes that returned an error.
func (w *writer) failures() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// verifyAckedOn reads every acknowledged source write on the remote and
// returns an error listing the first few that are missing or different.
func verifyAckedOn(tbl *client.Table, acked map[string]string) error {
	var bad []string
	n := 0
	for k, want := range acked {
		hk, sk, _ := strings.Cut(k, "\x00")
		got, err := getPatiently(tbl, []byte(hk), []byte(sk))
		if err == nil && string(got) == want {
			continue
		}
		if n++; len(bad) < 20 {
			bad = append(bad, fmt.Sprintf("%s/%s = %q, %v; want %q", hk, sk, got, err, want))
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d acknowledged writes missing or different on the remote, first ones:\n  %s", n, len(acked), strings.Join(bad, "\n  "))
}

// getPatiently reads a record, retrying while the cluster is unavailable
// (a read is safe to retry) for up to stallPatience.
func getPatiently(tbl *client.Table, hk, sk []byte) ([]byte, error) {
	deadline := time.Now().Add(stallPatience)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := tbl.Get(ctx, hk, sk)
		cancel()
		if err == nil || !errors.Is(err, client.ErrUnavailable) || time.Now().After(deadline) {
			return v, err
		}
	}
}

// leaderNode waits until partition p of table t has a leader in cl and
// returns its node.
func (r *chaosRun) leaderNode(cl *Cluster, c *client.Client, p int) *Node {
	r.t.Helper()
	deadline := time.Now().Add(stallPatience)
	for {
		if nd := cl.Node(leaderOf(r.t, c, "t", p)); nd != nil {
			return nd
		}
		if time.Now().After(deadline) {
			r.require("partitions elect leaders", fmt.Errorf("partition %d of t has no leader in %s after %s", p, cl.Name, stallPatience))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saveArtifacts stops both clusters and copies their logs and data
// directories, the last tandem-verify output and a report into r.dir.
func (r *chaosRun) saveArtifacts() {
	r.mu.Lock()
	step, check, verify, notes := r.step, r.check, r.verify, append([]string(nil), r.notes...)
	r.mu.Unlock()
	if check == "" {
		check = "(a harness step, see the test log)"
	}
	for _, cl := range []*Cluster{r.src, r.dst} {
		if cl != nil {
			cl.Stop()
		}
	}
	var errs []error
	errs = append(errs, os.MkdirAll(r.dir, 0o755))
	for _, cl := range []*Cluster{r.src, r.dst} {
		if cl == nil {
			continue
		}
		for _, nd := range cl.Nodes {
			to := filepath.Join(r.dir, cl.Name, nd.ID)
			errs = append(errs, CopyTree(nd.Data, to, nil), CopyTree(nd.LogPath(), to+".log", nil))
		}
	}
	if verify == "" {
		verify = "(tandem-verify did not run)\n"
	}
	errs = append(errs, os.WriteFile(filepath.Join(r.dir, "verify.txt"), []byte(verify), 0o644))
	report := fmt.Sprintf("duplication chaos seed=%d FAILED\nduring: %s\ncheck: %s\n%s\n", r.seed, step, check, strings.Join(notes, "\n"))
	errs = append(errs, os.WriteFile(filepath.Join(r.dir, "report.txt"), []byte(report), 0o644))
	if err := errors.Join(errs...); err != nil {
		r.t.Errorf("saving artifacts: %v", err)
	}
	r.t.Logf("DUPCHAOS seed=%d FAILED during %q, check: %s; artifacts (node logs, data directories, verify.txt, report.txt) in %s",
		r.seed, step, check, r.dir)
}
