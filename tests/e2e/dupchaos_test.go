package e2e

import (
	"bytes"
	"flag"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

var (
	dupChaosRuns     = flag.Int("dupchaos.runs", 0, "duplication chaos runs (0: skip; make test-robustness sets it)")
	dupChaosDuration = flag.Duration("dupchaos.duration", 60*time.Second, "faults injected per duplication chaos run")
	dupChaosSeed     = flag.Int64("dupchaos.seed", 1, "seed of the first duplication chaos run (run i uses seed+i)")
)

// dupChaosRetainBytes is the source's dup.log_retain_bytes during the runs
// (with raft.trailing_logs 16 and frequent snapshots): room for a few
// seconds of the writers' log per partition, more than a base takes to
// load here under load (4-6 s), so that a (re-)bootstrap under load reaches
// LOG. With 16 KiB, about as much log as the writers append while a base
// loads, every base arrived with the log after it gone and the remote
// re-bootstrapped over and over. The remote-down fault lowers it to
// dupChaosDownRetainBytes while the remote is down (dupchaos_retention_test.go).
const dupChaosRetainBytes = 256 << 10

// TestDuplicationChaos runs a source and a remote cluster (3 real nodes
// each) with a steady write load on the source and one fault at a time on
// either side: kill -9 of a source or remote partition leader, the whole
// remote down past the retention cap, and a network cut between the
// clusters (the remote's connections to the source blackholed by proxies
// the source nodes are reached through, their own traffic untouched), and
// a switchover to the remote and back (dupchaos_dr_test.go), a failover
// with the source lost and a resync (dupchaos_resync_test.go), and a chain
// to a third cluster with a kill -9 of the middle (dupchaos_chain_test.go). Each
// run ends with tandem-verify saying identical and every acknowledged
// source write read back on the remote. Waits are on progress (see
// stallPatience), not on totals of time, so a loaded machine is slower, not
// failed. A failed run names the check and the step it was in and saves
// both clusters' node logs and data directories, the last tandem-verify
// output and a report (see chaosRun).
func TestDuplicationChaos(t *testing.T) {
	if *dupChaosRuns == 0 {
		t.Skip("duplication chaos runs only with -dupchaos.runs N (make test-robustness)")
	}
	for i := 0; i < *dupChaosRuns; i++ {
		seed := *dupChaosSeed + int64(i)
		t.Run("seed-"+strconv.FormatInt(seed, 10), func(t *testing.T) { dupChaosRun(t, seed, *dupChaosDuration) })
	}
}

type dupFault string

const (
	faultKillSourceLeader dupFault = "kill-source-leader"
	faultKillRemoteLeader dupFault = "kill-remote-leader"
	faultRemoteDownLong   dupFault = "remote-down-past-retention"
	faultClusterCut       dupFault = "network-cut-between-clusters"
)

func dupChaosRun(t *testing.T, seed int64, duration time.Duration) {
	rng := rand.New(rand.NewSource(seed))
	// Every source node is reached through its own front proxy, by its peers
	// and (through --advertise-addr) by the remote, so a cut can pick the
	// remote's connections alone.
	front := map[string]*Proxy{}
	frontOf := func(nd *Node) *Proxy {
		if front[nd.ID] == nil {
			front[nd.ID] = NewProxy(t, nd.Addr)
		}
		return front[nd.ID]
	}
	src := StartClusterWith(t, "east", 3, ClusterOptions{
		PeerAddr: func(_, to *Node) string { return frontOf(to).Addr() },
		Args:     func(nd *Node) []string { return []string{"--advertise-addr", frontOf(nd).Addr()} },
	})
	dst := StartCluster(t, "west", 3)
	r := newChaosRun(t, seed, src, dst)
	_, err := src.Shell("create t --partitions 4 --replicas 3; config set dup.log_retain_bytes " + strconv.Itoa(dupChaosRetainBytes) +
		"; config set raft.trailing_logs 16; config set raft.snapshot_threshold 64; config set checkpoint.interval 2s")
	r.require("source table and config", err)
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 4)
	defer func() {
		if w != nil {
			w.halt()
		}
	}()
	r.setStep("first writes")
	r.waitAcked(w, 200)
	r.setStep("dup add")
	id := dupAdd(t, src, dst, "t")

	counts := map[dupFault]int{}
	chain := &chaosChain{} // dupchaos_chain_test.go
	faults := []dupFault{faultKillSourceLeader, faultKillRemoteLeader, faultRemoteDownLong, faultClusterCut, faultSwitchover}
	faults = onlyFaults(append(faults, faultFailoverResync, faultChain)) // dupchaos_resync_test.go, dupchaos_chain_test.go
	end := time.Now().Add(duration)
	for i := 0; time.Now().Before(end); i++ {
		f := faults[rng.Intn(len(faults))]
		if i < len(faults) {
			f = faults[(int(seed)+i)%len(faults)] // every kind at least once per run
		}
		counts[f]++
		r.setStep("fault %d: %s (acked so far %d)", i, f, w.count())
		r.note("fault %d: %s", i, f)
		chain.before(r, f, w)
		switch f {
		case faultSwitchover:
			id = r.switchoverAndBack(id, w, src, dst, c, rng)
		case faultFailoverResync:
			id = r.failoverAndResync(id, w, src, dst, rng)
		case faultChain:
			chain.inject(r, w, rng)
		case faultRemoteDownLong:
			r.remoteDownPastRetention(id, w, src, dst, c) // dupchaos_retention_test.go
		default:
			r.inject(f, w, src, dst, c, front, rng)
		}
		// Let the duplication make progress between faults.
		r.waitAcked(w, w.count()+100)
	}
	r.setStep("stopping the writers")
	acked := w.halt()
	w = nil
	r.note("faults %v, %d writes acknowledged", counts, len(acked))

	r.setStep("waiting for identical tables (tandem-verify)")
	out := r.waitIdentical("t")
	r.setStep("reading %d acknowledged writes on the remote", len(acked))
	r.require("every acknowledged source write on the remote", verifyAckedOn(openTable(t, dial(t, dst.Addrs()), "t"), acked))
	chainOut := chain.verify(r)
	// Each remote-down fault checked its re-bootstraps itself
	// (dupchaos_retention_test.go); the count is for the summary.
	gone := countInLogs(t, src, "duplication needs log that is gone")
	if show, err := src.Shell("dup show t " + id); err == nil {
		t.Logf("dup show t %s:\n%s", id, show)
	}
	t.Logf("DUPCHAOS seed=%d faults=%v acked_writes=%d log_gone_answers=%d verify=%q chain_verify=%q: identical, no acknowledged write missing",
		seed, counts, len(acked), gone, lastLine(out), chainOut)
}

