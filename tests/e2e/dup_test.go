package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// dupAdd runs `dup add` through the shell and returns the duplication id.
func dupAdd(t *testing.T, src, dst *Cluster, table string) string {
	t.Helper()
	out, err := src.Shell("dup add " + table + " " + dst.Nodes[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if id == "" {
		t.Fatalf("dup add printed no id: %q", out)
	}
	return id
}

// waitIdentical polls tandem-verify until it says identical.
func waitIdentical(t *testing.T, src, dst *Cluster, table string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	for time.Now().Before(deadline) {
		var ok bool
		if out, ok = Verify(t, src, dst, table); ok {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("tables never identical; last tandem-verify:\n%s", out)
	return ""
}

func TestDuplicationThroughKill9OnBothSides(t *testing.T) {
	for _, remoteNodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("remote-%d-nodes", remoteNodes), func(t *testing.T) { dupKill9(t, remoteNodes) })
	}
}

func dupKill9(t *testing.T, remoteNodes int) {
	src := StartCluster(t, "east", 3)
	dst := StartCluster(t, "west", remoteNodes)
	if _, err := src.Shell("create t --partitions 4 --replicas 3"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 4)
	w.waitAcked(t, 200) // data before dup add, and writes during the base transfer
	id := dupAdd(t, src, dst, "t")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := src.Shell("dup show t " + id)
		if err == nil && strings.Count(out, " LOG ") == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every partition reached LOG: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// kill -9 the source leader of partition 0 during LOG, then the remote.
	victim := src.Node(leaderOf(t, c, "t", 0))
	victim.Kill()
	w.waitAcked(t, w.count()+200)
	victim.Start()
	victim.WaitHealthy(30 * time.Second)
	rvictim := dst.Nodes[0]
	if remoteNodes > 1 {
		rvictim = dst.Node(leaderOf(t, dial(t, dst.Addrs()), "t", 0))
	}
	rvictim.Kill()
	w.waitAcked(t, w.count()+200)
	rvictim.Start()
	rvictim.WaitHealthy(30 * time.Second)
	// Freeze the whole remote for a while (its pulls stop mid-flight, as
	// if the network between the clusters were cut), then let it go on.
	for _, nd := range dst.Nodes {
		nd.Pause()
	}
	w.waitAcked(t, w.count()+200)
	for _, nd := range dst.Nodes {
		nd.Resume()
	}
	acked := w.halt()

	out := waitIdentical(t, src, dst, "t", 60*time.Second)
	t.Logf("%d acknowledged source writes; tandem-verify: %s", len(acked), lastLine(out))
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), acked)
	if out, err := src.Shell("dup show t " + id); err == nil {
		t.Logf("dup show:\n%s", out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
