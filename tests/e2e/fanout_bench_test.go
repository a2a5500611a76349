package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

var (
	fanoutRounds  = flag.Int("fanout.rounds", 6, "BenchmarkFanOutCPU: rounds of 0, 1 and 2 remotes (interleaved)")
	fanoutWindow  = flag.Duration("fanout.window", 15*time.Second, "BenchmarkFanOutCPU: CPU measurement window per state")
	fanoutRate    = flag.Int("fanout.rate", 300, "BenchmarkFanOutCPU: paced writes per second on the source")
	fanoutProfile = flag.String("fanout.profile", "", "BenchmarkFanOutCPU: after the rounds, save a CPU profile of every source node with 0 and with 2 remotes in this directory")
	fanoutDetach  = flag.String("fanout.detach", "stop", "BenchmarkFanOutCPU: how a remote is detached: stop (SIGSTOP its process: no pulls at all) or pause (dup pause)")
)

// The source's CPU cost of each extra remote (fan-out), on real processes
// at the defaults: a 3-node source with an 8-partition table under a fixed
// (paced) write rate and two 1-node remotes whose duplications are in LOG
// (their own CPU is not counted). Each round measures a window with 0, 1
// and 2 remotes attached, in a rotating order; a detached remote is frozen
// (SIGSTOP: it pulls nothing, as if unreachable) or its duplication paused
// (-fanout.detach pause). After each change the benchmark waits until every
// attached remote has caught up (replicated age < 1 s) before the window.
//
//	go test -run '^$' -bench '^BenchmarkFanOutCPU$' -benchtime 1x ./tests/e2e/
//
// The per-window table is printed: source CPU, per acknowledged write and
// per log entry, Pull RPCs and entries shipped to each attached remote per
// entry, and its replicated age at the window's end (under 1 s, as at the
// window's start: it kept up).
// extra-1v0-pct and extra-2v1-pct are the rounds' median increase of the
// source's CPU per acknowledged write (1 remote over none, 2 over 1), with
// their min and max over rounds; extra-entry-* the same per log entry of
// the table (a busy machine batches more writes into an entry, which
// lowers the cost per write whatever the remotes do; a remote pulls about
// once per entry).
func BenchmarkFanOutCPU(b *testing.B) {
	rig := newFanoutRig(b)
	defer rig.load.halt()
	b.ResetTimer()
	ref := rig.measure(0) // before any duplication: the true "no remote"
	rig.addRemotes()
	var windows []fanoutSample
	for r := 0; r < *fanoutRounds; r++ {
		for k := 0; k < 3; k++ {
			n := (r + k) % 3 // rotate the order so no state always follows another
			rig.attach(n)
			rig.settle()
			w := rig.measure(n)
			w.round = r
			windows = append(windows, w)
		}
	}
	b.StopTimer()
	rig.printTable(ref, windows)
	reportFanout(b, windows)
	if *fanoutProfile != "" {
		rig.profiles()
	}
}

// profiles takes the source's CPU profiles with 0 and with 2 remotes and
// prints the write rate during each (to compare them per write).
func (rig *fanoutRig) profiles() {
	if err := os.MkdirAll(*fanoutProfile, 0o755); err != nil {
		rig.b.Fatal(err)
	}
	for _, n := range []int{0, 2} {
		rig.attach(n)
		rig.settle()
		acked, start := rig.load.acked.Load(), time.Now()
		rig.profile(n)
		fmt.Printf("profile with %d remotes: %.1f writes/s acknowledged, load %s\n", n,
			float64(rig.load.acked.Load()-acked)/time.Since(start).Seconds(), loadAvg1())
	}
}

// profile saves a CPU profile of every source node over a window, taken at
// once on all of them (pprof endpoint of the HTTP server), for go tool pprof.
func (rig *fanoutRig) profile(n int) {
	var wg sync.WaitGroup
	for _, nd := range rig.east.Nodes {
		wg.Add(1)
		go func(nd *Node) {
			defer wg.Done()
			path := filepath.Join(*fanoutProfile, fmt.Sprintf("%d-remotes-%s.pprof", n, nd.ID))
			if err := saveProfile(nd, *fanoutWindow, path); err != nil {
				rig.b.Errorf("profile %s: %v", nd.ID, err)
			}
		}(nd)
	}
	wg.Wait()
}

