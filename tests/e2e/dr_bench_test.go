package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// Disaster-recovery figures on real processes at the defaults (production
// raft timings): two 3-node clusters on 127.0.0.1, an 8-partition table
// under a steady write load (8 writers that follow the primary).
//
//	go test -run '^$' -bench BenchmarkSwitchover -benchtime 1x ./tests/e2e/
//
// replicated-age-*: the age of the duplication's replicated time (what a
// failover at that moment could lose), sampled under the load;
// window-*: first write refused on the old primary to first write
// acknowledged on the new one, over switchovers back and forth;
// switchover-*: how long the dup switchover command took.
func BenchmarkSwitchover(b *testing.B) {
	const rounds = 6
	east := LaunchCluster(b, "east", 3, ClusterOptions{DefaultTimings: true})
	west := LaunchCluster(b, "west", 3, ClusterOptions{DefaultTimings: true})
	for _, nd := range append(append([]*Node{}, east.Nodes...), west.Nodes...) {
		nd.WaitHealthy(60 * time.Second)
	}
	if _, err := east.Shell("create t --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	clients := map[string]*client.Client{"east": dialB(b, east.Addrs()), "west": dialB(b, west.Addrs())}
	id := addAndWaitLog(b, clients["east"], "t", west)
	tables := map[string]*client.Table{}
	for name, c := range clients {
		tbl, err := c.Table(context.Background(), "t")
		if err != nil {
			b.Fatal(err)
		}
		tables[name] = tbl
	}
	w := startSwitchWriters(tables, "east", 8)
	defer w.halt()
	w.waitAcked(b, 2000)
	b.ResetTimer()

	ages := sampleReplicatedAge(b, clients["east"], id, 3*time.Second)
	var windows, took []time.Duration
	src, dst := "east", "west"
	for i := 0; i < rounds; i++ {
		w.waitAcked(b, w.count()+500)
		w.forget(dst)
		start := time.Now()
		resp, err := clients[src].Switchover(context.Background(), "t", id)
		if err != nil {
			b.Fatalf("switchover %d (%s -> %s): %v", i, src, dst, err)
		}
		took = append(took, time.Since(start))
		w.waitAcked(b, w.count()+100)
		win, ok := w.window(dst)
		if !ok {
			b.Fatalf("switchover %d: no refused-then-accepted write seen", i)
		}
		windows = append(windows, win)
		id, src, dst = resp.ReverseDupId, dst, src
		waitLogB(b, clients[src], id)
	}
	b.StopTimer()
	report := func(ds []time.Duration, name string) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, name+"-max-ms")
	}
	report(ages, "replicated-age")
	report(windows, "window")
	report(took, "switchover")
	b.Logf("windows %v; switchovers took %v; %d writes acknowledged, %d of unknown outcome", windows, took, w.count(), w.failed)
}

// sampleReplicatedAge samples the duplication's replicated-time age for d.
func sampleReplicatedAge(b *testing.B, c *client.Client, id string, d time.Duration) []time.Duration {
	var ages []time.Duration
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		list, err := c.ListDuplications(context.Background(), "t")
		if err != nil || len(list) != 1 || list[0].GetId() != id {
			continue
		}
		if _, ok := client.ReplicatedTime(list[0]); ok {
			ages = append(ages, time.Duration(list[0].GetReplicatedAgeSeconds()*float64(time.Second)))
		}
	}
	if len(ages) == 0 {
		b.Fatal("no replicated time reported under load")
	}
	return ages
}

// waitLogB waits until every partition of duplication id is in LOG.
func waitLogB(b *testing.B, c *client.Client, id string) {
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := c.ShowDuplication(context.Background(), "t", id)
		if err == nil && allInLog(resp.Partitions) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("duplication %s never reached LOG: %v", id, err)
		}
	}
}
