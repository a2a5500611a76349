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
	"github.com/tandem-kv/tandem/server/e2e"
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
	// CheckTimeout bounds porcupine; past it the result is Unknown.
	CheckTimeout time.Duration
	// Artifacts is where a failed run saves its history visualisation and
	// the nodes' data; empty means a new directory under os.TempDir().
	Artifacts string
}

// DefaultOptions is a run of 45s with every fault kind.
func DefaultOptions() Options {
	return Options{
		Seed: 1, Duration: 45 * time.Second, Faults: AllFaults, Nodes: 3, Partitions: 4,
		Clients: 12, Rate: 400, HashKeys: 12, SortKeys: 3, OpTimeout: 2 * time.Second,
		Quiet: time.Second, CheckTimeout: 2 * time.Minute,
	}
}

// Result is what a run found.
type Result struct {
	Seed          uint64
	Faults        map[FaultKind]int
	FailpointsHit int
	// Ops is the number of operations checked; Ambiguous of them are writes
	// whose outcome the client could not know (failed or timed out).
	Ops, Ambiguous, FailedReads int
	Check                       porcupine.CheckResult
	LostWrites                  []string
	Mismatches                  []string
	Artifacts                   string
	Took                        time.Duration
}

// OK reports whether the run found nothing wrong.
func (r Result) OK() bool {
	return r.Check == porcupine.Ok && len(r.LostWrites) == 0 && len(r.Mismatches) == 0
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
		res = fmt.Sprintf("FAILED (linearizability %s, %d lost acknowledged writes, %d checksum problems)", r.Check, len(r.LostWrites), len(r.Mismatches))
	}
	return fmt.Sprintf("seed=%d faults[%s] failpoints-hit=%d ops-checked=%d (ambiguous writes %d, failed reads dropped %d) linearizability=%s lost-acked-writes=%d checksum-problems=%d took=%s: %s",
		r.Seed, strings.Join(faults, " "), r.FailpointsHit, r.Ops, r.Ambiguous, r.FailedReads, r.Check,
		len(r.LostWrites), len(r.Mismatches), r.Took.Round(time.Second), res)
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

	mu          sync.Mutex
	ambiguous   int
	failedReads int
}

