package robustness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tests/e2e"
	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

// Options configures one run.
type Options struct {
	Seed     uint64
	Duration time.Duration // of client load, faults included
	Faults   []FaultKind
	Nodes    int
	// Partitions of the test table; every node holds a replica of each.
	Partitions int
	Clients    int
	// Rate caps the operations per second of all clients together, so the
	// history stays small enough to check exhaustively.
	Rate               int
	HashKeys, SortKeys int
	OpTimeout          time.Duration
	// Quiet is the fault-free time between two faults.
	Quiet time.Duration
	// CheckBudget bounds porcupine's search per hash key, in model steps
	// (see lincheck.Check); past it the key is Unknown, which fails the run.
	// 0 means no bound.
	CheckBudget int64
	// Artifacts is where every run saves its history (history.json) and
	// report, and a failed run also its history drawing and the nodes'
	// data and logs; empty means a new directory under os.TempDir().
	Artifacts string
}

// DefaultOptions is a run of 45s with every fault kind.
func DefaultOptions() Options {
	return Options{
		Seed: 1, Duration: 45 * time.Second, Faults: AllFaults, Nodes: 3, Partitions: 4,
		Clients: 12, Rate: 400, HashKeys: 12, SortKeys: 3, OpTimeout: 2 * time.Second,
		Quiet: time.Second, CheckBudget: lincheck.DefaultBudget,
	}
}

// Result is what a run found.
type Result struct {
	Seed          uint64
	Faults        map[FaultKind]int
	FailpointsHit int
	// Ops is the number of operations recorded. Of the writes, Acked
	// succeeded, Ambiguous failed with client.ErrAmbiguous (checked as maybe
	// applied; Pruned of them dropped, see lincheck.Prune) and Refused
	// failed otherwise (checked as not applied); FailedReads observed
	// nothing and are not checked.
	Ops, Acked, Ambiguous, Pruned, Refused, FailedReads int
	Check                                               lincheck.Report
	// RefusedApplied lists reads that returned a refused write's value.
	RefusedApplied []string
	LostWrites     []string
	Mismatches     []string
	// Artifacts is the run's directory; History the saved history in it.
	Artifacts, History string
	Took               time.Duration
}

// OK reports whether the run found nothing wrong.
func (r Result) OK() bool {
	return r.Check.Result == porcupine.Ok && len(r.RefusedApplied) == 0 && len(r.LostWrites) == 0 && len(r.Mismatches) == 0
}

// Summary is the run's one-line report.
func (r Result) Summary() string {
	var faults []string
	for _, k := range AllFaults {
		if n := r.Faults[k]; n > 0 {
			faults = append(faults, fmt.Sprintf("%s=%d", k, n))
		}
	}
	res := "ok"
	if !r.OK() {
		res = fmt.Sprintf("FAILED (linearizability %s, %d refused writes applied, %d lost acknowledged writes, %d checksum problems)",
			r.Check.Result, len(r.RefusedApplied), len(r.LostWrites), len(r.Mismatches))
	}
	return fmt.Sprintf("seed=%d faults[%s] failpoints-hit=%d ops=%d (acked %d, ambiguous writes %d of which %d pruned as never read, refused writes %d, failed reads dropped %d) "+
		"linearizability=%s refused-writes-applied=%d lost-acked-writes=%d checksum-problems=%d history=%s took=%s: %s",
		r.Seed, strings.Join(faults, " "), r.FailpointsHit, r.Ops, r.Acked, r.Ambiguous, r.Pruned, r.Refused, r.FailedReads,
		r.Check.Summary(), len(r.RefusedApplied), len(r.LostWrites), len(r.Mismatches), r.History, r.Took.Round(time.Second), res)
}

const tableName = "robust"

// run is the state of one run.
type run struct {
	t    testing.TB
	opts Options
	fc   *faultCluster
	cli  *client.Client
	tbl  *client.Table
	h    *History
	res  Result

	dir   string // the run's artifacts directory
	saved bool   // artifacts saved
}

// Run starts a cluster, runs the load with faults for opts.Duration,
// heals, checks the history and the replicas, and returns what it found.
// It must be called from the test's goroutine.
func Run(t testing.TB, opts Options) Result {
	t.Helper()
	start := time.Now()
	r := &run{t: t, opts: opts, res: Result{Seed: opts.Seed, Faults: map[FaultKind]int{}}}
	r.dir = artifactsDir(opts)
	r.res.Artifacts = r.dir
	r.fc = startFaultCluster(t, opts.Nodes, hasFault(opts.Faults, FaultFailpoint))
	// A run that stops early (a node that does not come back) keeps its
	// data and logs too; this runs before the cluster's own cleanup.
	t.Cleanup(func() {
		if t.Failed() && !r.saved {
			if r.h != nil && r.res.History == "" {
				r.res.History = r.saveHistory(r.h.Records())
			}
			r.saveArtifacts(nil)
		}
	})
	r.setup()
	r.h = NewHistory()
	loadStart := time.Now()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < opts.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r.client(c, stop)
		}(c)
	}
	r.injectFaults(loadStart.Add(opts.Duration))
	close(stop)
	wg.Wait()
	r.fc.healNetwork()
	for _, nd := range r.fc.Nodes {
		nd.WaitHealthy(time.Minute)
	}
	r.finalReads()
	r.res.Took = time.Since(start) // load, faults and healing; the check is timed on its own
	r.check()
	return r.res
}

