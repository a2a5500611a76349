package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// tableDump reads a whole table into a map.
func tableDump(tbl *client.Table) (map[string]string, error) {
	out := map[string]string{}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := tbl.ScanAll(c, func(r client.Record) error {
		out[string(r.HashKey)+"/"+string(r.SortKey)] = string(r.Value)
		return nil
	})
	return out, err
}

// waitSame waits until both tables hold the same records; a scan that
// fails (a leader change in progress) is retried.
func waitSame(t *testing.T, src, dst *client.Table, what string) {
	t.Helper()
	servertest.WaitFor(t, 60*time.Second, what, func() bool {
		a, err := tableDump(src)
		if err != nil {
			return false
		}
		b, err := tableDump(dst)
		if err != nil || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if b[k] != v {
				return false
			}
		}
		return true
	})
}

func waitAllLog(t *testing.T, cli *client.Client, table, id string) {
	t.Helper()
	servertest.WaitFor(t, 30*time.Second, "every partition in LOG", func() bool {
		resp, err := cli.ShowDuplication(context.Background(), table, id)
		if err != nil {
			return false
		}
		for _, p := range resp.Partitions {
			if p.State != "LOG" {
				return false
			}
		}
		return true
	})
}

func TestDuplicationEndToEndInProcess(t *testing.T) {
	src := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 4, 3)
	srcCli, dstCli := mustDial(t, src.Addrs()...), mustDial(t, dst.Addrs()...)
	srcTbl := mustTable(t, srcCli, "t")
	writeN(t, srcTbl, 0, 100)

	dup, err := srcCli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if dup.RemoteCluster != "west" || dup.Id == "" {
		t.Fatalf("dup add = %+v", dup)
	}
	if _, err := srcCli.AddDuplication(ctx(t), "t", dst.Addrs()[0]); err == nil {
		t.Fatal("second dup add of the same table and remote accepted")
	}
	waitAllLog(t, srcCli, "t", dup.Id)
	dstTbl := mustTable(t, dstCli, "t")
	waitSame(t, srcTbl, dstTbl, "base copied")

	// WAL shipping: new writes (concurrent ones too, which the source
	// batches into shared raft entries), deletes.
	writeN(t, srcTbl, 100, 150)
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			writeN(t, srcTbl, 150+g*5, 155+g*5)
		}(g)
	}
	wg.Wait()
	if err := srcTbl.Del(ctx(t), []byte("h3"), []byte("k00003")); err != nil {
		t.Fatal(err)
	}
	waitSame(t, srcTbl, dstTbl, "WAL shipped")

	// A duplicated table cannot be dropped out from under its duplication.
	if err := srcCli.DropTable(ctx(t), "t"); err == nil || !strings.Contains(err.Error(), dup.Id) {
		t.Fatalf("drop of a duplicated table: %v, want a refusal naming the duplication", err)
	}

	// The follower is read-only.
	err = dstTbl.Set(ctx(t), []byte("x"), []byte("y"), []byte("z"))
	if !errors.Is(err, client.ErrReadOnly) || !strings.Contains(err.Error(), dup.Id) {
		t.Fatalf("write to follower: %v, want ErrReadOnly naming the duplication", err)
	}

	// Pause keeps the remote where it is; start catches up.
	if _, err := srcCli.PauseDuplication(ctx(t), "t", dup.Id); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, "paused", func() bool {
		resp, _ := srcCli.ShowDuplication(ctx(t), "t", dup.Id)
		if resp == nil {
			return false
		}
		for _, p := range resp.Partitions {
			if p.State != "PAUSED" {
				return false
			}
		}
		return true
	})
	writeN(t, srcTbl, 200, 250)
	time.Sleep(300 * time.Millisecond) // a paused duplication must not ship; give it the chance to misbehave
	if n, _ := dstTbl.Count(ctx(t)); n != 199 {
		t.Fatalf("paused duplication shipped: remote has %d records, want 199", n)
	}
	if _, err := srcCli.StartDuplication(ctx(t), "t", dup.Id); err != nil {
		t.Fatal(err)
	}
	waitSame(t, srcTbl, dstTbl, "caught up after start")

	// Remove: the remote table becomes writable.
	if _, err := srcCli.RemoveDuplication(ctx(t), "t", dup.Id); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, "remote writable", func() bool {
		return dstTbl.Set(ctx(t), []byte("x"), []byte("y"), []byte("z")) == nil
	})
	list, err := srcCli.ListDuplications(ctx(t), "t")
	if err != nil || len(list) != 0 {
		t.Fatalf("dup ls after rm = %v, %v", list, err)
	}
}

