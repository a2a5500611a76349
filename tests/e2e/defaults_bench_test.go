package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Flags of BenchmarkDefaults.
var (
	defaultsTries = flag.Int("defaults.tries", 20, "BenchmarkDefaults: tries per figure")
	defaultsIdle  = flag.Duration("defaults.idle", 15*time.Second, "BenchmarkDefaults: how long a cluster idles before an idle-cluster create")
)

// settle bounds how long any one step waits for a condition before it is
// counted as failed; far above every target, so a failure means "never".
const settle = 90 * time.Second

// BenchmarkDefaults measures what a new user meets at tandem-server's
// default flags (no timing flag): real processes, 3 nodes on 127.0.0.1
// (plus a 1-node remote for duplication), each figure p50/p99/max over
// -defaults.tries tries, printed as one table at the end. Figures only:
// nothing asserts a time (the TARGET column quotes issue 11). `make bench`
// runs it:
//
//	go test -run '^$' -bench '^BenchmarkDefaults$' -benchtime 1x -timeout 180m ./tests/e2e/ -defaults.tries 20
//
// and one part alone runs with -bench 'BenchmarkDefaults/metadata$'. Parts:
//
//   - start: three fresh nodes started together, from the first process
//     start until a node's /metrics says it leads the meta group, and until
//     /healthz is 200 on every node; then one node of three started alone
//     must not say 200 for 12s (the one check that can fail the run: a
//     correctness check, not a time).
//   - create-fresh / create-idle: `create T --partitions 8|64 --replicas 3`
//     through the shell (at the first node) and through the Go admin API
//     (a client of every node), from the call until it returned and
//     Partitions (what `partitions T` prints) shows a leader for every
//     partition; on a cluster started just before (a fresh one per try, so
//     the start figures get more samples) and on one idle for
//     -defaults.idle (four clusters take turns so their idle times overlap;
//     the table is dropped after each try). A call that failed (the shell's
//     10s timeout) is counted in FAILS and still timed until all led.
//   - metadata: through the meta leader and through a non-leader, the
//     latency of `config set`, `dup pause`, `dup start`, and the time from
//     the call's return until `config get` / `dup ls` through each other
//     node shows the change (the slowest node); create and drop of a table
//     through the leader until `tables` on each other node shows it; `dup
//     add` of an empty 8x3 table to the remote until every partition is in
//     LOG.
//   - failover: one writer per partition of an 8x3 table (1s deadline per
//     write, back to back); kill -9 of the node leading the most
//     partitions; per partition it led, from the start of the first write
//     that failed to the end of the first write that succeeded after it;
//     then the restart until /healthz is 200 and until its replicas applied
//     what the leaders had applied at the restart (writes go on).
func BenchmarkDefaults(b *testing.B) {
	rep := &benchReport{}
	b.Cleanup(func() { rep.print(os.Stdout) })
	b.Run("start", func(b *testing.B) { benchDefaultsStart(b, rep) })
	b.Run("create-fresh", func(b *testing.B) { benchCreateFresh(b, rep) })
	b.Run("create-idle", func(b *testing.B) { benchCreateIdle(b, rep) })
	b.Run("metadata", func(b *testing.B) { benchMetadata(b, rep) })
	b.Run("failover", func(b *testing.B) { benchFailover(b, rep) })
}

// benchSeries is one row of the table: a figure's samples and failures.
type benchSeries struct {
	name, target string
	samples      []time.Duration
	fails        int
	firstErr     string
}

// benchReport collects the rows in the order they were first used.
type benchReport struct {
	mu   sync.Mutex
	rows []*benchSeries
}

// series returns the row name, creating it with target the first time.
func (r *benchReport) series(name, target string) *benchSeries {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.rows {
		if s.name == name {
			return s
		}
	}
	s := &benchSeries{name: name, target: target}
	r.rows = append(r.rows, s)
	return s
}

// observe records one sample of row name.
func (r *benchReport) observe(name, target string, d time.Duration) {
	s := r.series(name, target)
	r.mu.Lock()
	s.samples = append(s.samples, d)
	r.mu.Unlock()
}

