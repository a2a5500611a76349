package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// waitLog waits until every partition of duplication id is in LOG.
func waitLog(t *testing.T, src *Cluster, table, id string, partitions int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := src.Shell("dup show " + table + " " + id)
		if err == nil && strings.Count(out, " LOG ") == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every partition reached LOG: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The replicated time, end to end: with writes to one hash key only (most
// partitions idle), the duplication's replicated time (the minimum over 8
// partitions) passes a moment taken after the last write, as the SDK, the
// shell and the metrics show it.
func TestReplicatedTimeShownWithIdlePartitions(t *testing.T) {
	src := StartCluster(t, "east", 1)
	dst := StartCluster(t, "west", 1)
	if _, err := src.Shell("create t --partitions 8 --replicas 1"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	for i := 0; i < 20; i++ {
		if err := tbl.Set(context.Background(), []byte("one-key"), []byte(fmt.Sprintf("s%d", i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	id := dupAdd(t, src, dst, "t")
	waitLog(t, src, "t", id, 8)
	if err := tbl.Set(context.Background(), []byte("one-key"), []byte("last"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := c.ListDuplications(context.Background(), "t")
		if err == nil && len(list) == 1 {
			if rt, ok := client.ReplicatedTime(list[0]); ok && !rt.Before(mark) {
				t.Logf("replicated time %s, age %.3fs", rt.UTC().Format(time.RFC3339Nano), list[0].GetReplicatedAgeSeconds())
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicated time never passed %s: %v %v", mark, list, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := src.Shell("dup show t " + id)
	if err != nil || !strings.Contains(strings.SplitN(out, "\n", 2)[0], ", replicated 20") {
		t.Fatalf("dup show does not print the replicated time: %q %v", out, err)
	}
	t.Logf("dup show:\n%s", out)
	if out, err = src.Shell("dup ls"); err != nil || !strings.Contains(out, "REPLICATED") {
		t.Fatalf("dup ls: %q %v", out, err)
	}
	t.Logf("dup ls:\n%s", out)
	_, metrics := src.Nodes[0].httpGet("/metrics")
	for _, name := range []string{"tandem_duplication_replicated_time_seconds{", "tandem_duplication_replicated_age_seconds{"} {
		if n := strings.Count(metrics, name); n != 8 {
			t.Fatalf("%d series of %s, want 8", n, name)
		}
	}
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), map[string]string{"one-key\x00last": "v"})
}

// switchWriter writes unique keys to whichever cluster is the table's
// primary: a write refused with client.ErrSwitchedOver moves it to the
// cluster the error names. It records every acknowledged write and, for
// the window figure, when writes were refused and accepted.
type switchWriter struct {
	tables map[string]*client.Table // by cluster name
	mu     sync.Mutex
	cur    string
	acked  map[string]string
	where  map[string]string    // key -> cluster that acknowledged it
	ackAt  map[string]time.Time // key -> when it was acknowledged
	failed int
	// refusedAt is the first refusal naming each new primary; acceptedAt
	// the first acknowledged write there after it.
	refusedAt, acceptedAt map[string]time.Time
	next                  atomic.Int64
	stop                  chan struct{}
	wg                    sync.WaitGroup
}

func startSwitchWriters(tables map[string]*client.Table, primary string, n int) *switchWriter {
	w := &switchWriter{tables: tables, cur: primary, acked: map[string]string{}, where: map[string]string{}, ackAt: map[string]time.Time{},
		refusedAt: map[string]time.Time{}, acceptedAt: map[string]time.Time{}, stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

func (w *switchWriter) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		w.mu.Lock()
		cur := w.cur
		tbl := w.tables[cur] // the test adds tables while writers run
		w.mu.Unlock()
		i := w.next.Add(1)
		hk, sk, v := fmt.Sprintf("user%d", i%97), fmt.Sprintf("k%07d", i), fmt.Sprintf("v%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := tbl.Set(ctx, []byte(hk), []byte(sk), []byte(v))
		cancel()
		w.record(cur, hk+"\x00"+sk, v, err)
		if errors.Is(err, client.ErrReadOnly) {
			time.Sleep(time.Millisecond) // the new primary is not writable yet
		}
	}
}

func (w *switchWriter) record(cur, key, v string, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	var so *client.SwitchedOverError
	switch {
	case err == nil:
		w.acked[key], w.where[key], w.ackAt[key] = v, cur, now
		if r, ok := w.refusedAt[cur]; ok && w.acceptedAt[cur].IsZero() && now.After(r) {
			w.acceptedAt[cur] = now
		}
	case errors.As(err, &so) && so.Cluster != "":
		if _, ok := w.refusedAt[so.Cluster]; !ok {
			w.refusedAt[so.Cluster] = now
		}
		if _, ok := w.tables[so.Cluster]; ok {
			w.cur = so.Cluster
		}
	case errors.Is(err, client.ErrReadOnly), errors.Is(err, client.ErrSwitchedOver):
		// refused, not applied: retried with another key
	default:
		w.failed++
	}
}

// window is the write-unavailability window of the switchover to cluster:
// first refused write to first write acknowledged there.
func (w *switchWriter) window(cluster string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, a := w.refusedAt[cluster], w.acceptedAt[cluster]
	return a.Sub(r), !r.IsZero() && !a.IsZero()
}

// forget clears the window of cluster, for the next switchover to it.
func (w *switchWriter) forget(cluster string) {
	w.mu.Lock()
	delete(w.refusedAt, cluster)
	delete(w.acceptedAt, cluster)
	w.mu.Unlock()
}

func (w *switchWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *switchWriter) waitAcked(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d writes acknowledged in 60s (%d)", n, w.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *switchWriter) halt() map[string]string {
	close(w.stop)
	w.wg.Wait()
	return w.acked
}

// switchover runs dup switchover through the shell of cl, again after a
// failure (the command resumes), and returns the reversed duplication id.
func switchover(t testing.TB, cl *Cluster, table, id string) string {
	t.Helper()
	rev, err := switchoverE(t, cl, table, id)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// switchoverE is switchover for any goroutine: it returns the error.
func switchoverE(t testing.TB, cl *Cluster, table, id string) (string, error) {
	var out string
	var err error
	for try := 0; try < 5; try++ {
		if out, err = cl.Shell("dup switchover " + table + " " + id); err == nil {
			t.Logf("dup switchover %s %s:\n%s", table, id, out)
			return strings.Fields(strings.Split(out, "\n")[1])[4], nil
		}
		t.Logf("dup switchover failed, running it again: %v", err)
		time.Sleep(time.Second)
	}
	return "", fmt.Errorf("dup switchover never finished: %w", err)
}

// A planned switchover and back under a steady write load on real
// processes, with kill -9 of a leader on the catching-up side during the
// switch back: every acknowledged write is on the final primary, the
// follower is identical (tandem-verify), and a write to the old primary
// is refused naming the new one.
func TestSwitchoverAndBackUnderLoad(t *testing.T) {
	east := StartCluster(t, "east", 3)
	west := StartCluster(t, "west", 3)
	if _, err := east.Shell("create t --partitions 4 --replicas 3"); err != nil {
		t.Fatal(err)
	}
	ce, cw := dial(t, east.Addrs()), dial(t, west.Addrs())
	w := startSwitchWriters(map[string]*client.Table{"east": openTable(t, ce, "t")}, "east", 4)
	w.waitAcked(t, 200)
	id := dupAdd(t, east, west, "t")
	waitLog(t, east, "t", id, 4)
	w.mu.Lock()
	w.tables["west"] = openTable(t, cw, "t")
	w.mu.Unlock()
	w.waitAcked(t, w.count()+200)

	rev := switchover(t, east, "t", id)
	w.waitAcked(t, w.count()+300)
	if win, ok := w.window("west"); ok {
		t.Logf("write-unavailability window east -> west: %v", win)
	}
	err := openTable(t, ce, "t").Set(context.Background(), []byte("h"), []byte("s"), []byte("v"))
	var so *client.SwitchedOverError
	if !errors.As(err, &so) || so.Cluster != "west" || len(so.Addrs) == 0 {
		t.Fatalf("write to the old primary: %v, want a SwitchedOverError naming west", err)
	}
	waitLog(t, west, "t", rev, 4)

	// Switch back; kill -9 the east leader of partition 0 while east
	// catches up and takes the primary back.
	victim := east.Node(leaderOf(t, ce, "t", 0))
	done := make(chan error, 1)
	var back string
	go func() {
		var err error
		back, err = switchoverE(t, west, "t", rev)
		done <- err
	}()
	victim.Kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	victim.Start()
	victim.WaitHealthy(30 * time.Second)
	w.waitAcked(t, w.count()+300)
	acked := w.halt()
	if win, ok := w.window("east"); ok {
		t.Logf("write-unavailability window west -> east (with kill -9): %v", win)
	}
	out := waitIdentical(t, east, west, "t", 90*time.Second)
	t.Logf("%d acknowledged writes (%d failed, outcome unknown); back as dup %s; tandem-verify: %s", len(acked), w.failed, back, lastLine(out))
	verifyAcked(t, openTable(t, dial(t, east.Addrs()), "t"), acked)
}

// ackedBefore lists the writes acknowledged before t.
func (w *switchWriter) ackedBefore(t time.Time) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for k, at := range w.ackAt {
		if at.Before(t) {
			out[k] = w.acked[k]
		}
	}
	return out
}

// dup promote on real processes: refused while the source answers; with
// the whole source frozen (SIGSTOP) mid-load, the follower table becomes
// writable and the command prints the replicated time, before which every
// write the source acknowledged is on the promoted table; the source,
// back, shows in dup show that its remote failed over.
func TestPromoteWithSourceFrozen(t *testing.T) {
	east := StartCluster(t, "east", 3)
	west := StartCluster(t, "west", 1)
	if _, err := east.Shell("create t --partitions 4 --replicas 3"); err != nil {
		t.Fatal(err)
	}
	w := startSwitchWriters(map[string]*client.Table{"east": openTable(t, dial(t, east.Addrs()), "t")}, "east", 4)
	w.waitAcked(t, 200)
	id := dupAdd(t, east, west, "t")
	waitLog(t, east, "t", id, 4)
	w.waitAcked(t, w.count()+300)
	if out, err := west.Shell("dup promote t"); err == nil || !strings.Contains(err.Error(), "answers") {
		t.Fatalf("promote while the source answers: %q %v", out, err)
	}

	for _, nd := range east.Nodes {
		nd.Pause()
	}
	start := time.Now()
	out, err := west.Shell("dup promote t")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dup promote with the source frozen took %v:\n%s", took, out)
	rt, err := time.Parse("2006-01-02T15:04:05.000Z07:00", strings.TrimPrefix(strings.Split(out, "\n")[0], "replicated time "))
	if err != nil {
		t.Fatalf("no replicated time in %q: %v", out, err)
	}
	before := w.ackedBefore(rt)
	ctw := openTable(t, dial(t, west.Addrs()), "t")
	verifyAcked(t, ctw, before)
	if err := ctw.Set(context.Background(), []byte("after"), []byte("promote"), []byte("v")); err != nil {
		t.Fatalf("write to the promoted table: %v", err)
	}
	for _, nd := range east.Nodes {
		nd.Resume()
	}
	acked := w.halt()
	// The promoted table duplicating back into its old source is a cycle.
	if out, err := west.Shell("dup add t " + east.Nodes[0].Addr); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("dup add back into the old source: %q %v, want a cycle refusal", out, err)
	}
	t.Logf("%d writes acknowledged by east, %d before the replicated time %s (all on west), %d after (east only or both)",
		len(acked), len(before), rt.Format(time.RFC3339Nano), len(acked)-len(before))
	if ls, err := west.Shell("dup ls t"); err != nil || !strings.Contains(ls, "failed_over") {
		t.Fatalf("dup ls on the promoted side: %q %v", ls, err)
	} else {
		t.Logf("west dup ls:\n%s", ls)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		show, err := east.Shell("dup show t " + id)
		if err == nil && strings.Contains(show, "remote: cluster west promoted") {
			t.Logf("east dup show:\n%s", show)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old source never said its remote failed over: %q %v", show, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
