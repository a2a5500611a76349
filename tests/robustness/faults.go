package robustness

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// FaultKind is a kind of fault the run injects.
type FaultKind string

// The fault kinds, one at a time.
const (
	// FaultKill is kill -9 of one node, then a restart on the same data.
	FaultKill FaultKind = "kill"
	// FaultPause is SIGSTOP of one node, then SIGCONT.
	FaultPause FaultKind = "pause"
	// FaultPartition cuts one node off from the others in both directions
	// (its proxies swallow everything), then heals.
	FaultPartition FaultKind = "partition"
	// FaultDelay slows every connection to and from one node.
	FaultDelay FaultKind = "delay"
	// FaultFailpoint arms a gofail failpoint at a persistence boundary of
	// one node (a panic there is a crash at that point) and restarts the
	// node once it crashed.
	FaultFailpoint FaultKind = "failpoint"
	// FaultTransfer moves the leadership of every partition the target
	// node follows to it (what leader balancing and node drain do), while
	// reads and writes run: leases must not serve stale reads across it.
	FaultTransfer FaultKind = "transfer"
)

// AllFaults lists every fault kind.
var AllFaults = []FaultKind{FaultKill, FaultPause, FaultPartition, FaultDelay, FaultFailpoint, FaultTransfer}

// ParseFaults parses a comma-separated list of fault kinds.
func ParseFaults(s string) ([]FaultKind, error) {
	var out []FaultKind
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k := FaultKind(f)
		if !hasFault(AllFaults, k) {
			return nil, fmt.Errorf("unknown fault %q; known: %v", f, AllFaults)
		}
		if !hasFault(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func hasFault(list []FaultKind, k FaultKind) bool {
	for _, f := range list {
		if f == k {
			return true
		}
	}
	return false
}

// failpoint is a gofail failpoint and the term that arms it.
type failpoint struct{ name, term string }

// failpoints are the markers in replica/, logdb/ and checkpoint/ (see
// replica/failpoints.go) with the term each is armed with: a panic at a
// persistence boundary is a crash there; "1*" fires once. Checkpoint and
// snapshot points fire only when such work runs while armed.
var failpoints = []failpoint{
	{"raftLogBeforeWrite", `1*panic("failpoint raftLogBeforeWrite")`},
	{"raftLogAfterWrite", `1*panic("failpoint raftLogAfterWrite")`},
	{"fsmBeforeApply", `1*panic("failpoint fsmBeforeApply")`},
	{"fsmAfterApply", `1*panic("failpoint fsmAfterApply")`},
	{"fsmBeforeApply", `sleep(300)`},
	{"checkpointBeforePublish", `1*panic("failpoint checkpointBeforePublish")`},
	{"checkpointGCAfterManifestRemoved", `1*panic("failpoint checkpointGCAfterManifestRemoved")`},
	{"snapshotInstallBeforeSwap", `1*panic("failpoint snapshotInstallBeforeSwap")`},
	{"snapshotInstallAfterSwap", `1*panic("failpoint snapshotInstallAfterSwap")`},
}

// fault is one planned fault, drawn from the run's seed.
type fault struct {
	kind  FaultKind
	node  int           // the target node's index
	hold  time.Duration // how long the fault lasts (for a failpoint: how long it stays armed)
	delay time.Duration // FaultDelay: per forwarded chunk
	fp    failpoint     // FaultFailpoint
}

func (f fault) String() string {
	s := fmt.Sprintf("%s n%d for %s", f.kind, f.node+1, f.hold.Round(time.Millisecond))
	switch f.kind {
	case FaultDelay:
		s += fmt.Sprintf(" (+%s per chunk)", f.delay)
	case FaultFailpoint:
		s += fmt.Sprintf(" (%s=%s)", f.fp.name, f.fp.term)
	}
	return s
}

// planner draws faults from the seed: kinds in shuffled rounds, so a short
// run still covers every kind, and targets and durations at random.
type planner struct {
	rng   *rand.Rand
	kinds []FaultKind
	round []FaultKind
	nodes int
}

func newPlanner(seed uint64, kinds []FaultKind, nodes int) *planner {
	return &planner{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), kinds: kinds, nodes: nodes}
}

func (p *planner) next() fault {
	if len(p.round) == 0 {
		p.round = append([]FaultKind(nil), p.kinds...)
		p.rng.Shuffle(len(p.round), func(i, j int) { p.round[i], p.round[j] = p.round[j], p.round[i] })
	}
	f := fault{kind: p.round[0], node: p.rng.IntN(p.nodes), hold: time.Second + time.Duration(p.rng.Int64N(int64(2*time.Second)))}
	p.round = p.round[1:]
	switch f.kind {
	case FaultDelay:
		f.delay = time.Duration(20+p.rng.IntN(180)) * time.Millisecond
	case FaultFailpoint:
		f.fp = failpoints[p.rng.IntN(len(failpoints))]
		f.hold += 2 * time.Second // give rarer points a chance to be reached
	}
	return f
}
