package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func dial(t *testing.T, addrs []string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openTable(t *testing.T, c *client.Client, name string) *client.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tbl, err := c.Table(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// writer writes keys until stopped and remembers which were acknowledged.
type writer struct {
	tbl   *client.Table
	mu    sync.Mutex
	acked map[string]string
	// failed counts writes that returned an error: each may or may not
	// have applied (client.ErrAmbiguous, a deadline).
	failed int
	next   atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startWriters(tbl *client.Table, n int) *writer {
	w := &writer{tbl: tbl, acked: map[string]string{}, stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

func (w *writer) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		i := w.next.Add(1)
		hk, sk, v := fmt.Sprintf("user%d", i%97), fmt.Sprintf("k%07d", i), fmt.Sprintf("v%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := w.tbl.Set(ctx, []byte(hk), []byte(sk), []byte(v))
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked[hk+"\x00"+sk] = v
		} else {
			w.failed++
		}
		w.mu.Unlock()
	}
}

func (w *writer) halt() map[string]string {
	close(w.stop)
	w.wg.Wait()
	return w.acked
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcked waits until at least n writes were acknowledged.
func (w *writer) waitAcked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if w.count() >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d writes acknowledged in 30s", n)
}

func verifyAcked(t *testing.T, tbl *client.Table, acked map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for k, want := range acked {
		hk, sk, _ := strings.Cut(k, "\x00")
		got, err := tbl.Get(ctx, []byte(hk), []byte(sk))
		if err != nil || string(got) != want {
			t.Fatalf("acknowledged write %s/%s = %q, %v; want %q", hk, sk, got, err, want)
		}
	}
}

func leaderOf(t *testing.T, c *client.Client, table string, partition int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Partitions(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Partitions[partition].LeaderId
}

func TestKillLeaderOfThreeNodeCluster(t *testing.T) {
	cl := StartCluster(t, "east", 3)
	out, err := cl.Shell("create t --partitions 4 --replicas 3; set t u1 name ann")
	if err != nil || !strings.Contains(out, "created table t") {
		t.Fatalf("create: %q %v", out, err)
	}
	if out, err := cl.Shell("get t u1 name"); err != nil || strings.TrimSpace(out) != "ann" {
		t.Fatalf("get: %q %v", out, err)
	}
	c := dial(t, cl.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 8)
	w.waitAcked(t, 300)

	victim := cl.Node(leaderOf(t, c, "t", 0))
	victim.Kill()
	before := w.count()
	w.waitAcked(t, before+300) // the cluster keeps accepting writes
	acked := w.halt()
	t.Logf("%d acknowledged writes, %d after killing leader %s", len(acked), len(acked)-before, victim.ID)
	verifyAcked(t, tbl, acked)

	victim.Start()
	victim.WaitHealthy(30 * time.Second)
	waitCaughtUp(t, c, "t", victim.ID)
	// Every acknowledged write and u1 are there; a write that failed may
	// have applied too (its leader died after receiving it).
	out, err = cl.Shell("count t")
	n, cerr := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || cerr != nil || n < len(acked)+1 || n > len(acked)+1+w.failed {
		t.Fatalf("count after restart: %q %v; want %d acknowledged + u1, plus at most %d failed writes", out, err, len(acked)+1, w.failed)
	}
}

// waitCaughtUp waits until node id's replicas have applied what each
// partition leader has.
func waitCaughtUp(t *testing.T, c *client.Client, table, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.Partitions(ctx, table)
		cancel()
		if err == nil && caughtUp(resp.Partitions, id) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %s did not catch up", id)
}

func caughtUp(parts []*tpb.PartitionInfo, id string) bool {
	for _, p := range parts {
		if p.LeaderId == "" {
			return false
		}
		ok := false
		for _, r := range p.Replicas {
			if r.NodeId == id && r.State == "follower" && r.AppliedDecree >= p.AppliedDecree {
				ok = true
			}
			if r.NodeId == id && r.State == "leader" {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestSingleNodeSurvivesKill9(t *testing.T) {
	cl := StartCluster(t, "solo", 1)
	if _, err := cl.Shell("create t --partitions 8"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, cl.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 8)
	w.waitAcked(t, 500)
	cl.Nodes[0].Kill()
	acked := w.halt()

	cl.Nodes[0].Start()
	cl.Nodes[0].WaitHealthy(30 * time.Second)
	verifyAcked(t, tbl, acked)
	t.Logf("%d acknowledged writes survived kill -9", len(acked))
	if err := tbl.Set(context.Background(), []byte("after"), []byte("restart"), []byte("ok")); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
}
