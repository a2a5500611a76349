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
// (with raft.trailing_logs 16 and frequent snapshots): small, so a remote
// that is down for a few thousand writes falls behind the retained log and
// must re-bootstrap from a new base.
const dupChaosRetainBytes = 16 << 10

// TestDuplicationChaos runs a source and a remote cluster (3 real nodes
// each) with a steady write load on the source and one fault at a time on
// either side: kill -9 of a source or remote partition leader, the whole
// remote down past the retention cap, and a network cut between the
// clusters (the remote's connections to the source blackholed by proxies
// the source nodes are reached through, their own traffic untouched). Each
// run ends with tandem-verify saying identical and every acknowledged
// source write read back on the remote.
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
	if _, err := src.Shell("create t --partitions 4 --replicas 3; config set dup.log_retain_bytes " + strconv.Itoa(dupChaosRetainBytes) +
		"; config set raft.trailing_logs 16; config set raft.snapshot_threshold 64; config set checkpoint.interval 2s"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 4)
	defer func() {
		if w != nil {
			w.halt()
		}
	}()
	w.waitAcked(t, 200)
	id := dupAdd(t, src, dst, "t")

	counts := map[dupFault]int{}
	faults := []dupFault{faultKillSourceLeader, faultKillRemoteLeader, faultRemoteDownLong, faultClusterCut}
	end := time.Now().Add(duration)
	for i := 0; time.Now().Before(end); i++ {
		f := faults[rng.Intn(len(faults))]
		if i < len(faults) {
			f = faults[(int(seed)+i)%len(faults)] // every kind at least once per run
		}
		counts[f]++
		t.Logf("seed %d fault %d: %s (acked so far %d)", seed, i, f, w.count())
		switch f {
		case faultKillSourceLeader:
			victim := leaderNode(t, src, c, rng.Intn(4))
			victim.Kill()
			w.waitAcked(t, w.count()+100+rng.Intn(400))
			victim.Start()
			victim.WaitHealthy(30 * time.Second)
		case faultKillRemoteLeader:
			victim := leaderNode(t, dst, dial(t, dst.Addrs()), rng.Intn(4))
			victim.Kill()
			w.waitAcked(t, w.count()+100+rng.Intn(400))
			victim.Start()
			victim.WaitHealthy(30 * time.Second)
		case faultRemoteDownLong:
			for _, nd := range dst.Nodes {
				nd.Kill()
			}
			// A write is ~50 bytes of log: this many is several times the
			// retention cap on each of the 4 partitions.
			w.waitAcked(t, w.count()+3000)
			for _, nd := range dst.Nodes {
				nd.Start()
			}
			for _, nd := range dst.Nodes {
				nd.WaitHealthy(30 * time.Second)
			}
		case faultClusterCut:
			remote := OwnedBy(dst.Nodes...)
			for _, p := range front {
				p.BlackholeFrom(remote)
			}
			w.waitAcked(t, w.count()+200+rng.Intn(800))
			for _, p := range front {
				p.Heal()
			}
		}
		// Let the duplication make progress between faults.
		w.waitAcked(t, w.count()+100)
	}
	acked := w.halt()
	w = nil

	out := waitIdentical(t, src, dst, "t", 120*time.Second)
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), acked)
	// The remote fetched a new base because the log it needed was gone:
	// the source says so in its logs each time.
	gone := countInLogs(t, src, "duplication needs log that is gone")
	if counts[faultRemoteDownLong] > 0 && gone == 0 {
		t.Errorf("the remote was down past the retention cap %d times but never had to re-bootstrap", counts[faultRemoteDownLong])
	}
	if show, err := src.Shell("dup show t " + id); err == nil {
		t.Logf("dup show t %s:\n%s", id, show)
	}
	t.Logf("DUPCHAOS seed=%d faults=%v acked_writes=%d log_gone_answers=%d verify=%q: identical, no acknowledged write missing",
		seed, counts, len(acked), gone, lastLine(out))
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

// leaderNode waits until partition p of table t has a leader in cl and
// returns its node.
func leaderNode(t *testing.T, cl *Cluster, c *client.Client, p int) *Node {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if nd := cl.Node(leaderOf(t, c, "t", p)); nd != nil {
			return nd
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d of t has no leader in %s after 30s", p, cl.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
