package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// hotWriter overwrites each key 20 times in a row, then moves on to the
// next (one writer, so each key's values come in order): a batch a chain's
// middle re-shipped onward after it skipped it would put an old value back
// on the last cluster, where no later write of the key corrects it, and
// tandem-verify finds it. Unique-key writers cannot show that, nor keys
// overwritten for ever.
type hotWriter struct {
	tbl  *client.Table
	stop chan struct{}
	wg   sync.WaitGroup
	n    int
}

func startHotWriter(tbl *client.Table) *hotWriter {
	h := &hotWriter{tbl: tbl, stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-h.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if h.tbl.Set(ctx, []byte(fmt.Sprintf("hot%d", i/20%7)), []byte(fmt.Sprintf("k%06d", i/20)), []byte(fmt.Sprintf("v%07d", i))) == nil {
				h.n++
			}
			cancel()
		}
	}()
	return h
}

func (h *hotWriter) halt() int {
	close(h.stop)
	h.wg.Wait()
	return h.n
}

// chainAdd adds the onward duplication of a chain: `dup add` on the
// middle's cluster, to the next cluster, then waits for LOG.
func chainAdd(t *testing.T, mid, next *Cluster, table string, partitions int) string {
	t.Helper()
	id := dupAdd(t, mid, next, table)
	waitLog(t, mid, table, id, partitions)
	return id
}

// A three-cluster chain east → west → south under a steady write load
// (unique keys and overwritten hot keys): south loads its base from west's
// checkpoints of the follower table and follows west in LOG; a west leader
// (the middle) is killed with -9 mid-load and restarted. All three end
// identical (tandem-verify), every acknowledged write is on south, a cycle
// through the chain is refused, and west's dup ls shows both directions.
func TestChainThroughKill9OfTheMiddle(t *testing.T) {
	east := StartCluster(t, "east", 1)
	west := StartCluster(t, "west", 3)
	south := StartCluster(t, "south", 1)
	if _, err := east.Shell("create t --partitions 4 --replicas 1"); err != nil {
		t.Fatal(err)
	}
	tbl := openTable(t, dial(t, east.Addrs()), "t")
	w := startWriters(tbl, 3)
	hot := startHotWriter(tbl)
	w.waitAcked(t, 200)
	id := dupAdd(t, east, west, "t")
	waitLog(t, east, "t", id, 4)
	w.waitAcked(t, w.count()+200)
	onward := chainAdd(t, west, south, "t", 4)

	wc := dial(t, west.Addrs())
	for p := 0; p < 2; p++ {
		victim := west.Node(leaderOf(t, wc, "t", p))
		victim.Kill()
		w.waitAcked(t, w.count()+300)
		victim.Start()
		victim.WaitHealthy(60 * time.Second)
		w.waitAcked(t, w.count()+100)
	}
	if out, err := south.Shell("dup add t " + east.Nodes[0].Addr); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("dup add south → east: %q %v, want a cycle refusal", out, err)
	}
	ls, err := west.Shell("dup ls t")
	if err != nil || !strings.Contains(ls, id) || !strings.Contains(ls, "following") || !strings.Contains(ls, onward) {
		t.Fatalf("west's dup ls does not show the incoming %s and the outgoing %s: %q %v", id, onward, ls, err)
	}
	acked, hotN := w.halt(), hot.halt()

	outWest := waitIdentical(t, east, west, "t", 120*time.Second)
	outSouth := waitIdentical(t, east, south, "t", 120*time.Second)
	verifyAcked(t, openTable(t, dial(t, south.Addrs()), "t"), acked)
	t.Logf("%d acknowledged unique writes, %d hot-key overwrites, %d re-shipped batches skipped on west (not shipped on); east=west: %s; east=south: %s",
		len(acked), hotN, countInLogs(t, west, "shipped entries skipped"), lastLine(outWest), lastLine(outSouth))
	t.Logf("west dup ls:\n%s", ls)
	if show, err := west.Shell("dup show t " + onward); err == nil {
		t.Logf("west dup show t %s:\n%s", onward, show)
	}
}