// setup creates the table and makes checkpoints, raft snapshots and
// checkpoint GC frequent.
func (r *run) setup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := client.DefaultConfig()
	cfg.Addrs = r.fc.Addrs()
	cfg.RequestTimeout = r.opts.OpTimeout
	cli, err := client.DialConfig(ctx, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { cli.Close() })
	r.cli = cli
	if _, err := cli.CreateTable(ctx, tableName, r.opts.Partitions, r.opts.Nodes); err != nil {
		r.t.Fatal(err)
	}
	for _, kv := range [][2]string{{"checkpoint.interval", "1s"}, {"raft.snapshot_threshold", "64"}, {"raft.trailing_logs", "32"}, {"checkpoint.retain", "1"}} {
		if _, err := cli.SetConfig(ctx, kv[0], kv[1]); err != nil {
			r.t.Fatalf("config set %s %s: %v", kv[0], kv[1], err)
		}
	}
	if r.tbl, err = cli.Table(ctx, tableName); err != nil {
		r.t.Fatal(err)
	}
	// Every partition serves before the clock starts.
	for i := 0; i < r.opts.HashKeys; i++ {
		if _, err := r.tbl.Get(ctx, []byte(hashKey(i)), []byte("s0")); err != nil && !errors.Is(err, client.ErrNotFound) {
			r.t.Fatalf("first read: %v", err)
		}
	}
}

func hashKey(i int) string { return fmt.Sprintf("h%02d", i) }
func sortKey(i int) string { return fmt.Sprintf("s%d", i) }

// client issues random operations until stop, paced to its share of the
// rate, and records each in the history.
func (r *run) client(id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(r.opts.Seed, uint64(id)+1))
	pause := time.Duration(int64(time.Second) * int64(r.opts.Clients) / int64(r.opts.Rate))
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		case <-time.After(pause/2 + time.Duration(rng.Int64N(int64(pause)))):
		}
		r.do(id, r.randomInput(rng, id, seq))
	}
}

func (r *run) randomInput(rng *rand.Rand, id, seq int) lincheck.Input {
	in := lincheck.Input{HashKey: hashKey(rng.IntN(r.opts.HashKeys))}
	value := fmt.Sprintf("c%d.%d", id, seq)
	switch n := rng.IntN(100); {
	case n < 40:
		in.Kind = lincheck.OpGet
	case n < 70:
		in.Kind = lincheck.OpSet
	case n < 80:
		in.Kind = lincheck.OpDel
	default:
		in.Kind = lincheck.OpMultiSet
		keys := rng.Perm(r.opts.SortKeys)[:2+rng.IntN(r.opts.SortKeys-1)]
		for _, k := range keys {
			in.SortKeys = append(in.SortKeys, sortKey(k))
			in.Values = append(in.Values, value+"."+sortKey(k))
		}
		return in
	}
	in.SortKeys = []string{sortKey(rng.IntN(r.opts.SortKeys))}
	if in.Kind == lincheck.OpSet {
		in.Values = []string{value}
	}
	return in
}

// do runs one operation and records it with the outcome the SDK reported:
// a write is ambiguous only when the SDK says so (client.ErrAmbiguous);
// any other failed write is a refusal, which the SDK guarantees had no
// effect, and is checked as such (see lincheck.Operations). A refused write
// whose refusal says the test itself is wrong (no such table, an invalid
// argument, a read-only table) also fails the test: none should be.
func (r *run) do(id int, in lincheck.Input) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.OpTimeout)
	defer cancel()
	rec := lincheck.Record{Client: id, Input: in, Call: r.h.Now()}
	out, err := r.exec(ctx, in)
	rec.Return, rec.Outcome = r.h.Now(), outcomeOf(in, err)
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.Output = out
	}
	r.h.Add(rec)
	if rec.Outcome == lincheck.Refused && (errors.Is(err, client.ErrInvalidArgument) || errors.Is(err, client.ErrTableNotFound) || errors.Is(err, client.ErrReadOnly)) {
		r.t.Errorf("%s refused: %v", in.Kind, err)
	}
}