// fail counts a failed try of row name (the sample, if any, is recorded
// apart with observe) and keeps the first error for the table's notes.
func (r *benchReport) fail(name, target string, err error) {
	s := r.series(name, target)
	r.mu.Lock()
	s.fails++
	if s.firstErr == "" {
		s.firstErr = firstLine(err.Error())
	}
	r.mu.Unlock()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// print writes the table: n, p50, p99 (nearest rank), max, failures, target.
func (r *benchReport) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nat tandem-server's default flags (3 nodes, 127.0.0.1), %d tries per figure\n", *defaultsTries)
	fmt.Fprintf(w, "%-66s %4s %9s %9s %9s %6s  %s\n", "FIGURE", "N", "P50", "P99", "MAX", "FAILS", "TARGET")
	for _, s := range r.rows {
		d := append([]time.Duration(nil), s.samples...)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		fmt.Fprintf(w, "%-66s %4d %9s %9s %9s %6d  %s\n", s.name, len(d), pct(d, 50), pct(d, 99), pct(d, 100), s.fails, s.target)
	}
	for _, s := range r.rows {
		if s.firstErr != "" {
			fmt.Fprintf(w, "first failure of %s: %s\n", s.name, s.firstErr)
		}
	}
}

// pct is the nearest-rank percentile p of sorted d, formatted.
func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	i := (p*len(d)+99)/100 - 1
	return fmtDur(d[max(0, min(i, len(d)-1))])
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// defaultCluster launches n nodes at the default timings without waiting.
func defaultCluster(b *testing.B, name string, n int) *Cluster {
	return LaunchCluster(b, name, n, ClusterOptions{DefaultTimings: true})
}

// waitReady waits until every node of c answers /healthz with 200.
func waitReady(b *testing.B, c *Cluster) {
	for _, nd := range c.Nodes {
		nd.WaitHealthy(settle)
	}
}

// pollUntil calls cond every 5ms until it holds and returns when it first
// held, or an error after limit.
func pollUntil(limit time.Duration, cond func() bool) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not within %s", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialAll is a client of every node of c, as an application would dial.
func dialAll(b *testing.B, c *Cluster) *client.Client {
	return dialB(b, c.Addrs())
}

// metaLeader returns the node that says it leads the meta group, waiting
// for one.
func metaLeader(b *testing.B, c *Cluster) *Node {
	var leader *Node
	if _, err := pollUntil(settle, func() bool {
		for _, nd := range c.Nodes {
			if nd.Pid() != 0 && nd.IsMetaLeader() {
				leader = nd
				return true
			}
		}
		return false
	}); err != nil {
		b.Fatalf("cluster %s: no meta leader: %v", c.Name, err)
	}
	return leader
}

// allLed reports whether table has n partitions, each with a leader, as
// the node behind c answers.
func allLed(c *client.Client, table string, n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Partitions(ctx, table)
	if err != nil || len(resp.Partitions) != n {
		return false
	}
	for _, p := range resp.Partitions {
		if p.LeaderId == "" {
			return false
		}
	}
	return true
}

// startTimes launches a fresh 3-node cluster, records when the meta group
// first had a leader and when /healthz said ready on every node, and
// returns the cluster, ready.
func startTimes(b *testing.B, rep *benchReport) *Cluster {
	Binaries(b) // built once per run: not part of a start
	t0 := time.Now()
	c := defaultCluster(b, "fresh", 3)
	var leaderAt time.Time
	ready := make([]bool, len(c.Nodes))
	at, err := pollUntil(settle, func() bool {
		all := true
		for i, nd := range c.Nodes {
			if leaderAt.IsZero() && nd.IsMetaLeader() {
				leaderAt = time.Now()
			}
			if !ready[i] {
				ready[i] = nd.Healthz() == 200
			}
			all = all && ready[i]
		}
		return all
	})
	if err != nil {
		b.Fatalf("fresh cluster not ready: %v", err)
	}
	if leaderAt.IsZero() {
		leaderAt = at
	}
	rep.observe("a. fresh 3 nodes: start -> meta leader", "< 1s", leaderAt.Sub(t0))
	rep.observe("a. fresh 3 nodes: start -> /healthz 200 on every node", "", at.Sub(t0))
	return c
}

