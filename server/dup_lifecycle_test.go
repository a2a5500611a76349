package server_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A follower table cannot be dropped while its duplication writes into it;
// dup rm is idempotent and makes it writable (and droppable) again.
func TestFollowerTableCannotBeDroppedWhileDuplicated(t *testing.T) {
	src := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("users", 2, 1)
	cli, remote := mustDial(t, src.Addrs()...), mustDial(t, dst.Addrs()...)
	c := context.Background()
	dup, err := cli.AddDuplication(c, "users", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, cli, "users", dup.Id)

	err = remote.DropTable(c, "users")
	if err == nil || !strings.Contains(err.Error(), dup.Id) || !strings.Contains(err.Error(), "dup rm") {
		t.Fatalf("drop of a follower table: got %v, want a refusal naming duplication %s", err, dup.Id)
	}
	if _, err := remote.Table(c, "users"); err != nil {
		t.Fatalf("the follower table is gone after a refused drop: %v", err)
	}
	if _, err := cli.RemoveDuplication(c, "users", dup.Id); err != nil {
		t.Fatal(err)
	}
	// A second dup rm (a retry whose first answer was lost) succeeds too.
	if _, err := cli.RemoveDuplication(c, "users", dup.Id); err != nil {
		t.Fatalf("second dup rm: %v", err)
	}
	if err := remote.DropTable(c, "users"); err != nil {
		t.Fatalf("drop after dup rm: %v", err)
	}
}

// A dup add whose remote never answers fails with a clear error within
// the caller's deadline and leaves no duplication behind; while it runs it
// is not shown as active.
func TestFailedDupAddLeavesNothing(t *testing.T) {
	src := servertest.MakeCluster(t, 1)
	src.CreateTable("t", 1, 1)
	cli := mustDial(t, src.Addrs()...)
	// A port that accepts connections and never answers: a remote behind
	// a black hole.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	done := make(chan error, 1)
	go func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cli.AddDuplication(c, "t", ln.Addr().String())
		done <- err
	}()
	for {
		select {
		case err := <-done:
			if err == nil || !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
				t.Fatalf("dup add to a black hole: got %v, want ErrUnavailable saying the remote is unreachable", err)
			}
			list, err := cli.ListDuplications(context.Background(), "")
			if err != nil || len(list) != 0 {
				t.Fatalf("after the failed dup add: %d duplications (%v), want none", len(list), err)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		list, err := cli.ListDuplications(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.State == "active" {
				t.Fatalf("duplication %s shown active before the remote answered", d.Id)
			}
		}
	}
}