// outcomeOf classifies an operation's error.
func outcomeOf(in lincheck.Input, err error) lincheck.Outcome {
	switch {
	case err == nil:
		return lincheck.Acked
	case !in.Kind.IsWrite():
		return lincheck.FailedRead
	case errors.Is(err, client.ErrAmbiguous):
		return lincheck.Ambiguous
	}
	return lincheck.Refused
}

func (r *run) exec(ctx context.Context, in lincheck.Input) (lincheck.Output, error) {
	hk := []byte(in.HashKey)
	switch in.Kind {
	case lincheck.OpGet:
		v, err := r.tbl.Get(ctx, hk, []byte(in.SortKeys[0]))
		if errors.Is(err, client.ErrNotFound) {
			return lincheck.Output{}, nil
		}
		return lincheck.Output{Value: string(v), Found: err == nil}, err
	case lincheck.OpSet:
		return lincheck.Output{}, r.tbl.Set(ctx, hk, []byte(in.SortKeys[0]), []byte(in.Values[0]))
	case lincheck.OpDel:
		return lincheck.Output{}, r.tbl.Del(ctx, hk, []byte(in.SortKeys[0]))
	}
	kvs := make([]client.SortKeyValue, len(in.SortKeys))
	for i := range in.SortKeys {
		kvs[i] = client.SortKeyValue{SortKey: []byte(in.SortKeys[i]), Value: []byte(in.Values[i])}
	}
	return lincheck.Output{}, r.tbl.MultiSet(ctx, hk, kvs)
}

// injectFaults injects one fault at a time until the deadline.
func (r *run) injectFaults(deadline time.Time) {
	p := newPlanner(r.opts.Seed, r.opts.Faults, r.opts.Nodes)
	for n := 1; ; n++ {
		time.Sleep(r.opts.Quiet)
		if len(r.opts.Faults) == 0 || time.Now().Add(4*time.Second).After(deadline) {
			break
		}
		f := p.next()
		r.t.Logf("fault %d at %s: %s", n, time.Duration(r.h.Now()).Round(time.Millisecond), f)
		r.inject(f)
		r.res.Faults[f.kind]++
	}
	if d := time.Until(deadline); d > 0 {
		time.Sleep(d)
	}
}

// inject applies one fault, holds it, heals it and waits until every node
// serves again.
func (r *run) inject(f fault) {
	nd := r.fc.Nodes[f.node]
	switch f.kind {
	case FaultKill:
		nd.Kill()
		time.Sleep(f.hold)
		nd.Start()
	case FaultPause:
		nd.Pause()
		time.Sleep(f.hold)
		nd.Resume()
	case FaultPartition:
		for _, p := range r.fc.proxiesOf(f.node) {
			p.Blackhole()
		}
		time.Sleep(f.hold)
		r.fc.healNetwork()
	case FaultDelay:
		for _, p := range r.fc.proxiesOf(f.node) {
			p.Delay(f.delay)
		}
		time.Sleep(f.hold)
		r.fc.healNetwork()
	case FaultFailpoint:
		r.failpoint(nd, f)
	case FaultTransfer:
		r.transferTo(nd)
		time.Sleep(f.hold)
	}
	for _, nd := range r.fc.Nodes {
		nd.WaitHealthy(time.Minute)
	}
}

// failpoint arms f's failpoint on nd and, if the node crashed there within
// the hold time, restarts it; otherwise disarms it.
func (r *run) failpoint(nd *e2e.Node, f fault) {
	addr := r.fc.gofail[f.node]
	if err := e2e.ArmFailpoint(addr, f.fp.name, f.fp.term); err != nil {
		r.t.Fatalf("arm failpoint: %v", err)
	}
	select {
	case <-nd.Exited():
	case <-time.After(f.hold):
		if err := e2e.DisarmFailpoint(addr, f.fp.name); err != nil {
			// The node may have crashed just now.
			r.t.Logf("disarm %s on %s: %v", f.fp.name, nd.ID, err)
		}
	}
	select {
	case <-nd.Exited():
		r.res.FailpointsHit++
		r.t.Logf("%s crashed at failpoint %s; restarting it", nd.ID, f.fp.name)
		nd.Start()
	case <-time.After(100 * time.Millisecond):
		if strings.Contains(f.fp.term, "panic") {
			r.t.Logf("failpoint %s not reached on %s while armed", f.fp.name, nd.ID)
		}
	}
}