// benchDefaultsStart times fresh starts and checks that /healthz is not 200
// on a node that cannot serve metadata: one node of three started alone.
func benchDefaultsStart(b *testing.B, rep *benchReport) {
	for i := 0; i < *defaultsTries; i++ {
		startTimes(b, rep).Destroy()
	}
	c := LaunchCluster(b, "lonely", 3, ClusterOptions{DefaultTimings: true, StartOnly: 1})
	// One node of three started alone has no meta quorum, so it cannot
	// serve metadata and must not say ready.
	lone := c.Nodes[0]
	seen200, answered := false, 0
	deadline := time.Now().Add(4 * 3 * time.Second) // four default election timeouts
	for time.Now().Before(deadline) && !seen200 {
		switch code := lone.Healthz(); code {
		case 200:
			seen200 = true
		case 0:
		default:
			answered++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if seen200 || answered == 0 {
		b.Errorf("/healthz of a node whose two peers never started (no meta quorum): 200 seen=%v, other answers %d; want no 200 and some answers", seen200, answered)
	}
	fmt.Printf("a. /healthz on 1 of 3 nodes started alone, 12s: 200 seen=%v (want false), %d not-ready answers\n", seen200, answered)
	c.Nodes[1].Start()
	c.Nodes[2].Start()
	t0 := time.Now()
	waitReady(b, c)
	rep.observe("a. 1 of 3 up for 12s, the 2 others start -> every node ready", "", time.Since(t0))
	c.Destroy()
}

// createVariant is one way of creating a table.
type createVariant struct {
	partitions int
	shell      bool
}

func (v createVariant) String() string {
	via := "Go API"
	if v.shell {
		via = "shell"
	}
	return fmt.Sprintf("create %dx3 (%s)", v.partitions, via)
}

func (v createVariant) target() string {
	if v.partitions > 8 {
		return "< 3s"
	}
	return "< 1s"
}

var createVariants = []createVariant{{8, true}, {8, false}, {64, true}, {64, false}}

var createSeq int

// createTry creates a table as v says through c's first node (shell) or a
// client of every node (Go API), and records the time until the call
// returned and every partition has a leader (as `partitions T` shows).
func createTry(b *testing.B, rep *benchReport, c *Cluster, api *client.Client, v createVariant, label string) string {
	createSeq++
	table := fmt.Sprintf("t%d", createSeq)
	name := "b. " + v.String() + " " + label + " -> returned, all led"
	t0 := time.Now()
	var err error
	if v.shell {
		_, err = c.ShellAt(c.Nodes[0], fmt.Sprintf("create %s --partitions %d --replicas 3", table, v.partitions))
	} else {
		_, err = api.CreateTable(context.Background(), table, v.partitions, 3)
	}
	if err != nil {
		rep.fail(name, v.target(), fmt.Errorf("create returned an error: %w", err))
	}
	at, werr := pollUntil(settle, func() bool { return allLed(api, table, v.partitions) })
	if werr != nil {
		rep.fail(name, v.target(), fmt.Errorf("partitions never all led: %w", werr))
		return table
	}
	rep.observe(name, v.target(), at.Sub(t0))
	return table
}

// benchCreateFresh creates a table right after a fresh cluster is ready,
// each variant on its own fresh cluster (the start is timed too).
func benchCreateFresh(b *testing.B, rep *benchReport) {
	for _, v := range createVariants {
		for i := 0; i < *defaultsTries; i++ {
			c := startTimes(b, rep)
			api, err := client.Dial(context.Background(), c.Addrs()...)
			if err != nil {
				b.Fatal(err)
			}
			createTry(b, rep, c, api, v, "fresh cluster")
			api.Close()
			c.Destroy()
		}
	}
}

// benchCreateIdle creates tables on clusters idle for -defaults.idle: one
// cluster per variant, taking turns so their idle times overlap; the table
// is dropped after each try.
func benchCreateIdle(b *testing.B, rep *benchReport) {
	type idler struct {
		c    *Cluster
		api  *client.Client
		last time.Time
	}
	var ids []*idler
	for range createVariants {
		c := defaultCluster(b, "idle", 3)
		waitReady(b, c)
		ids = append(ids, &idler{c: c, api: dialAll(b, c), last: time.Now()})
	}
	label := fmt.Sprintf("idle %s", *defaultsIdle)
	for i := 0; i < *defaultsTries; i++ {
		for k, v := range createVariants {
			id := ids[k]
			time.Sleep(time.Until(id.last.Add(*defaultsIdle)))
			table := createTry(b, rep, id.c, id.api, v, label)
			ctx, cancel := context.WithTimeout(context.Background(), settle)
			if err := id.api.DropTable(ctx, table); err != nil && !errors.Is(err, client.ErrTableNotFound) {
				rep.fail("b. drop after an idle create", "", err)
			}
			cancel()
			id.last = time.Now()
		}
	}
	for _, id := range ids {
		id.c.Destroy()
	}
}

// benchMetadata measures on one 3-node cluster (and a 1-node remote):
// metadata propagation to the other nodes (config, tables, dup state),
// admin call latency through the meta leader against a non-leader, and
// dup add of an empty 8-partition table until every partition is in LOG.
func benchMetadata(b *testing.B, rep *benchReport) {
	c, west := defaultCluster(b, "east", 3), defaultCluster(b, "west", 1)
	waitReady(b, c)
	waitReady(b, west)
	m := &metaBench{b: b, rep: rep, c: c, api: dialAll(b, c), westAPI: dialAll(b, west), west: west,
		per: map[*Node]*client.Client{}}
	for _, nd := range c.Nodes {
		m.per[nd] = dialB(b, []string{nd.Addr})
	}
	m.dupID = m.prepareDup("dupstate")
	for i := 0; i < *defaultsTries; i++ {
		leader := metaLeader(b, c)
		var others []*Node
		for _, nd := range c.Nodes {
			if nd != leader {
				others = append(others, nd)
			}
		}
		nonLeader := others[i%len(others)]
		m.configTry(leader, "leader")
		m.configTry(nonLeader, "non-leader")
		m.dupStateTry(leader, "leader")
		m.dupStateTry(nonLeader, "non-leader")
		m.tableTry(leader, i)
	}
	for i := 0; i < *defaultsTries; i++ {
		m.dupAddTry(i)
	}
}

// metaBench is the state of benchMetadata.
type metaBench struct {
	b             *testing.B
	rep           *benchReport
	c, west       *Cluster
	api, westAPI  *client.Client
	per           map[*Node]*client.Client // a client of that node alone
	dupID         string
	configVersion int
}

// call times f as an admin call through via and records it; it returns
// when f returned and whether it succeeded.
func (m *metaBench) call(name, target string, f func() error) (time.Time, bool) {
	t0 := time.Now()
	err := f()
	done := time.Now()
	if err != nil {
		m.rep.fail(name, target, err)
		return done, false
	}
	m.rep.observe(name, target, done.Sub(t0))
	return done, true
}

// propagate records the time from since until cond holds through every
// node of c except via (each asked through a client of it alone).
func (m *metaBench) propagate(name string, since time.Time, via *Node, cond func(*client.Client) bool) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var worst time.Duration
	var failed error
	for _, nd := range m.c.Nodes {
		if nd == via {
			continue
		}
		wg.Add(1)
		go func(cl *client.Client) {
			defer wg.Done()
			at, err := pollUntil(settle, func() bool { return cond(cl) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
			}
			worst = max(worst, at.Sub(since))
		}(m.per[nd])
	}
	wg.Wait()
	if failed != nil {
		m.rep.fail(name, "< 1s", failed)
		return
	}
	m.rep.observe(name, "< 1s", worst)
}

// configTry sets checkpoint.interval to a new value through via, timing
// the call, then the time until `config get` on every other node shows it.
func (m *metaBench) configTry(via *Node, role string) {
	m.configVersion++
	value := fmt.Sprintf("%ds", 600+m.configVersion)
	var stored string
	done, ok := m.call("d. config set via "+role, "leader's + 100ms", func() error {
		e, err := m.per[via].SetConfig(context.Background(), "checkpoint.interval", value)
		if err == nil {
			stored = e.GetValue()
		}
		return err
	})
	if !ok {
		return
	}
	m.propagate("c. config set via "+role+" -> config get on every other node", done, via, func(cl *client.Client) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		es, err := cl.GetConfig(ctx, "checkpoint.interval")
		return err == nil && len(es) == 1 && es[0].GetValue() == stored
	})
}

// dupStateTry pauses then restarts the duplication through via, timing
// each call and the time until `dup ls` on every other node shows it.
func (m *metaBench) dupStateTry(via *Node, role string) {
	for _, step := range []struct {
		verb, state string
		f           func(context.Context, string, string) (*tpb.DuplicationInfo, error)
	}{{"pause", "paused", m.per[via].PauseDuplication}, {"start", "active", m.per[via].StartDuplication}} {
		done, ok := m.call("d. dup "+step.verb+" via "+role, "leader's + 100ms", func() error {
			_, err := step.f(context.Background(), "dupstate", m.dupID)
			return err
		})
		if !ok {
			continue
		}
		m.propagate("c. dup "+step.verb+" via "+role+" -> dup ls on every other node", done, via, func(cl *client.Client) bool {
			return dupState(cl, "dupstate", m.dupID) == step.state
		})
	}
}

// dupState is the state `dup ls TABLE` shows for duplication id.
func dupState(cl *client.Client, table, id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ds, err := cl.ListDuplications(ctx, table)
	if err != nil {
		return ""
	}
	for _, d := range ds {
		if d.GetId() == id {
			return d.GetState()
		}
	}
	return ""
}

// tableTry creates and drops a 1-partition table through the meta leader
// and records when `tables` on every other node shows each change.
func (m *metaBench) tableTry(leader *Node, i int) {
	table := fmt.Sprintf("prop%d", i)
	lc := m.per[leader]
	done, ok := m.call("c. (create 1x3 via leader: call)", "", func() error {
		_, err := lc.CreateTable(context.Background(), table, 1, 3)
		return err
	})
	// A create that timed out waiting for its partition's leader may have
	// created the table all the same: time its propagation from the error.
	if ok || hasTable(lc, table) == 1 {
		m.propagate("c. create table via leader -> tables on every other node", done, leader, func(cl *client.Client) bool {
			return hasTable(cl, table) == 1
		})
	}
	done, ok = m.call("c. (drop via leader: call)", "", func() error { return lc.DropTable(context.Background(), table) })
	if ok {
		m.propagate("c. drop table via leader -> tables on every other node", done, leader, func(cl *client.Client) bool {
			return hasTable(cl, table) == 0
		})
	}
}

// hasTable is 1 when `tables` lists table, 0 when not, -1 on an error.
func hasTable(cl *client.Client, table string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts, err := cl.ListTables(ctx)
	if err != nil {
		return -1
	}
	for _, t := range ts {
		if t.GetName() == table {
			return 1
		}
	}
	return 0
}

// prepareDup creates an 8x3 table and duplicates it to west, waiting for
// LOG on every partition; it returns the duplication id.
func (m *metaBench) prepareDup(table string) string {
	ctx := context.Background()
	setupTable(m.b, m.api, table, 8)
	d, err := m.api.AddDuplication(ctx, table, m.west.Nodes[0].Addr)
	if err != nil {
		m.b.Fatal(err)
	}
	if _, err := pollUntil(settle, func() bool { return dupInLog(m.api, table, d.Id) }); err != nil {
		m.b.Fatalf("duplication of %s never in LOG: %v", table, err)
	}
	return d.Id
}

// dupInLog reports whether every partition of duplication id is in LOG.
func dupInLog(cl *client.Client, table, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cl.ShowDuplication(ctx, table, id)
	return err == nil && allInLog(resp.Partitions)
}

// dupAddTry creates an empty 8x3 table, then times `dup add` to west until
// every partition is in LOG; it removes the duplication and both tables.
func (m *metaBench) dupAddTry(i int) {
	const name, target = "e. dup add empty 8x3 -> every partition LOG", "< 1s"
	ctx := context.Background()
	table := fmt.Sprintf("dupadd%d", i)
	if err := createLed(m.api, table, 8); err != nil {
		m.rep.fail(name, target, err)
		return
	}
	t0 := time.Now()
	d, err := m.api.AddDuplication(ctx, table, m.west.Nodes[0].Addr)
	if err != nil {
		m.rep.fail(name, target, err)
		return
	}
	m.rep.observe("e. (dup add: call)", "", time.Since(t0))
	if at, err := pollUntil(settle, func() bool { return dupInLog(m.api, table, d.Id) }); err != nil {
		m.rep.fail(name, target, err)
	} else {
		m.rep.observe(name, target, at.Sub(t0))
	}
	if _, err := m.api.RemoveDuplication(ctx, table, d.Id); err != nil {
		m.rep.fail("e. cleanup (dup rm, drop)", "", err)
	}
	for _, cl := range []*client.Client{m.api, m.westAPI} {
		if err := cl.DropTable(ctx, table); err != nil {
			m.rep.fail("e. cleanup (dup rm, drop)", "", err)
		}
	}
}

// writeEvent is one write of a partitionWriter.
type writeEvent struct {
	start, end time.Time
	ok         bool
}

// partitionWriter writes one hash key of one partition back to back, each
// write with a 1s deadline, and records every write.
type partitionWriter struct {
	mu     sync.Mutex
	events []writeEvent
}

func (w *partitionWriter) run(tbl *client.Table, key []byte, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		err := tbl.Set(ctx, key, []byte("s"), []byte(fmt.Sprint(i)))
		cancel()
		w.mu.Lock()
		w.events = append(w.events, writeEvent{start: start, end: time.Now(), ok: err == nil})
		w.mu.Unlock()
		if err != nil {
			time.Sleep(5 * time.Millisecond) // a refused write returns at once: do not spin
		}
	}
}