func TestDuplicationOfEmptyTableAndBadInput(t *testing.T) {
	src := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("empty", 8, 1)
	dst.CreateTable("taken", 2, 1)
	src.CreateTable("taken", 2, 1)
	cli := mustDial(t, src.Addrs()...)
	c := context.Background() // each call below has the client's own timeout

	start := time.Now()
	dup, err := cli.AddDuplication(c, "empty", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, cli, "empty", dup.Id)
	t.Logf("empty 8-partition table: dup add to all partitions in LOG in %s", time.Since(start))

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown table", func() error { _, err := cli.AddDuplication(c, "nope", dst.Addrs()[0]); return err }, "nope"},
		{"unreachable remote", func() error { _, err := cli.AddDuplication(c, "taken", "127.0.0.1:1"); return err }, "unreachable"},
		{"conflicting remote table", func() error { _, err := cli.AddDuplication(c, "taken", dst.Addrs()[0]); return err }, "not the follower"},
		{"malformed remote", func() error { _, err := cli.AddDuplication(c, "taken", "nocolon"); return err }, "HOST:PORT"},
		{"unknown dup", func() error { _, err := cli.ShowDuplication(c, "empty", "123"); return err }, "123"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// Nothing was recorded for the refused adds.
	list, err := cli.ListDuplications(c, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("dup ls = %d duplications, %v; want only the empty table's", len(list), err)
	}
}

func TestDuplicationRebootstrapsWhenTheLogIsGone(t *testing.T) {
	src := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 1, 1)
	cli := mustDial(t, src.Addrs()...)
	srcTbl := mustTable(t, cli, "t")
	writeN(t, srcTbl, 0, 20)
	dup, err := cli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, cli, "t", dup.Id)
	// Little log behind a snapshot, and snapshots only when the test asks.
	for k, v := range map[string]string{"dup.log_retain_age": "1s", "raft.trailing_logs": "5", "raft.snapshot_threshold": "1073741824"} {
		if _, err := cli.SetConfig(ctx(t), k, v); err != nil {
			t.Fatal(err)
		}
	}

	// The remote goes away; the source writes on and compacts past the cap.
	dst.Stop(0)
	writeN(t, srcTbl, 20, 200)
	time.Sleep(1100 * time.Millisecond) // let the retained entries age past the 1s cap
	writeN(t, srcTbl, 200, 210)
	leader := src.Replica(0, "t", 0)
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, "log compacted past the floor", func() bool {
		_, _, err := leader.ReadLog(21, 1<<20)
		return err != nil
	})

	dst.Restart(0)
	dst.WaitReady()
	dstTbl := mustTable(t, mustDial(t, dst.Addrs()...), "t")
	waitSame(t, srcTbl, dstTbl, "remote re-bootstrapped")
	resp, err := cli.ShowDuplication(ctx(t), "t", dup.Id)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Partitions[0]
	if p.Rebootstraps < 1 || !strings.Contains(p.LastError, "gone") {
		t.Fatalf("dup show after the log was gone: rebootstraps %d, last error %q", p.Rebootstraps, p.LastError)
	}
}

func TestDuplicationSurvivesLeaderChangesOnBothSides(t *testing.T) {
	src := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 2, 3)
	srcCli := mustDial(t, src.Addrs()...)
	srcTbl := mustTable(t, srcCli, "t")
	writeN(t, srcTbl, 0, 50)
	dup, err := srcCli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, srcCli, "t", dup.Id)
	dstTbl := mustTable(t, mustDial(t, dst.Addrs()...), "t")
	waitSame(t, srcTbl, dstTbl, "initial copy")

	// Source leader of partition 0 goes away: the new leader serves the WAL.
	victim := src.LeaderOf("t", 0)
	src.Stop(victim)
	writeN(t, srcTbl, 50, 120)
	waitSame(t, srcTbl, dstTbl, "after a source leader change")

	// Remote leader of partition 1 goes away: a new remote leader pulls on.
	rvictim := dst.LeaderOf("t", 1)
	dst.Stop(rvictim)
	writeN(t, srcTbl, 120, 200)
	waitSame(t, srcTbl, dstTbl, "after a remote leader change")

	src.Restart(victim)
	dst.Restart(rvictim)
	src.WaitReady()
	dst.WaitReady()
	writeN(t, srcTbl, 200, 220)
	waitSame(t, srcTbl, dstTbl, "after both nodes returned")
}

func TestPullAPIRejectsBadRequests(t *testing.T) {
	src := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 1, 1)
	cli := mustDial(t, src.Addrs()...)
	writeN(t, mustTable(t, cli, "t"), 0, 10)
	dup, err := cli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, cli, "t", dup.Id)
	conn, err := grpc.NewClient(src.Addrs()[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dc := tpb.NewDuplicationClient(conn)
	before := src.Replica(0, "t", 0).Confirmed()[dup.Id]
	far := src.Replica(0, "t", 0).Applied() + 1000
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"unknown duplication", func() error {
			_, err := dc.Pull(ctx(t), &tpb.PullRequest{DupId: "nope", Table: "t", From: 1})
			return err
		}, codes.NotFound},
		{"wrong table", func() error {
			_, err := dc.Pull(ctx(t), &tpb.PullRequest{DupId: dup.Id, Table: "other", From: 1})
			return err
		}, codes.InvalidArgument},
		{"confirmed decree in the future", func() error {
			_, err := dc.Pull(ctx(t), &tpb.PullRequest{DupId: dup.Id, Table: "t", From: far, Confirmed: far - 1})
			return err
		}, codes.InvalidArgument},
		{"from decree zero", func() error {
			_, err := dc.Pull(ctx(t), &tpb.PullRequest{DupId: dup.Id, Table: "t", From: 0})
			return err
		}, codes.InvalidArgument},
		{"partition out of range", func() error {
			_, err := dc.Pull(ctx(t), &tpb.PullRequest{DupId: dup.Id, Table: "t", Partition: 7, From: 1})
			return err
		}, codes.InvalidArgument},
		{"file not in the checkpoint", func() error {
			s, err := dc.FetchFile(ctx(t), &tpb.FetchFileRequest{DupId: dup.Id, Table: "t", CheckpointId: "ckpt-x", Name: "../../etc/passwd"})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
	if got := src.Replica(0, "t", 0).Confirmed()[dup.Id]; got != before {
		t.Fatalf("confirmed decree moved from %d to %d on refused requests", before, got)
	}
}