// inject applies fault f, holds it while the writers go on, and heals it.
func (r *chaosRun) inject(f dupFault, w *writer, src, dst *Cluster, c *client.Client, front map[string]*Proxy, rng *rand.Rand) {
	switch f {
	case faultKillSourceLeader:
		victim := r.leaderNode(src, c, rng.Intn(4))
		victim.Kill()
		r.waitAcked(w, w.count()+100+rng.Intn(400))
		victim.Start()
		victim.WaitHealthy(stallPatience)
	case faultKillRemoteLeader:
		victim := r.leaderNode(dst, dial(r.t, dst.Addrs()), rng.Intn(4))
		victim.Kill()
		r.waitAcked(w, w.count()+100+rng.Intn(400))
		victim.Start()
		victim.WaitHealthy(stallPatience)
	case faultClusterCut:
		remote := OwnedBy(dst.Nodes...)
		for _, p := range front {
			p.BlackholeFrom(remote)
		}
		r.waitAcked(w, w.count()+200+rng.Intn(800))
		for _, p := range front {
			p.Heal()
		}
	}
}

// countInLogs counts the log lines of cl's nodes that contain s.
func countInLogs(t *testing.T, cl *Cluster, s string) int {
	t.Helper()
	n := 0
	for _, nd := range cl.Nodes {
		b, err := os.ReadFile(nd.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte(s))
	}
	return n
}