// reset forgets the writes recorded so far.
func (w *partitionWriter) reset() {
	w.mu.Lock()
	w.events = nil
	w.mu.Unlock()
}

// outage returns, for a kill at k, the time from the start of the first
// write that failed after k to the end of the first successful write after
// it (with no failed write: from k to the end of the first successful
// write that ended after k), and whether that successful write happened.
func (w *partitionWriter) outage(k time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var firstFail time.Time
	for _, e := range w.events {
		if e.end.Before(k) {
			continue
		}
		switch {
		case !e.ok && firstFail.IsZero():
			firstFail = e.start
		case e.ok && firstFail.IsZero():
			return e.end.Sub(k), true
		case e.ok:
			return e.end.Sub(firstFail), true
		}
	}
	return 0, false
}

// benchFailover writes steadily to every partition of an 8x3 table, kills
// -9 the node leading the most partitions, times each of its partitions'
// outage, restarts it and times its readiness and catch-up.
func benchFailover(b *testing.B, rep *benchReport) {
	c := defaultCluster(b, "failover", 3)
	waitReady(b, c)
	api := dialAll(b, c)
	setupTable(b, api, "fo", 8)
	tbl := tableB(b, api, "fo")
	writers := make([]*partitionWriter, 8)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p, key := range keysPerPartition(8) {
		writers[p] = &partitionWriter{}
		wg.Add(1)
		go func(w *partitionWriter, key []byte) { defer wg.Done(); w.run(tbl, key, stop) }(writers[p], key)
	}
	defer func() { close(stop); wg.Wait() }()
	per := map[*Node]*client.Client{}
	for _, nd := range c.Nodes {
		per[nd] = dialB(b, []string{nd.Addr})
	}
	for i := 0; i < *defaultsTries; i++ {
		failoverTry(b, rep, c, per, writers)
	}
}