// Run starts a cluster, runs the load with faults for opts.Duration,
// heals, checks the history and the replicas, and returns what it found.
// It must be called from the test's goroutine.
func Run(t testing.TB, opts Options) Result {
	t.Helper()
	start := time.Now()
	r := &run{t: t, opts: opts, res: Result{Seed: opts.Seed, Faults: map[FaultKind]int{}}}
	r.fc = startFaultCluster(t, opts.Nodes, hasFault(opts.Faults, FaultFailpoint))
	// A run that stops early (a node that does not come back) keeps its
	// data and logs too; this runs before the cluster's own cleanup.
	t.Cleanup(func() {
		if t.Failed() && r.res.Artifacts == "" {
			r.saveArtifacts(porcupine.LinearizationInfo{}, false)
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
	final := r.finalReads()
	r.check(final)
	r.res.Took = time.Since(start)
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

func (r *run) randomInput(rng *rand.Rand, id, seq int) Input {
	in := Input{HashKey: hashKey(rng.IntN(r.opts.HashKeys))}
	value := fmt.Sprintf("c%d.%d", id, seq)
	switch n := rng.IntN(100); {
	case n < 40:
		in.Kind = OpGet
	case n < 70:
		in.Kind = OpSet
	case n < 80:
		in.Kind = OpDel
	default:
		in.Kind = OpMultiSet
		keys := rng.Perm(r.opts.SortKeys)[:2+rng.IntN(r.opts.SortKeys-1)]
		for _, k := range keys {
			in.SortKeys = append(in.SortKeys, sortKey(k))
			in.Values = append(in.Values, value+"."+sortKey(k))
		}
		return in
	}
	in.SortKeys = []string{sortKey(rng.IntN(r.opts.SortKeys))}
	if in.Kind == OpSet {
		in.Values = []string{value}
	}
	return in
}

// do runs one operation and records it: a failed read is dropped (it
// observed nothing); a failed write is ambiguous. A refused write (the
// table not found, an invalid argument) also fails the test: none should be.
func (r *run) do(id int, in Input) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.OpTimeout)
	defer cancel()
	call := r.h.Now()
	out, err := r.exec(ctx, in)
	ret := r.h.Now()
	switch {
	case err == nil:
		r.h.Add(id, in, out, call, ret)
	case in.Kind == OpGet:
		r.mu.Lock()
		r.failedReads++
		r.mu.Unlock()
	default:
		// Even a refusal is no proof the write did not happen: the SDK may
		// have retried after an attempt that was applied.
		r.mu.Lock()
		r.ambiguous++
		r.mu.Unlock()
		r.h.Add(id, in, Output{}, call, never)
		if errors.Is(err, client.ErrInvalidArgument) || errors.Is(err, client.ErrTableNotFound) || errors.Is(err, client.ErrReadOnly) {
			r.t.Errorf("%s refused: %v", in.Kind, err)
		}
	}
}

func (r *run) exec(ctx context.Context, in Input) (Output, error) {
	hk := []byte(in.HashKey)
	switch in.Kind {
	case OpGet:
		v, err := r.tbl.Get(ctx, hk, []byte(in.SortKeys[0]))
		if errors.Is(err, client.ErrNotFound) {
			return Output{}, nil
		}
		return Output{Value: string(v), Found: err == nil}, err
	case OpSet:
		return Output{}, r.tbl.Set(ctx, hk, []byte(in.SortKeys[0]), []byte(in.Values[0]))
	case OpDel:
		return Output{}, r.tbl.Del(ctx, hk, []byte(in.SortKeys[0]))
	}
	kvs := make([]client.SortKeyValue, len(in.SortKeys))
	for i := range in.SortKeys {
		kvs[i] = client.SortKeyValue{SortKey: []byte(in.SortKeys[i]), Value: []byte(in.Values[i])}
	}
	return Output{}, r.tbl.MultiSet(ctx, hk, kvs)
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

// finalReads reads every record once everything healed, with retries,
// records the reads in the history and returns what they saw.
func (r *run) finalReads() map[recordKey]Output {
	final := map[recordKey]Output{}
	for i := 0; i < r.opts.HashKeys; i++ {
		for j := 0; j < r.opts.SortKeys; j++ {
			in := Input{Kind: OpGet, HashKey: hashKey(i), SortKeys: []string{sortKey(j)}}
			for attempt := 0; ; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				call := r.h.Now()
				out, err := r.exec(ctx, in)
				ret := r.h.Now()
				cancel()
				if err == nil {
					r.h.Add(r.opts.Clients, in, out, call, ret)
					final[recordKey{in.HashKey, in.SortKeys[0]}] = out
					break
				}
				if attempt == 10 {
					r.t.Fatalf("final read of %s/%s: %v", in.HashKey, in.SortKeys[0], err)
				}
			}
		}
	}
	return final
}

// check runs porcupine, the lost-write check and the checksums, and saves
// artifacts when anything is wrong.
func (r *run) check(final map[recordKey]Output) {
	ops := r.h.Operations()
	r.res.Ops, r.res.Ambiguous, r.res.FailedReads = len(ops), r.ambiguous, r.failedReads
	r.res.Mismatches = r.fc.checksums(tableName, r.opts.Partitions, time.Minute)
	r.res.LostWrites = LostWrites(ops, final)
	result, info := porcupine.CheckOperationsVerbose(hashKeyModel, ops, r.opts.CheckTimeout)
	r.res.Check = result
	if result == porcupine.Unknown {
		r.t.Logf("porcupine gave up after %s: the history (%d operations) was not fully checked", r.opts.CheckTimeout, len(ops))
	}
	if !r.res.OK() {
		r.saveArtifacts(info, true)
	}
}

// saveArtifacts writes the report, the history visualisation (when the
// history was checked) and the nodes' data directories and logs.
func (r *run) saveArtifacts(info porcupine.LinearizationInfo, checked bool) {
	dir := r.opts.Artifacts
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("tandem-robustness-seed%d-%s", r.opts.Seed, time.Now().Format("20060102-150405")))
	}
	dir = filepath.Join(dir, fmt.Sprintf("seed%d", r.opts.Seed))
	r.res.Artifacts = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Errorf("artifacts: %v", err)
		return
	}
	if checked {
		if err := porcupine.VisualizePath(hashKeyModel, info, filepath.Join(dir, "history.html")); err != nil {
			r.t.Errorf("visualise history: %v", err)
		}
	}
	report := append(append([]string{r.res.Summary()}, r.res.LostWrites...), r.res.Mismatches...)
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
		r.t.Errorf("artifacts: %v", err)
	}
	if err := r.fc.saveData(dir); err != nil {
		r.t.Errorf("save data directories: %v", err)
	}
	r.t.Logf("artifacts (history.html, report.txt, data directories, logs) in %s", dir)
}
