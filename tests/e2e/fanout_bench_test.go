package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The source's CPU cost of each extra remote (fan-out), on real processes
// at the defaults: a 3-node source with an 8-partition table under a fixed
// write rate, its processes' CPU time measured with no remote, one and two
// (1-node clusters on the same machine, whose own CPU is not counted).
//
//	go test -run '^$' -bench BenchmarkFanOutCPU -benchtime 1x ./tests/e2e/
//
// cpu-N-remotes is the source's CPU seconds per second with N remotes;
// extra-per-remote-pct the mean increase per remote over no remote.
func BenchmarkFanOutCPU(b *testing.B) {
	const rate, window = 300, 10 * time.Second
	east := LaunchCluster(b, "east", 3, ClusterOptions{DefaultTimings: true})
	remotes := []*Cluster{LaunchCluster(b, "west", 1, ClusterOptions{DefaultTimings: true}), LaunchCluster(b, "south", 1, ClusterOptions{DefaultTimings: true})}
	for _, cl := range append([]*Cluster{east}, remotes...) {
		for _, nd := range cl.Nodes {
			nd.WaitHealthy(60 * time.Second)
		}
	}
	if _, err := east.Shell("create t --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	c := dialB(b, east.Addrs())
	tbl, err := c.Table(context.Background(), "t")
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a fixed rate, so the cost is per write shipped, not more writes
		defer wg.Done()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			go func(i int) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = tbl.Set(ctx, []byte(fmt.Sprintf("u%d", i%997)), []byte(fmt.Sprintf("k%08d", i)), []byte("0123456789abcdef0123456789abcdef"))
				cancel()
			}(i)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(2 * time.Second)
	b.ResetTimer()
	cpu := []float64{sourceCPU(b, east, window)}
	for _, r := range remotes {
		addAndWaitLog(b, c, "t", r)
		time.Sleep(2 * time.Second) // past the base transfer
		cpu = append(cpu, sourceCPU(b, east, window))
	}
	b.StopTimer()
	for n, v := range cpu {
		b.ReportMetric(v, fmt.Sprintf("cpu-%d-remotes", n))
	}
	b.ReportMetric(100*(cpu[len(cpu)-1]-cpu[0])/cpu[0]/float64(len(cpu)-1), "extra-per-remote-pct")
}

// sourceCPU is the CPU seconds per second cl's processes use over window.
func sourceCPU(b *testing.B, cl *Cluster, window time.Duration) float64 {
	before := clusterCPU(b, cl)
	time.Sleep(window)
	return (clusterCPU(b, cl) - before) / window.Seconds()
}

// clusterCPU sums the user and system CPU seconds of cl's processes.
func clusterCPU(b *testing.B, cl *Cluster) float64 {
	total := 0.0
	for _, nd := range cl.Nodes {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", nd.Pid()))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command name (which may hold spaces): utime
		// and stime are the 14th and 15th fields, in clock ticks (100/s).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		for _, s := range f[11:13] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += v / 100
		}
	}
	return total
}
