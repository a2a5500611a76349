package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/duplication"
)

// Failback after an unplanned failover, on real processes: east takes
// writes while its duplication to west is cut (paused), east is frozen
// (SIGSTOP), west is promoted and takes writes, east comes back and keeps
// acknowledging writes, then `dup resync` on east. Every write east
// acknowledged is on west or in the divergence file, never both, none
// lost; east becomes west's follower (tandem-verify identical) and a
// switchover moves the primary back to east. The refusals are typed.
func TestResyncAfterFailover(t *testing.T) {
	east := StartCluster(t, "east", 3)
	west := StartCluster(t, "west", 1)
	if _, err := east.Shell("create t --partitions 4 --replicas 3"); err != nil {
		t.Fatal(err)
	}
	ce := dial(t, east.Addrs())
	w := startSwitchWriters(map[string]*client.Table{"east": openTable(t, ce, "t")}, "east", 4)
	w.waitAcked(t, 200)
	id := dupAdd(t, east, west, "t")
	waitLog(t, east, "t", id, 4)
	w.waitAcked(t, w.count()+200)
	resyncRefusals(t, east, ce, id)

	// Cut the duplication: what east acknowledges from now on is not on west.
	if _, err := east.Shell("dup pause t " + id); err != nil {
		t.Fatal(err)
	}
	w.waitAcked(t, w.count()+300)
	for _, nd := range east.Nodes {
		nd.Pause()
	}
	out, err := west.Shell("dup promote t")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dup promote with east frozen:\n%s", out)
	cw := dial(t, west.Addrs())
	tw := openTable(t, cw, "t")
	for i := 0; i < 50; i++ {
		if err := tw.Set(context.Background(), []byte(fmt.Sprintf("west%d", i)), []byte("k"), []byte("w")); err != nil {
			t.Fatalf("write to the promoted table: %v", err)
		}
	}
	for _, nd := range east.Nodes {
		nd.Resume()
	}
	w.waitAcked(t, w.count()+100) // east, back, still acknowledges writes

	// The new primary unreachable: a typed refusal, nothing changes here.
	west.Nodes[0].Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	_, err = ce.Resync(ctx, "t", id)
	cancel()
	west.Nodes[0].Resume()
	if !errors.Is(err, client.ErrRemoteUnreachable) || !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("resync with the new primary frozen: %v, want ErrRemoteUnreachable", err)
	}
	w.waitAcked(t, w.count()+50) // not fenced by the refused resync

	start := time.Now()
	out, err = resync(t, east, id)
	took := time.Since(start)
	acked := w.halt()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dup resync took %v:\n%s", took, out)
	path := strings.Fields(out)[2]
	div := readDivergence(t, path)
	onWest, inFile, err := accountDivergence(tw, acked, div)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged by east (%d of unknown outcome): %d on west, %d in the divergence file (%d entries)",
		len(acked), w.failed, onWest, inFile, len(div))
	if inFile == 0 {
		t.Fatal("no divergent write: the test did not cut the duplication")
	}
	if _, err := tw.Get(context.Background(), []byte("user1"), []byte("k9999999")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get of an absent record: %v", err)
	}
	after := resyncFollows(t, east, west, cw, ce, id, out, start)
	t.Logf("east identical to west %v after the resync began; %s", after, lastLine(waitIdentical(t, west, east, "t", 2*time.Minute)))
	reapplyDivergence(t, east, openTable(t, ce, "t"), path, acked)
}