// keysPerPartition returns one hash key for each of n partitions.
func keysPerPartition(n int) [][]byte {
	keys := make([][]byte, n)
	for found, i := 0, 0; found < n; i++ {
		k := []byte(fmt.Sprintf("key%d", i))
		if p := tpb.PartitionOf(k, uint32(n)); keys[p] == nil {
			keys[p] = k
			found++
		}
	}
	return keys
}

// failoverTry is one kill -9 and restart of the node leading the most
// partitions of table fo.
func failoverTry(b *testing.B, rep *benchReport, c *Cluster, per map[*Node]*client.Client, writers []*partitionWriter) {
	const outageName = "f. failover: first failed -> first ok write (per partition)"
	resp, err := per[c.Nodes[0]].Partitions(context.Background(), "fo")
	if err != nil {
		b.Fatal(err)
	}
	led := map[string][]int{}
	for _, p := range resp.Partitions {
		led[p.LeaderId] = append(led[p.LeaderId], int(p.Index))
	}
	victim := c.Nodes[0]
	for _, nd := range c.Nodes {
		if len(led[nd.ID]) > len(led[victim.ID]) {
			victim = nd
		}
	}
	for _, w := range writers {
		w.reset()
	}
	time.Sleep(200 * time.Millisecond) // some successful writes before the kill
	kill := time.Now()
	victim.Kill()
	for _, p := range led[victim.ID] {
		var d time.Duration
		if _, err := pollUntil(settle, func() bool {
			var ok bool
			d, ok = writers[p].outage(kill)
			return ok
		}); err != nil {
			rep.fail(outageName, "< 2s", fmt.Errorf("partition %d: no successful write after the kill: %w", p, err))
			continue
		}
		rep.observe(outageName, "< 2s", d)
	}
	var live *client.Client
	for _, nd := range c.Nodes {
		if nd != victim {
			live = per[nd]
		}
	}
	restartTry(b, rep, victim, live)
}

