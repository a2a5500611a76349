package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

var (
	rerepMiB   = flag.Int("rerep.mib", 128, "BenchmarkReReplication: MiB of data in the table before the node loss")
	rerepMoves = flag.Int("rerep.moves", 1, "BenchmarkReReplication: cluster.max_moves_per_node")
)

// latencies records foreground write latencies in labelled phases.
type latencies struct {
	mu    sync.Mutex
	phase string
	by    map[string][]time.Duration
	errs  map[string]int
}

func (l *latencies) set(phase string) { l.mu.Lock(); l.phase = phase; l.mu.Unlock() }

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs[l.phase]++
		return
	}
	l.by[l.phase] = append(l.by[l.phase], d)
}

func (l *latencies) p99(phase string) (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ds := append([]time.Duration(nil), l.by[phase]...)
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)*99/100], len(ds)
}

// foreground runs closed-loop 256-byte writes until stop.
func foreground(tbl *client.Table, workers int, l *latencies, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	val := make([]byte, 256)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				err := tbl.Set(ctx, []byte(fmt.Sprintf("fg%d", rand.IntN(1000))), []byte(fmt.Sprintf("w%d-%d", w, i)), val)
				cancel()
				l.add(time.Since(start), err)
			}
		}(w)
	}
	return &wg
}

// load writes mib MiB of 4 KiB values into tbl.
func load(b *testing.B, tbl *client.Table, mib int) {
	val := make([]byte, 4096)
	for i := range val {
		val[i] = byte(rand.IntN(256)) // incompressible: sizes are what moves
	}
	n := mib * 256
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				var err error
				for try := 0; try < 5; try++ { // a unique value: a retry after ErrAmbiguous is harmless here
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					err = tbl.Set(ctx, []byte(fmt.Sprintf("h%d", i%4096)), []byte(fmt.Sprintf("s%08d", i)), val)
					cancel()
					if !errors.Is(err, client.ErrAmbiguous) {
						break
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("load: %v", err)
	}
}

// BenchmarkReReplication measures what a node loss costs: a 4-node
// cluster holds a 16x3 table of -rerep.mib MiB (raft logs compacted
// behind snapshots, so new replicas are sent checkpoints); one node (not
// the meta leader) is killed for good; the bench reports the time until every
// partition has 3 live replicas again (after cluster.dead_node_timeout,
// 5s here), the move throughput (bytes of the re-created replicas over the
// time from the first move to the last), and the p99 of a foreground
// write load while the moves run, against the same load's p99 before the
// loss (same run).
//
//	go test -run '^$' -bench ReReplication -benchtime 1x -timeout 30m ./tests/e2e/ -rerep.mib 256
func BenchmarkReReplication(b *testing.B) {
	for i := 0; i < b.N; i++ {
		reReplicateOnce(b, *rerepMiB)
	}
}

func reReplicateOnce(b *testing.B, mib int) {
	cl := StartCluster(b, "bench", 4)
	defer cl.Destroy()
	// A short raft log behind each snapshot, so new replicas come from
	// the checkpoint stream, as they do for any table past its first
	// thousands of writes.
	if out, err := cl.Shell(fmt.Sprintf("config set cluster.dead_node_timeout 5s; config set cluster.max_moves_per_node %d; "+
		"config set raft.snapshot_threshold 512; config set raft.trailing_logs 128", *rerepMoves)); err != nil {
		b.Fatal(out, err)
	}
	ctx := context.Background()
	c, err := client.Dial(ctx, cl.Addrs()...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateTable(ctx, "t", 16, 3); err != nil {
		b.Fatal(err)
	}
	tbl, err := c.Table(ctx, "t")
	if err != nil {
		b.Fatal(err)
	}
	load(b, tbl, mib)
	l := &latencies{phase: "baseline", by: map[string][]time.Duration{}, errs: map[string]int{}}
	stop := make(chan struct{})
	wg := foreground(tbl, 4, l, stop)
	time.Sleep(15 * time.Second)

	var victim *Node
	for _, nd := range cl.Nodes {
		if !nd.IsMetaLeader() {
			victim = nd
		}
	}
	parts, err := c.Partitions(ctx, "t")
	if err != nil {
		b.Fatal(err)
	}
	var moved uint64
	for _, p := range parts.Partitions {
		for _, id := range parts.Table.Placement[p.Index].NodeIds {
			if id == victim.ID {
				moved += p.SizeBytes
			}
		}
	}
	l.set("detecting")
	victim.Kill()
	killed := time.Now()
	var firstMove time.Time
	for firstMove.IsZero() && time.Since(killed) < 5*time.Minute {
		if reb, err := c.Rebalance(ctx); err == nil && len(reb.Moves) > 0 {
			firstMove = time.Now()
			l.set("moving")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitReplicatedB(b, c, victim.ID)
	done := time.Now()
	l.set("after")
	close(stop)
	wg.Wait()
	took, moveSecs := done.Sub(killed), done.Sub(firstMove).Seconds()
	base, nb := l.p99("baseline")
	during, nd := l.p99("moving")
	b.ReportMetric(took.Seconds(), "s-to-3-replicas")
	b.ReportMetric(float64(moved)/(1<<20)/moveSecs, "MiB/s-moved")
	fmt.Printf("re-replication (max_moves_per_node %d): %d MiB table (16x3, 4 nodes), %s killed: 12 replicas (%.0f MiB) re-created %.1fs after the kill "+
		"(dead_node_timeout 5s; moves %.1fs: %.1f MiB/s); foreground write p99 %.1fms before (%d writes), %.1fms while moving (%d writes, x%.1f); errors %v\n",
		*rerepMoves, mib, victim.ID, float64(moved)/(1<<20), took.Seconds(), moveSecs, float64(moved)/(1<<20)/moveSecs,
		float64(base.Microseconds())/1000, nb, float64(during.Microseconds())/1000, nd, float64(during)/float64(max(base, 1)), l.errs)
}

// waitReplicatedB is waitReplicated for a benchmark: it returns once
// every partition has 3 live replicas off gone.
func waitReplicatedB(b *testing.B, c *client.Client, gone string) {
	start := time.Now()
	for time.Since(start) < 20*time.Minute {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.Partitions(ctx, "t")
		cancel()
		if err == nil {
			if ok, _ := fullyReplicated(resp.Partitions, 3, gone); ok {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("not re-replicated in 20 minutes")
}