// saveProfile writes nd's CPU profile over d to path.
func saveProfile(nd *Node, d time.Duration, path string) error {
	hc := &http.Client{Timeout: d + time.Minute}
	resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", nd.HTTP, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// fanoutRig is the benchmark's clusters, client and load.
type fanoutRig struct {
	b       *testing.B
	east    *Cluster
	c       *client.Client
	remotes []*fanoutRemote
	load    *pacedLoad
}

// fanoutRemote is one remote cluster and its duplication of t.
type fanoutRemote struct {
	cl       *Cluster
	id       string
	attached bool
}

// fanoutSample is one measurement: n remotes attached for secs seconds.
type fanoutSample struct {
	round, remotes int
	cpu, secs      float64
	pulls          float64 // Pull RPCs served per acknowledged write
	decrees        float64 // log entries t's partitions applied (writes batch into entries under load)
	acked          int64
	load1          string
	shipped, age   []float64 // per attached remote
}

func (w fanoutSample) cpuPerSec() float64 { return w.cpu / w.secs }

// msPerWrite is the source's CPU milliseconds per acknowledged write.
func (w fanoutSample) msPerWrite() float64 { return 1000 * w.cpu / float64(w.acked) }

// msPerDecree is the source's CPU milliseconds per log entry of t: on a
// busy machine the source batches more writes into an entry, which lowers
// the cost per write whatever the remotes do; a remote pulls per entry.
func (w fanoutSample) msPerDecree() float64 { return 1000 * w.cpu / w.decrees }

func newFanoutRig(b *testing.B) *fanoutRig {
	if *fanoutDetach != "stop" && *fanoutDetach != "pause" {
		b.Fatalf("-fanout.detach %q: want stop or pause", *fanoutDetach)
	}
	east := LaunchCluster(b, "east", 3, ClusterOptions{DefaultTimings: true})
	rig := &fanoutRig{b: b, east: east}
	for _, name := range []string{"west", "south"} {
		rig.remotes = append(rig.remotes, &fanoutRemote{cl: LaunchCluster(b, name, 1, ClusterOptions{DefaultTimings: true})})
	}
	for _, nd := range east.Nodes {
		nd.WaitHealthy(60 * time.Second)
	}
	for _, rm := range rig.remotes {
		rm.cl.Nodes[0].WaitHealthy(60 * time.Second)
	}
	if _, err := east.Shell("create t --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	rig.c = dialB(b, east.Addrs())
	tbl, err := rig.c.Table(context.Background(), "t")
	if err != nil {
		b.Fatal(err)
	}
	rig.load = startPacedLoad(tbl, *fanoutRate)
	time.Sleep(5 * time.Second) // past the start: leaders settled, caches warm
	return rig
}

// addRemotes duplicates t to every remote and waits for LOG; all stay
// attached until the first round detaches some.
func (rig *fanoutRig) addRemotes() {
	for _, rm := range rig.remotes {
		rm.id = addAndWaitLog(rig.b, rig.c, "t", rm.cl)
		rm.attached = true
	}
}

// attach makes the first n remotes pull and detaches the others.
func (rig *fanoutRig) attach(n int) {
	for i, rm := range rig.remotes {
		want := i < n
		if want == rm.attached {
			continue
		}
		var err error
		switch {
		case *fanoutDetach == "stop" && want:
			rm.cl.Nodes[0].Resume()
		case *fanoutDetach == "stop":
			rm.cl.Nodes[0].Pause()
		case want:
			_, err = rig.c.StartDuplication(context.Background(), "t", rm.id)
		default:
			_, err = rig.c.PauseDuplication(context.Background(), "t", rm.id)
		}
		if err != nil {
			rig.b.Fatalf("attach %d remotes: %v", n, err)
		}
		rm.attached = want
	}
}

// settle waits until every attached remote caught up (replicated age under
// 1 s), and at least 3 s, so that a catch-up after a detach is not
// counted in the next window.
func (rig *fanoutRig) settle() {
	start := time.Now()
	for deadline := start.Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		ages, err := rig.ages()
		if err == nil && time.Since(start) >= 3*time.Second && allBelow(ages, 1) {
			return
		}
		if time.Now().After(deadline) {
			rig.b.Fatalf("attached remotes did not catch up in 2 min: ages %v, %v", ages, err)
		}
	}
}

// allBelow reports whether every element of xs is below limit.
func allBelow(xs []float64, limit float64) bool {
	for _, x := range xs {
		if x >= limit {
			return false
		}
	}
	return true
}

// ages is the replicated age in seconds of each attached remote, as the
// source reports it (ListDuplications).
func (rig *fanoutRig) ages() ([]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := rig.c.ListDuplications(ctx, "t")
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, rm := range rig.remotes {
		if !rm.attached {
			continue
		}
		age := math.Inf(1)
		for _, d := range list {
			if _, ok := client.ReplicatedTime(d); ok && d.GetId() == rm.id {
				age = d.GetReplicatedAgeSeconds()
			}
		}
		out = append(out, age)
	}
	return out, nil
}

// measure takes one window: the source's CPU and acknowledged writes over
// it, and (read outside it, so their cost is not counted) the entries
// shipped to each attached remote and its replicated age at the end.
func (rig *fanoutRig) measure(n int) fanoutSample {
	before := rig.counters()
	acked0, cpu0, start := rig.load.acked.Load(), clusterCPU(rig.b, rig.east), time.Now()
	time.Sleep(*fanoutWindow)
	cpu1, acked1, secs := clusterCPU(rig.b, rig.east), rig.load.acked.Load(), time.Since(start).Seconds()
	w := fanoutSample{remotes: n, cpu: cpu1 - cpu0, secs: secs, acked: acked1 - acked0, load1: loadAvg1()}
	after := rig.counters()
	w.pulls = (after["pulls"] - before["pulls"]) / float64(w.acked)
	for k, v := range after {
		if strings.HasPrefix(k, "applied/") {
			w.decrees += v - before[k]
		}
	}
	ages, err := rig.ages()
	if err != nil {
		rig.b.Fatalf("replicated ages: %v", err)
	}
	w.age = ages
	for _, rm := range rig.remotes {
		if rm.attached {
			w.shipped = append(w.shipped, (after[rm.id]-before[rm.id])/float64(w.acked))
		}
	}
	return w
}

// counters reads, over the source's nodes, the entries shipped per
// duplication (tandem_duplication_shipped_entries_total, summed, under the
// duplication id), the Pull RPCs served (tandem_rpc_requests_total, summed,
// under "pulls") and each partition's applied decree of t (the highest
// over the replicas, under "applied/P").
func (rig *fanoutRig) counters() map[string]float64 {
	out := map[string]float64{}
	for _, nd := range rig.east.Nodes {
		code, body := nd.httpGet("/metrics")
		for try := 0; code != 200 && try < 5; try++ { // 1 s limit each, on a busy machine
			code, body = nd.httpGet("/metrics")
		}
		if code != 200 {
			rig.b.Fatalf("%s /metrics: status %d", nd.ID, code)
		}
		for _, line := range strings.Split(body, "\n") {
			key, sum := counterKey(line)
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			switch {
			case key == "" || err != nil:
			case sum:
				out[key] += v
			default:
				out[key] = max(out[key], v)
			}
		}
	}
	return out
}

// counterKey is where counters keeps a metrics line ("" to skip it) and
// whether it sums it over the nodes (else it keeps the highest).
func counterKey(line string) (string, bool) {
	label := func(name string) string {
		_, rest, _ := strings.Cut(line, name+`="`)
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	switch {
	case strings.HasPrefix(line, "tandem_duplication_shipped_entries_total{"):
		return label("dup"), true
	case strings.HasPrefix(line, "tandem_rpc_requests_total{") && label("method") == "Pull":
		return "pulls", true
	case strings.HasPrefix(line, "tandem_replica_applied_decree{") && label("table") == "t":
		return "applied/" + label("partition"), false
	}
	return "", false
}

// loadAvg1 is the machine's 1-minute load average.
func loadAvg1() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(raw))[0]
}