// finalReads reads every record once everything healed, with retries, and
// records the reads in the history, marked final.
func (r *run) finalReads() {
	for i := 0; i < r.opts.HashKeys; i++ {
		for j := 0; j < r.opts.SortKeys; j++ {
			in := lincheck.Input{Kind: lincheck.OpGet, HashKey: hashKey(i), SortKeys: []string{sortKey(j)}}
			for attempt := 0; ; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				call := r.h.Now()
				out, err := r.exec(ctx, in)
				ret := r.h.Now()
				cancel()
				if err == nil {
					r.h.Add(lincheck.Record{Client: r.opts.Clients, Input: in, Output: out, Call: call, Return: ret, Outcome: lincheck.Acked, Final: true})
					break
				}
				if attempt == 10 {
					r.t.Fatalf("final read of %s/%s: %v", in.HashKey, in.SortKeys[0], err)
				}
			}
		}
	}
}

// check saves the history, runs the lost-write and refused-write checks,
// porcupine on the pruned history and the checksums, and saves artifacts
// when anything is wrong.
func (r *run) check() {
	recs := r.h.Records()
	r.count(recs)
	r.res.History = r.saveHistory(recs)
	ops := lincheck.Operations(recs)
	r.res.RefusedApplied = lincheck.RefusedWritesSeen(recs)
	r.res.LostWrites = lincheck.LostWrites(ops, lincheck.FinalReads(recs))
	pruned, dropped := lincheck.Prune(ops)
	r.res.Pruned = dropped
	r.res.Check = lincheck.Check(pruned, r.opts.CheckBudget)
	for _, f := range r.res.Check.Failed() {
		r.t.Errorf("linearizability: %s", f)
	}
	r.res.Mismatches = r.fc.checksums(tableName, r.opts.Partitions, time.Minute)
	r.writeReport()
	if !r.res.OK() {
		r.saveArtifacts(pruned)
	}
}

// count fills the result's operation counts.
func (r *run) count(recs []lincheck.Record) {
	r.res.Ops = len(recs)
	for _, rec := range recs {
		switch rec.Outcome {
		case lincheck.Acked:
			r.res.Acked++
		case lincheck.Ambiguous:
			r.res.Ambiguous++
		case lincheck.Refused:
			r.res.Refused++
		case lincheck.FailedRead:
			r.res.FailedReads++
		}
	}
}

// artifactsDir is the directory of the run with opts.
func artifactsDir(opts Options) string {
	dir := opts.Artifacts
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("tandem-robustness-%s", time.Now().Format("20060102-150405")))
	}
	return filepath.Join(dir, fmt.Sprintf("seed%d", opts.Seed))
}

// saveHistory writes every run's history as JSON, to check again offline
// with no budget (go run ./tests/robustness/cmd/recheck -history PATH),
// and returns its path.
func (r *run) saveHistory(recs []lincheck.Record) string {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.t.Errorf("artifacts: %v", err)
		return ""
	}
	path := filepath.Join(r.dir, "history.json")
	desc := fmt.Sprintf("robustness seed=%d duration=%s faults=%v nodes=%d partitions=%d clients=%d rate=%d hash-keys=%d sort-keys=%d",
		r.opts.Seed, r.opts.Duration, r.opts.Faults, r.opts.Nodes, r.opts.Partitions, r.opts.Clients, r.opts.Rate, r.opts.HashKeys, r.opts.SortKeys)
	if err := lincheck.Save(path, lincheck.File{Run: desc, Records: recs}); err != nil {
		r.t.Errorf("save history: %v", err)
		return ""
	}
	return path
}

// writeReport writes the summary and every problem found to report.txt.
func (r *run) writeReport() {
	lines := []string{r.res.Summary()}
	lines = append(lines, r.res.Check.Failed()...)
	for _, l := range r.res.RefusedApplied {
		lines = append(lines, "refused write applied: "+l)
	}
	for _, l := range r.res.LostWrites {
		lines = append(lines, "lost acknowledged write: "+l)
	}
	for _, l := range r.res.Mismatches {
		lines = append(lines, "replicas differ: "+l)
	}
	err := os.MkdirAll(r.dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dir, "report.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
	if err != nil {
		r.t.Errorf("write report: %v", err)
	}
}

// saveArtifacts adds the history drawing (when the history was checked)
// and the nodes' data directories and logs to the run's directory.
func (r *run) saveArtifacts(pruned []porcupine.Operation) {
	r.saved = true
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.t.Errorf("artifacts: %v", err)
		return
	}
	if pruned != nil {
		if err := lincheck.Visualize(pruned, r.opts.CheckBudget, filepath.Join(r.dir, "history.html")); err != nil {
			r.t.Errorf("visualise history: %v", err)
		}
	}
	if err := r.fc.saveData(r.dir); err != nil {
		r.t.Errorf("save data directories: %v", err)
	}
	r.t.Logf("artifacts (history.json, history.html, report.txt, data directories, logs) in %s", r.dir)
}