// restartTry restarts victim and times /healthz and the catch-up of its
// replicas to the leaders' applied decrees at the restart.
func restartTry(b *testing.B, rep *benchReport, victim *Node, live *client.Client) {
	resp, err := live.Partitions(context.Background(), "fo")
	if err != nil {
		b.Fatal(err)
	}
	target := map[uint32]uint64{}
	for _, p := range resp.Partitions {
		target[p.Index] = p.AppliedDecree
	}
	t0 := time.Now()
	victim.Start()
	if at, err := pollUntil(settle, func() bool { return victim.Healthz() == 200 }); err != nil {
		rep.fail("f. restart -> /healthz 200", "", err)
	} else {
		rep.observe("f. restart -> /healthz 200", "", at.Sub(t0))
	}
	at, err := pollUntil(settle, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := live.Partitions(ctx, "fo")
		if err != nil {
			return false
		}
		n := 0
		for _, p := range resp.Partitions {
			for _, r := range p.Replicas {
				if r.NodeId == victim.ID && r.AppliedDecree >= target[p.Index] {
					n++
				}
			}
		}
		return n == len(resp.Partitions)
	})
	if err != nil {
		rep.fail("f. restart -> its replicas caught up (under writes)", "", err)
		return
	}
	rep.observe("f. restart -> its replicas caught up (under writes)", "", at.Sub(t0))
}

// setupTable creates table (partitions x 3) for a benchmark's own use and
// waits until every partition is led, failing b when it cannot.
func setupTable(b *testing.B, api *client.Client, table string, partitions int) {
	if err := createLed(api, table, partitions); err != nil {
		b.Fatal(err)
	}
}

// createLed creates table and waits until every partition is led. A create
// that timed out may still have created the table (today's defaults do
// that): such an error is tolerated when the table then shows up.
func createLed(api *client.Client, table string, partitions int) error {
	for attempt := 0; hasTable(api, table) != 1; attempt++ {
		_, err := api.CreateTable(context.Background(), table, partitions, 3)
		if err != nil && attempt == 3 {
			return fmt.Errorf("create %s: %w", table, err)
		}
	}
	if _, err := pollUntil(settle, func() bool { return allLed(api, table, partitions) }); err != nil {
		return fmt.Errorf("create %s: partitions not led: %w", table, err)
	}
	return nil
}