// printTable prints every window and the per-round ratios.
func (rig *fanoutRig) printTable(ref fanoutSample, ws []fanoutSample) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "detach=%s rate=%d/s window=%s; w/entry = acknowledged writes per log entry of t, pulls = Pull RPCs per entry, "+
		"shipped = entries shipped to each attached remote per entry, age = its replicated age at the end (s)\n", *fanoutDetach, *fanoutRate, *fanoutWindow)
	fmt.Fprintf(&sb, "%-5s %-7s %-8s %-8s %-8s %-8s %-7s %-6s %-5s %-10s %s\n",
		"round", "remotes", "cpu-s/s", "writes/s", "ms/write", "ms/entry", "w/entry", "load1", "pulls", "shipped", "age")
	row := func(round string, w fanoutSample) {
		shipped := make([]float64, len(w.shipped))
		for i, s := range w.shipped {
			shipped[i] = s * float64(w.acked) / w.decrees
		}
		fmt.Fprintf(&sb, "%-5s %-7d %-8.3f %-8.1f %-8.4f %-8.4f %-7.2f %-6s %-5.2f %-10s %s\n", round, w.remotes, w.cpuPerSec(),
			float64(w.acked)/w.secs, w.msPerWrite(), w.msPerDecree(), float64(w.acked)/w.decrees, w.load1,
			w.pulls*float64(w.acked)/w.decrees, floats(shipped, "%.2f"), floats(w.age, "%.2f"))
	}
	row("ref", ref)
	for _, w := range ws {
		row(strconv.Itoa(w.round), w)
	}
	for _, u := range fanoutUnits {
		r10, r21 := fanoutRatios(ws, u.of)
		fmt.Fprintf(&sb, "per round, 1 remote / 0 (%s): %s\n", u.name, floats(r10, "%.3f"))
		fmt.Fprintf(&sb, "per round, 2 remotes / 1 (%s): %s\n", u.name, floats(r21, "%.3f"))
	}
	// Printed, not logged: the testing package keeps only 10 lines of a
	// benchmark's log.
	fmt.Print(sb.String())
}

