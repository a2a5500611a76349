package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
)

// testConfig returns a config of the given nodes with test-sized backoff.
func testConfig(t *testing.T, addrs ...string) Config {
	cfg := DefaultConfig()
	cfg.Addrs = addrs
	cfg.InitialBackoff = time.Millisecond
	cfg.MaxBackoff = 20 * time.Millisecond
	cfg.RequestTimeout = 5 * time.Second
	cfg.Logger = zaptest.NewLogger(t)
	return cfg
}

// mustDial returns a client of the given nodes with test-sized backoff,
// once one of them is reachable.
func mustDial(t *testing.T, addrs ...string) *Client {
	t.Helper()
	c, err := DialConfig(context.Background(), testConfig(t, addrs...))
	if err != nil {
		t.Fatalf("dial %v: %v", addrs, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// mustTable opens table t of c.
func mustTable(t *testing.T, c *Client) *Table {
	t.Helper()
	tbl, err := c.Table(context.Background(), "t")
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	return tbl
}

// mustRedirectPair starts node a, which answers NotLeader naming b, and b,
// the leader; the route names a as the (stale) leader.
func mustRedirectPair(t *testing.T) (a, b *testNode) {
	t.Helper()
	cl := newTestCluster(4)
	b = mustStartNode(t, cl, nodeMode{leader: true})
	a = mustStartNode(t, cl, nodeMode{redirectTo: b.addr})
	a.setRoute(a.addr, a.addr, b.addr)
	return a, b
}

func TestRedirectFollowed(t *testing.T) {
	a, b := mustRedirectPair(t)
	tbl := mustTable(t, mustDial(t, a.addr))
	ctx := context.Background()
	if err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")); err != nil {
		t.Fatalf("set: %v", err)
	}
	if a.kvCalls.Load() != 1 || b.kvCalls.Load() != 1 {
		t.Fatalf("calls a=%d b=%d, want one each (redirected)", a.kvCalls.Load(), b.kvCalls.Load())
	}
	got, err := tbl.Get(ctx, []byte("hk"), []byte("sk"))
	if err != nil || string(got) != "v" {
		t.Fatalf("get = %q, %v; want v", got, err)
	}
	if a.kvCalls.Load() != 1 {
		t.Fatalf("the cache did not learn the leader: a got %d calls", a.kvCalls.Load())
	}
	if _, err := tbl.Get(ctx, []byte("hk"), []byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get absent = %v, want ErrNotFound", err)
	}
}

func TestRetryUntilDeadline(t *testing.T) {
	cl := newTestCluster(4)
	a := mustStartNode(t, cl, nodeMode{}) // NotLeader, no leader known
	a.setRoute("", a.addr)
	tbl := mustTable(t, mustDial(t, a.addr))
	routes := cl.routeCalls.Load()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("set = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "not leader") {
		t.Fatalf("set = %v, want the last error kept", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("gave up after %v, want about the 200ms deadline", took)
	}
	if a.kvCalls.Load() < 3 || cl.routeCalls.Load() == routes {
		t.Fatalf("kv calls %d, route refreshes %d: want retries and refreshes", a.kvCalls.Load(), cl.routeCalls.Load()-routes)
	}
}

func TestLeaderElectedWhileRetrying(t *testing.T) {
	cl := newTestCluster(4)
	b := mustStartNode(t, cl, nodeMode{}) // becomes leader later
	a := mustStartNode(t, cl, nodeMode{})
	a.setRoute("", a.addr, b.addr)
	tbl := mustTable(t, mustDial(t, a.addr))

	done := make(chan error, 1)
	go func() { done <- tbl.Set(context.Background(), []byte("hk"), []byte("sk"), []byte("v")) }()
	for a.kvCalls.Load()+b.kvCalls.Load() < 3 {
		time.Sleep(time.Millisecond) // poll for the condition: retries under way
	}
	b.setMode(nodeMode{leader: true})
	a.setMode(nodeMode{redirectTo: b.addr})
	if err := <-done; err != nil {
		t.Fatalf("set after election: %v", err)
	}
}

func TestDeadLeaderFailover(t *testing.T) {
	cl := newTestCluster(4)
	b := mustStartNode(t, cl, nodeMode{leader: true})
	dead := deadAddr(t)
	b.setRoute(dead, dead, b.addr)
	tbl := mustTable(t, mustDial(t, dead, b.addr))
	ctx := context.Background()
	if err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")); err != nil {
		t.Fatalf("set with the routed leader down: %v", err)
	}
}

func TestFatalErrorsNotRetried(t *testing.T) {
	tests := []struct {
		name  string
		mode  nodeMode
		table string
		value string
		want  error
	}{
		{"invalid argument", nodeMode{leader: true}, "t", "too big", ErrInvalidArgument},
		{"read-only", nodeMode{failWith: codes.FailedPrecondition}, "t", "v", ErrReadOnly},
		{"table dropped", nodeMode{leader: true}, "gone", "v", ErrTableNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newTestCluster(4)
			n := mustStartNode(t, cl, tt.mode)
			n.setRoute(n.addr, n.addr)
			tbl := mustTable(t, mustDial(t, n.addr))
			tbl.name = tt.table // as if dropped after the route was fetched
			err := tbl.Set(context.Background(), []byte("hk"), []byte("sk"), []byte(tt.value))
			if !errors.Is(err, tt.want) {
				t.Fatalf("set = %v, want %v", err, tt.want)
			}
			if n.kvCalls.Load() != 1 {
				t.Fatalf("%d calls, want 1 (no retry)", n.kvCalls.Load())
			}
		})
	}
}

func TestTableNotFound(t *testing.T) {
	cl := newTestCluster(4)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	c := mustDial(t, n.addr)
	if _, err := c.Table(context.Background(), "nope"); !errors.Is(err, ErrTableNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Table(nope) = %v, want ErrTableNotFound with the server's message", err)
	}
}

func TestLocalValidation(t *testing.T) {
	cl := newTestCluster(4)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.setRoute(n.addr, n.addr)
	tbl := mustTable(t, mustDial(t, n.addr))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"empty hash key", func() error { return tbl.Set(ctx, nil, []byte("s"), []byte("v")) }},
		{"zero ttl", func() error { return tbl.Set(ctx, []byte("h"), []byte("s"), []byte("v"), WithTTL(0)) }},
		{"empty multiget", func() error { _, err := tbl.MultiGet(ctx, []byte("h"), nil); return err }},
		{"empty multiset", func() error { return tbl.MultiSet(ctx, []byte("h"), nil) }},
		{"partition out of range", func() error { _, _, err := tbl.ScanPartition(ctx, 4, nil, 0); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
	if n.kvCalls.Load() != 0 {
		t.Fatalf("invalid calls reached the server %d times", n.kvCalls.Load())
	}
}

func TestMultiAndScan(t *testing.T) {
	cl := newTestCluster(3)
	cl.pageSize = 2 // force the client to follow cursors
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.setRoute(n.addr, n.addr)
	tbl := mustTable(t, mustDial(t, n.addr))
	ctx := context.Background()
	for h := range 4 {
		var kvs []SortKeyValue
		for s := range 5 {
			kvs = append(kvs, SortKeyValue{SortKey: fmt.Appendf(nil, "s%d", s), Value: fmt.Appendf(nil, "v%d.%d", h, s)})
		}
		if err := tbl.MultiSet(ctx, fmt.Appendf(nil, "h%d", h), kvs, WithTTL(time.Minute)); err != nil {
			t.Fatalf("multiset: %v", err)
		}
	}
	recs, err := tbl.MultiGet(ctx, []byte("h1"), [][]byte{[]byte("s3"), []byte("nope"), []byte("s0")})
	if err != nil || len(recs) != 2 || string(recs[0].Value) != "v1.3" || recs[0].ExpireAt.IsZero() {
		t.Fatalf("multiget = %+v, %v", recs, err)
	}
	all, err := tbl.ScanHashKey(ctx, []byte("h2"), 0)
	if err != nil || len(all) != 5 || string(all[4].SortKey) != "s4" {
		t.Fatalf("scan h2 = %+v, %v; want 5 records in order", all, err)
	}
	some, err := tbl.ScanHashKey(ctx, []byte("h2"), 3)
	if err != nil || len(some) != 3 {
		t.Fatalf("scan h2 limit 3 = %d records, %v", len(some), err)
	}
	seen := 0
	if err := tbl.ScanAll(ctx, func(Record) error { seen++; return nil }); err != nil || seen != 20 {
		t.Fatalf("scan all saw %d records, %v; want 20", seen, err)
	}
	stop := errors.New("stop")
	if err := tbl.ScanAll(ctx, func(Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan all = %v, want fn's error", err)
	}
	if count, err := tbl.Count(ctx); err != nil || count != 20 {
		t.Fatalf("count = %d, %v; want 20", count, err)
	}
}

func TestScanPartitionResumes(t *testing.T) {
	cl := newTestCluster(1)
	cl.pageSize = 2
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.setRoute(n.addr, n.addr)
	tbl := mustTable(t, mustDial(t, n.addr))
	ctx := context.Background()
	for i := range 5 {
		if err := tbl.Set(ctx, fmt.Appendf(nil, "h%d", i), []byte("s"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var pages, total int
	var cursor []byte
	for {
		recs, next, err := tbl.ScanPartition(ctx, 0, cursor, 0)
		if err != nil {
			t.Fatalf("scan partition: %v", err)
		}
		pages++
		total += len(recs)
		if next == nil {
			break
		}
		cursor = next
	}
	if pages != 3 || total != 5 {
		t.Fatalf("%d pages, %d records; want 3 pages of 5 records", pages, total)
	}
	recs, next, err := tbl.ScanPartition(ctx, 0, nil, 3)
	if err != nil || len(recs) < 3 || next == nil {
		t.Fatalf("limit 3 = %d records, next %q, %v", len(recs), next, err)
	}
}

func TestAdminHelpers(t *testing.T) {
	cl := newTestCluster(4)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	c := mustDial(t, deadAddr(t), n.addr) // the first node is down
	ctx := context.Background()
	tables, err := c.ListTables(ctx)
	if err != nil || len(tables) != 1 || tables[0].Name != "t" {
		t.Fatalf("list tables = %v, %v", tables, err)
	}
	if _, err := c.GetConfig(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown config = %v, want ErrNotFound", err)
	}
	entries, err := c.GetConfig(ctx, "")
	if err != nil || len(entries) != 1 {
		t.Fatalf("get config = %v, %v", entries, err)
	}
	if _, err := c.Nodes(ctx); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("nodes on a server without it = %v, want a non-retried Unimplemented", err)
	}
}

func TestAdminUnavailable(t *testing.T) {
	cfg := testConfig(t, deadAddr(t), deadAddr(t))
	cfg.DialTimeout = 0 // lazy: Dial itself would fail
	c, err := DialConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("lazy dial: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.ListTables(ctx); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("list tables with every node down = %v, want ErrUnavailable", err)
	}
}

func TestDialUnreachable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addrs = []string{deadAddr(t)}
	cfg.DialTimeout = 100 * time.Millisecond
	if _, err := DialConfig(context.Background(), cfg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dial dead node = %v, want ErrUnavailable", err)
	}
	if _, err := Dial(context.Background()); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("dial without addresses = %v, want ErrInvalidArgument", err)
	}
}

func TestClosed(t *testing.T) {
	cl := newTestCluster(4)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.setRoute(n.addr, n.addr)
	c := mustDial(t, n.addr)
	tbl := mustTable(t, c)
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := tbl.Set(context.Background(), []byte("h"), []byte("s"), []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("set after close = %v, want ErrClosed", err)
	}
	if _, err := c.ListTables(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("list after close = %v, want ErrClosed", err)
	}
}

// A write is retried only when the error proves it was not proposed. After
// an error that leaves its outcome open (the leader lost leadership while
// replicating it, or the node failed after the request was sent) it is
// ErrAmbiguous at once: a second copy could land after other writes to the
// record. Reads are retried as before.
func TestWritesAreNotRetriedWhenTheirOutcomeIsUnknown(t *testing.T) {
	for name, code := range map[string]codes.Code{"leadership lost": codes.Aborted, "failed after sending": codes.Unavailable} {
		t.Run(name, func(t *testing.T) {
			cl := newTestCluster(1)
			a := mustStartNode(t, cl, nodeMode{leader: true, failWith: code})
			a.setRoute(a.addr, a.addr)
			tbl := mustTable(t, mustDial(t, a.addr))
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			before := a.kvCalls.Load()
			for op, write := range map[string]func() error{
				"set": func() error { return tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")) },
				"del": func() error { return tbl.Del(ctx, []byte("hk"), []byte("sk")) },
				"multiset": func() error {
					return tbl.MultiSet(ctx, []byte("hk"), []SortKeyValue{{SortKey: []byte("a"), Value: []byte("1")}})
				},
			} {
				if err := write(); !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("%s = %v, want ErrAmbiguous", op, err)
				}
			}
			if calls := a.kvCalls.Load() - before; calls != 3 {
				t.Fatalf("%d calls for 3 writes: a write was retried", calls)
			}
		})
	}
	t.Run("reads retry", func(t *testing.T) {
		cl := newTestCluster(1)
		a := mustStartNode(t, cl, nodeMode{leader: true, failWith: codes.Unavailable})
		a.setRoute(a.addr, a.addr)
		tbl := mustTable(t, mustDial(t, a.addr))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := tbl.Get(ctx, []byte("hk"), []byte("sk")); !errors.Is(err, ErrUnavailable) || a.kvCalls.Load() < 2 {
			t.Fatalf("get = %v after %d calls, want ErrUnavailable after retries", err, a.kvCalls.Load())
		}
	})
	t.Run("not proposed", func(t *testing.T) {
		cl := newTestCluster(1)
		a := mustStartNode(t, cl, nodeMode{leader: true})
		dead := deadAddr(t)
		a.setRoute(dead, dead, a.addr) // the route names a node that is down
		tbl := mustTable(t, mustDial(t, a.addr))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")); err != nil {
			t.Fatalf("set through a refused connection, then the live node: %v", err)
		}
	})
}

// After an ambiguous write the client forgets that leader, and calls that
// know no leader start at different replicas, so later writes reach a live
// one instead of the failed node every time.
func TestWritesMoveOnAfterAnAmbiguousFailure(t *testing.T) {
	cl := newTestCluster(1)
	bad := mustStartNode(t, cl, nodeMode{leader: true, failWith: codes.Unavailable})
	good := mustStartNode(t, cl, nodeMode{leader: true})
	bad.setRoute(bad.addr, bad.addr, good.addr)
	good.setRoute(bad.addr, bad.addr, good.addr)
	tbl := mustTable(t, mustDial(t, bad.addr, good.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("first set through the failing leader = %v, want ErrAmbiguous", err)
	}
	for i := 0; i < 20; i++ {
		if err := tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")); err == nil {
			return
		}
	}
	t.Fatal("20 writes after an ambiguous failure all went to the failing node")
}
