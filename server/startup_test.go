package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A node restarting while clients keep calling it serves calls only once
// its meta group is open. Before the fix gRPC started serving first, and a
// call arriving in between crashed the process on the nil meta group (the
// robustness test found it: clients retry against a restarting node).
func TestCallsWhileANodeStartsDoNotCrashIt(t *testing.T) {
	c := servertest.MakeCluster(t, 1)
	c.CreateTable("t", 1, 1)
	conn, err := grpc.NewClient(c.Config(0).Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: time.Millisecond, Multiplier: 1, MaxDelay: time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kv, admin := tpb.NewKVClient(conn), tpb.NewAdminClient(conn)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				_, _ = kv.Get(ctx, &tpb.GetRequest{Table: "t", HashKey: []byte("h")}, grpc.WaitForReady(true))
				_, _ = admin.Route(ctx, &tpb.RouteRequest{Table: "t"}, grpc.WaitForReady(true))
				cancel()
			}
		}()
	}
	for i := 0; i < 5; i++ {
		c.Restart(0)
		c.WaitReady()
	}
	close(stop)
	wg.Wait()
}

// A restarted node whose metadata has not caught up (here: alone, so its
// meta group has no leader) answers calls about an existing table with a
// retryable Unavailable, not NotFound: before the fix clients were told the
// table did not exist and gave up.
func TestNodeNotReadyDoesNotSayTableNotFound(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	c.CreateTable("t", 1, 3)
	for i := range c.Nodes {
		c.Stop(i)
	}
	c.Start(0)
	if c.Nodes[0].Ready() {
		t.Fatal("a lone node of three is ready")
	}
	conn, err := grpc.NewClient(c.Config(0).Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = tpb.NewKVClient(conn).Set(ctx, &tpb.SetRequest{Table: "t", HashKey: []byte("h"), Value: []byte("v")})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("set on a node that is not ready: %v, want Unavailable", err)
	}
	_, err = tpb.NewAdminClient(conn).Route(ctx, &tpb.RouteRequest{Table: "t"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("route on a node that is not ready: %v, want Unavailable", err)
	}
}

// Only the meta leader says a table does not exist. A ready node cut off
// from the leader (here: the other two nodes stopped) cannot know whether
// its metadata lags, so it answers Unavailable; with a leader, any node
// answers NotFound for a table that really is missing.
func TestOnlyTheMetaLeaderSaysTableNotFound(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, n := range c.Nodes {
		if err := n.FindTable(ctx, "nope"); !errors.Is(err, server.ErrTableNotFound) {
			t.Fatalf("node %d (meta leader %v) on a missing table: %v, want ErrTableNotFound", i, n.IsMetaLeader(), err)
		}
	}
	follower := 0
	for i, n := range c.Nodes {
		if !n.IsMetaLeader() {
			follower = i
			break
		}
	}
	for i := range c.Nodes {
		if i != follower {
			c.Stop(i)
		}
	}
	servertest.WaitFor(t, 10*time.Second, "the lone follower has no meta leader", func() bool {
		_, addr := c.Nodes[follower].MetaLeader()
		return addr == ""
	})
	if err := c.Nodes[follower].FindTable(ctx, "nope"); !errors.Is(err, server.ErrNotReady) {
		t.Fatalf("a node without a meta leader on an unknown table: %v, want ErrNotReady", err)
	}
}
