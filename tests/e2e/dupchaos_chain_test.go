package e2e

import (
	"fmt"
	"maps"
	"math/rand"
	"strings"
	"time"
)

// faultChain is the chain scenario of the duplication chaos run: the
// remote's follower table duplicates onward to a third cluster, south (a
// chain east → west → south), and a remote (middle) partition leader is
// killed with -9 under the load. South stays on through the faults that
// do not move the primary (kills, the remote down past retention, which
// makes the middle re-bootstrap and south after it, the network cut), and
// the run ends with south identical to the remote as well.
const faultChain dupFault = "chain-kill-middle-leader"

// chaosChain is the chain scenario's state in one run.
type chaosChain struct {
	south *Cluster
	id    string // the onward duplication (on the remote)
	added int    // how many times south was added in this run
}

// keepsChain lists the faults a chain stays on through; before the others
// (a switchover is refused into a middle that feeds onward, by design) the
// onward duplication is removed and south stopped.
var keepsChain = map[dupFault]bool{faultChain: true, faultKillSourceLeader: true, faultKillRemoteLeader: true,
	faultRemoteDownLong: true, faultClusterCut: true}

// before runs before fault f: south must have every write acknowledged
// so far before its duplication goes.
func (ch *chaosChain) before(r *chaosRun, f dupFault, w *writer) {
	if ch.south == nil || keepsChain[f] {
		return
	}
	ch.caughtUp(r, w)
	r.setStep("chain: dup rm %s (remote → south) before %s", ch.id, f)
	_, err := r.dst.Shell("dup rm t " + ch.id)
	r.require("chain: dup rm of the onward duplication", err)
	ch.south.Destroy()
	r.note("chain: onward duplication %s removed before %s", ch.id, f)
	ch.south, ch.id = nil, ""
}

// caughtUp waits until south has every write acknowledged when it is
// called, failing only when what is missing stops changing for
// stallPatience.
func (ch *chaosChain) caughtUp(r *chaosRun, w *writer) {
	w.mu.Lock()
	acked := maps.Clone(w.acked)
	w.mu.Unlock()
	r.setStep("chain: south has the %d writes acknowledged so far", len(acked))
	tbl := openTable(r.t, dial(r.t, ch.south.Addrs()), "t")
	var prev string
	since := time.Now()
	for {
		err := verifyAckedOn(tbl, acked)
		if err == nil {
			r.note("chain: south had all %d writes acknowledged before its duplication was removed", len(acked))
			return
		}
		if msg := err.Error(); msg != prev {
			prev, since = msg, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("chain: south has every acknowledged write", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// inject adds south when it is not on, then kills a remote leader (the
// middle of the chain) under the load.
func (ch *chaosChain) inject(r *chaosRun, w *writer, rng *rand.Rand) {
	if ch.south == nil {
		ch.added++
		r.setStep("chain: starting south (%d), dup add on the remote", ch.added)
		ch.south = StartCluster(r.t, "south", 1)
		ch.id = dupAdd(r.t, r.dst, ch.south, "t")
		ch.waitLog(r)
		r.note("chain: the remote's table feeds south (duplication %s)", ch.id)
	}
	victim := r.leaderNode(r.dst, dial(r.t, r.dst.Addrs()), rng.Intn(4))
	r.setStep("chain: kill -9 of middle leader %s", victim.ID)
	victim.Kill()
	r.waitAcked(w, w.count()+100+rng.Intn(400))
	victim.Start()
	victim.WaitHealthy(stallPatience)
}

// waitLog waits until every partition of the onward duplication is in
// LOG, failing only when dup show stops changing for stallPatience.
func (ch *chaosChain) waitLog(r *chaosRun) {
	var prev string
	since := time.Now()
	for {
		out, err := r.dst.Shell("dup show t " + ch.id)
		if err == nil && strings.Count(out, " LOG ") == 4 {
			return
		}
		if out != prev {
			prev, since = out, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("chain: the onward duplication reaches LOG", fmt.Errorf("dup show said the same for %s: %s %v", stallPatience, out, err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// verify, after the run's writes stopped and the remote is identical to
// the source, waits until south is identical to the remote (tandem-verify)
// and returns its last line ("" when no chain is on).
func (ch *chaosChain) verify(r *chaosRun) string {
	if ch.south == nil {
		return ""
	}
	r.setStep("chain: waiting for south identical to the remote (tandem-verify)")
	var prev string
	since := time.Now()
	for {
		out, ok := Verify(r.t, r.dst, ch.south, "t")
		if ok {
			r.note("chain: south identical: %s", lastLine(out))
			return lastLine(out)
		}
		if out != prev {
			prev, since = out, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("chain: south identical to the remote (tandem-verify)", fmt.Errorf("south stopped catching up: tandem-verify said the same for %s:\n%s", stallPatience, out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
