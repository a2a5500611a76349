package e2e

import (
	"context"
	"fmt"
	"strings"
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
