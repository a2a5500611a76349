package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Duplication benchmarks on real processes with production raft timings: a
// 3-node source cluster and a 1-node remote on 127.0.0.1.
//
//	go test -run '^$' -bench BenchmarkDuplication -benchtime 1x ./tests/e2e/
func BenchmarkDuplication(b *testing.B) {
	src := StartCluster(b, "east", 3)
	dst := StartCluster(b, "west", 1)
	c := dialB(b, src.Addrs())
	b.Run("add-to-LOG-empty-8-partitions", func(b *testing.B) { benchAddToLog(b, src, dst, c) })
	b.Run("lag-under-load", func(b *testing.B) { benchLag(b, src, dst, c) })
	b.Run("catch-up-after-pause", func(b *testing.B) { benchCatchUp(b, src, dst, c) })
}

func dialB(b *testing.B, addrs []string) *client.Client {
	c, err := client.Dial(context.Background(), addrs...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// addAndWaitLog adds a duplication of table and waits until every
// partition is in LOG; it returns the duplication id.
func addAndWaitLog(b *testing.B, c *client.Client, table string, dst *Cluster) string {
	ctx := context.Background()
	dup, err := c.AddDuplication(ctx, table, dst.Nodes[0].Addr)
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := c.ShowDuplication(ctx, table, dup.Id)
		if err == nil && allInLog(resp.Partitions) {
			return dup.Id
		}
		if time.Now().After(deadline) {
			b.Fatalf("duplication of %s never reached LOG: %v", table, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allInLog(parts []*tpb.DupPartitionStatus) bool {
	for _, p := range parts {
		if p.State != "LOG" {
			return false
		}
	}
	return len(parts) > 0
}

var benchTables atomic.Int64

func benchAddToLog(b *testing.B, src, dst *Cluster, c *client.Client) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		table := fmt.Sprintf("empty%d", benchTables.Add(1))
		if _, err := src.Shell("create " + table + " --partitions 8 --replicas 3"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		addAndWaitLog(b, c, table, dst)
	}
}

// benchLag measures, under a steady write load on the source, the time
// from a write's acknowledgement on the source to its visibility on the
// remote, for sampled writes.
func benchLag(b *testing.B, src, dst *Cluster, c *client.Client) {
	b.StopTimer()
	if _, err := src.Shell("create lag --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	addAndWaitLog(b, c, "lag", dst)
	tbl, remote := tableB(b, c, "lag"), tableB(b, dialB(b, dst.Addrs()), "lag")
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ { // background load
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if tbl.Set(context.Background(), []byte(fmt.Sprintf("load%d", w)), []byte(fmt.Sprint(i%1000)), []byte("v")) == nil {
					writes.Add(1)
				}
			}
		}(w)
	}
	start := time.Now()
	b.StartTimer()
	lags := sampleLags(b, tbl, remote, 200)
	b.StopTimer()
	close(stop)
	wg.Wait()
	rate := float64(writes.Load()) / time.Since(start).Seconds()
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
	b.ReportMetric(rate, "source-writes/s")
}

// sampleLags writes n probe records one after another and, for each, polls
// the remote until it is visible.
func sampleLags(b *testing.B, tbl, remote *client.Table, n int) []time.Duration {
	var lags []time.Duration
	for i := 0; i < n; i++ {
		key := []byte(fmt.Sprintf("probe%d", i))
		if err := tbl.Set(context.Background(), key, []byte("s"), []byte("v")); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		for {
			if _, err := remote.Get(context.Background(), key, []byte("s")); err == nil {
				break
			}
			if time.Since(acked) > 30*time.Second {
				b.Fatalf("probe %d never reached the remote", i)
			}
			time.Sleep(200 * time.Microsecond)
		}
		lags = append(lags, time.Since(acked))
	}
	return lags
}

// benchCatchUp pauses the duplication, writes a backlog as fast as the
// source takes it, resumes, and measures how fast the remote catches up,
// against the source's write rate in the same run.
func benchCatchUp(b *testing.B, src, dst *Cluster, c *client.Client) {
	b.StopTimer()
	if _, err := src.Shell("create backlog --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	id := addAndWaitLog(b, c, "backlog", dst)
	ctx := context.Background()
	if _, err := c.PauseDuplication(ctx, "backlog", id); err != nil {
		b.Fatal(err)
	}
	tbl := tableB(b, c, "backlog")
	const n = 20000
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				if err := tbl.Set(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("s"), []byte("v")); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	writeRate := n / time.Since(start).Seconds()
	b.StartTimer()
	resumed := time.Now()
	if _, err := c.StartDuplication(ctx, "backlog", id); err != nil {
		b.Fatal(err)
	}
	for {
		resp, err := c.ShowDuplication(ctx, "backlog", id)
		if err == nil && caughtUpDup(resp.Partitions) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	catchUp := n / time.Since(resumed).Seconds()
	b.ReportMetric(catchUp, "catch-up-entries/s")
	b.ReportMetric(writeRate, "source-writes/s")
	b.ReportMetric(catchUp/writeRate, "catch-up/write-ratio")
}

func caughtUpDup(parts []*tpb.DupPartitionStatus) bool {
	for _, p := range parts {
		if p.State != "LOG" || p.LagDecrees > 1 {
			return false
		}
	}
	return true
}

func tableB(b *testing.B, c *client.Client, name string) *client.Table {
	t, err := c.Table(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	return t
}