// reapplyDivergence re-applies the divergence file on east, primary again,
// with dup reapply (the README's command): the divergent writes east
// acknowledged are then all there.
func reapplyDivergence(t *testing.T, east *Cluster, te *client.Table, path string, acked map[string]string) {
	t.Helper()
	out, err := east.Shell("dup reapply t " + path)
	if err != nil {
		t.Fatalf("re-apply the divergence file: %v\n%s", err, out)
	}
	t.Logf("dup reapply: %s", strings.TrimSpace(out))
	for _, e := range readDivergence(t, path) {
		for _, m := range e.Mutations {
			want, ok := acked[m.HashKey+"\x00"+m.SortKey]
			if !ok {
				continue // a write of unknown outcome: re-applied all the same
			}
			if got, err := getPatiently(te, []byte(m.HashKey), []byte(m.SortKey)); err != nil || string(got) != want {
				t.Fatalf("%s/%s after the re-apply: %q %v, want %q", m.HashKey, m.SortKey, got, err, want)
			}
		}
	}
}

// resyncRefusals checks the typed refusals of a resync that cannot run.
func resyncRefusals(t *testing.T, east *Cluster, ce *client.Client, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := ce.Resync(ctx, "t", id); !errors.Is(err, client.ErrDupRefused) || !strings.Contains(err.Error(), "still follows") {
		t.Fatalf("resync while west follows: %v, want ErrDupRefused (still follows)", err)
	}
	if _, err := ce.Resync(ctx, "t", "12345"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("resync of an unknown duplication: %v, want ErrNotFound", err)
	}
	if _, err := ce.Resync(ctx, "nosuch", id); !errors.Is(err, client.ErrTableNotFound) {
		t.Fatalf("resync of an unknown table: %v, want ErrTableNotFound", err)
	}
	if out, err := east.Shell("dup resync t " + id); err == nil || !strings.Contains(err.Error(), "not promoted") {
		t.Fatalf("shell resync while west follows: %q %v", out, err)
	}
	if _, err := east.Shell("set t after refusal v"); err != nil {
		t.Fatalf("a refused resync left the table fenced: %v", err)
	}
}

// readDivergence reads a divergence file: set mutations by key.
func readDivergence(t *testing.T, path string) []duplication.DivergentEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("divergence file: %v", err)
	}
	defer f.Close()
	var out []duplication.DivergentEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e duplication.DivergentEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("divergence line %q: %v", sc.Text(), err)
		}
		if e.Table != "t" || e.Decree == 0 || e.CommitUnixMs == 0 || len(e.Mutations) == 0 {
			t.Fatalf("divergence line without table, decree, commit time or mutations: %q", sc.Text())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// resyncFollows checks east after the resync: read-only follower of west
// until identical, then a switchover makes it the primary again. It
// returns when east was identical, after start.
func resyncFollows(t *testing.T, east, west *Cluster, cw, ce *client.Client, oldID, out string, start time.Time) time.Duration {
	t.Helper()
	newID := strings.Fields(strings.Split(out, "\n")[1])[8]
	if _, err := east.Shell("set t x y z"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write to the resynced table: %v, want read-only", err)
	}
	waitLog(t, west, "t", newID, 4)
	waitIdentical(t, west, east, "t", 2*time.Minute)
	after := time.Since(start)
	show, err := cw.ShowDuplication(context.Background(), "t", newID)
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	for _, p := range show.GetPartitions() {
		bytes += p.GetBaseBytesTotal()
	}
	t.Logf("resync base transfer: %d bytes over %d partitions", bytes, len(show.GetPartitions()))
	if again, err := east.Shell("dup resync t " + oldID); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("resync run again after it finished: %q %v", again, err)
	}
	back := switchover(t, west, "t", newID)
	if _, err := east.Shell("set t back k v"); err != nil {
		t.Fatalf("write to east after the switch back: %v", err)
	}
	waitLog(t, east, "t", back, 4)
	return after
}

// resync runs dup resync through the shell of cl, again after a failure
// (the command resumes; a busy machine may cost a leader mid-way).
func resync(t *testing.T, cl *Cluster, id string) (string, error) {
	var out string
	var err error
	for try := 0; try < 3; try++ {
		if out, err = cl.Shell("dup resync t " + id); err == nil {
			return out, nil
		}
		t.Logf("dup resync failed, running it again: %v", err)
	}
	return out, err
}