func floats(xs []float64, format string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, ",")
}

// fanoutUnits are the two ways the source's CPU is normalised: per
// acknowledged write, and per log entry (which a busy machine's batching
// does not move).
var fanoutUnits = []struct {
	name string
	of   func(fanoutSample) float64
}{{"ms/write", fanoutSample.msPerWrite}, {"ms/entry", fanoutSample.msPerDecree}}

// fanoutRatios are, per round, the source's CPU cost (of) with 1 remote
// over 0, and with 2 over 1.
func fanoutRatios(ws []fanoutSample, of func(fanoutSample) float64) (r10, r21 []float64) {
	byRound := map[int][3]float64{}
	for _, w := range ws {
		v := byRound[w.round]
		v[w.remotes] = of(w)
		byRound[w.round] = v
	}
	for r := 0; r < len(byRound); r++ {
		v := byRound[r]
		r10, r21 = append(r10, v[1]/v[0]), append(r21, v[2]/v[1])
	}
	return r10, r21
}

// reportFanout reports the medians per state and the ratios' median, min
// and max as percentages of increase (extra-* per write, extra-entry-* per
// log entry).
func reportFanout(b *testing.B, ws []fanoutSample) {
	for n := 0; n < 3; n++ {
		var cpu, ms, me []float64
		for _, w := range ws {
			if w.remotes == n {
				cpu, ms, me = append(cpu, w.cpuPerSec()), append(ms, w.msPerWrite()), append(me, w.msPerDecree())
			}
		}
		b.ReportMetric(median(cpu), fmt.Sprintf("cpu-%d-remotes", n))
		b.ReportMetric(median(ms), fmt.Sprintf("ms/write-%d-remotes", n))
		b.ReportMetric(median(me), fmt.Sprintf("ms/entry-%d-remotes", n))
	}
	for i, prefix := range []string{"extra-", "extra-entry-"} {
		r10, r21 := fanoutRatios(ws, fanoutUnits[i].of)
		for name, rs := range map[string][]float64{"1v0": r10, "2v1": r21} {
			sorted := append([]float64(nil), rs...)
			sort.Float64s(sorted)
			b.ReportMetric(100*(median(rs)-1), prefix+name+"-pct")
			b.ReportMetric(100*(sorted[0]-1), prefix+name+"-pct-min")
			b.ReportMetric(100*(sorted[len(sorted)-1]-1), prefix+name+"-pct-max")
		}
	}
}

// median is the middle of xs (the mean of the two middle ones for an even
// count).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pacedLoad writes at a fixed rate, each write in its own goroutine, so
// the rate does not follow the writes' latency and the source's CPU is
// compared at the same work.
type pacedLoad struct {
	acked, failed atomic.Int64
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startPacedLoad(tbl *client.Table, rate int) *pacedLoad {
	l := &pacedLoad{stop: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		start, i := time.Now(), 0
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			// Issue every write due by now: a tick dropped while this
			// goroutine waited for a core must not lower the rate.
			for due := int(time.Since(start).Seconds() * float64(rate)); i < due; i++ {
				l.wg.Add(1)
				go l.write(tbl, i)
			}
		}
	}()
	return l
}

func (l *pacedLoad) write(tbl *client.Table, i int) {
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := tbl.Set(ctx, []byte(fmt.Sprintf("u%d", i%997)), []byte(fmt.Sprintf("k%08d", i)), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		l.failed.Add(1)
		return
	}
	l.acked.Add(1)
}

// halt stops the load and waits for the writes in flight.
func (l *pacedLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// clusterCPU sums the user and system CPU seconds of cl's processes.
func clusterCPU(b *testing.B, cl *Cluster) float64 {
	total := 0.0
	for _, nd := range cl.Nodes {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", nd.Pid()))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command name (which may hold spaces): utime
		// and stime are the 14th and 15th fields, in clock ticks (100/s).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		for _, s := range f[11:13] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += v / 100
		}
	}
	return total
}
