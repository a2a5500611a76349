package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// slowLease keeps a leader that lost its followers leading for about a
// second (raft steps down a lease timeout after it last heard from a
// quorum), so a test can propose a write that cannot commit.
func slowLease(c *server.Config) {
	c.Raft.HeartbeatTimeout, c.Raft.ElectionTimeout, c.Raft.LeaderLeaseTimeout = time.Second, time.Second, time.Second
}

// stuckLeader is a partition whose followers' replicas are closed while its
// leader still leads: what the leader proposes now cannot commit.
type stuckLeader struct {
	table  string
	node   *server.Node
	leader *replica.Replica
}

// isolateLeader creates table name (one partition, three replicas), checks
// a write commits, then closes the followers' replicas of the partition.
func isolateLeader(t *testing.T, cl *servertest.Cluster, name string) stuckLeader {
	t.Helper()
	cl.CreateTable(name, 1, 3)
	var l int
	servertest.WaitFor(t, 20*time.Second, "a leader of "+name, func() bool { l = cl.LeaderOf(name, 0); return l >= 0 })
	kv := cl.Nodes[l].KV()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kv.Set(ctx, &tpb.SetRequest{Table: name, HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v0")}); err != nil {
		t.Fatalf("first write to %s: %v", name, err)
	}
	// A leader needs only a majority: the third replica may still be
	// opening when the first write commits.
	servertest.WaitFor(t, 20*time.Second, "every replica of "+name+" open", func() bool {
		for i := range cl.Nodes {
			if cl.Replica(i, name, 0) == nil {
				return false
			}
		}
		return true
	})
	for i := range cl.Nodes {
		if i != l {
			if err := cl.Replica(i, name, 0).Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return stuckLeader{table: name, node: cl.Nodes[l], leader: cl.Replica(l, name, 0)}
}

// tryStuckWrite runs write against a stuck leader, cancelling its context
// once the leader has appended it. It reports whether the write was
// proposed (the leader may have stepped down first on a very slow
// machine; then nothing was proposed and the error must be a refusal).
func tryStuckWrite(t *testing.T, s stuckLeader, write func(ctx context.Context) error) (error, bool) {
	t.Helper()
	before := s.leader.LastIndex()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- write(ctx) }()
	for {
		select {
		case err := <-errc:
			return err, s.leader.LastIndex() > before
		case <-time.After(time.Millisecond):
			if s.leader.LastIndex() > before {
				cancel() // proposed, cannot commit: the caller stops waiting
			}
		}
	}
}

// A write proposed to a leader that cannot commit it, whose caller stops
// waiting, may still apply (a later leader can commit it): the edge must
// answer Aborted, which clients report as ambiguous. It used to answer
// Unavailable with the empty NotLeader detail that tells clients a retry
// is safe, so the write could apply twice.
func TestAbandonedProposedWriteIsAbortedNotRetrySafe(t *testing.T) {
	cl := servertest.MakeCluster(t, 3, slowLease)
	for attempt := 1; ; attempt++ {
		s := isolateLeader(t, cl, fmt.Sprintf("t%d", attempt))
		kv := s.node.KV()
		err, proposed := tryStuckWrite(t, s, func(ctx context.Context) error {
			_, err := kv.Set(ctx, &tpb.SetRequest{Table: s.table, HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v1")})
			return err
		})
		st := status.Convert(err)
		if !proposed {
			// Not the case under test; the answer must still be exact.
			if st.Code() != codes.Unavailable || server.NotLeaderOf(st) == nil {
				t.Fatalf("write never proposed: err = %v, want Unavailable with a NotLeader detail", err)
			}
			if attempt == 5 {
				t.Fatal("the leader stepped down before the write reached it, 5 times")
			}
			continue
		}
		if st.Code() != codes.Aborted || server.NotLeaderOf(st) != nil {
			t.Fatalf("proposed write abandoned by its caller: %v; want Aborted without a NotLeader detail", err)
		}
		return
	}
}

// Through the SDK: a Set whose deadline passes while its entry cannot
// commit comes back ErrAmbiguous, and is not sent again.
func TestSDKReportsStuckWriteAmbiguousAndDoesNotResend(t *testing.T) {
	cl := servertest.MakeCluster(t, 3, slowLease)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := client.DefaultConfig()
	cfg.Addrs = cl.Addrs()
	cfg.InitialBackoff, cfg.MaxBackoff = time.Millisecond, 10*time.Millisecond
	c, err := client.DialConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for attempt := 1; ; attempt++ {
		s := isolateLeader(t, cl, fmt.Sprintf("t%d", attempt))
		tbl, err := c.Table(ctx, s.table)
		if err != nil {
			t.Fatal(err)
		}
		before := s.leader.LastIndex()
		rpcs := batchWrites(t, cl)
		err, proposed := tryStuckWrite(t, s, func(ctx context.Context) error {
			return tbl.Set(ctx, []byte("h"), []byte("s"), []byte("v1"))
		})
		if !proposed {
			if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrAmbiguous) {
				t.Fatalf("write never proposed: err = %v, want ErrUnavailable (refused), not ErrAmbiguous", err)
			}
			if attempt == 5 {
				t.Fatal("the leader stepped down before the write reached it, 5 times")
			}
			continue
		}
		if !errors.Is(err, client.ErrAmbiguous) {
			t.Fatalf("write proposed, caller gone: err = %v, want ErrAmbiguous", err)
		}
		servertest.WaitFor(t, 10*time.Second, "the server to count the call", func() bool { return batchWrites(t, cl) > rpcs })
		if n := batchWrites(t, cl) - rpcs; n != 1 {
			t.Fatalf("%d write calls reached the nodes, want 1 (no re-send)", n)
		}
		if n := s.leader.LastIndex() - before; n != 1 {
			t.Fatalf("the leader appended %d entries, want 1 (no re-send)", n)
		}
		return
	}
}

// batchWrites counts the BatchWrite calls every running node has answered.
func batchWrites(t *testing.T, cl *servertest.Cluster) int {
	t.Helper()
	total := 0
	for _, n := range cl.Nodes {
		if n == nil {
			continue
		}
		fams, err := n.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "tandem_rpc_requests_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "method" && l.GetValue() == "BatchWrite" {
						total += int(m.GetCounter().GetValue())
					}
				}
			}
		}
	}
	return total
}
