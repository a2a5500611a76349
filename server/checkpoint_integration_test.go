package server_test

import (
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server/servertest"
)

func TestCheckpointCreateOnEmptyAndTinyTable(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 8, 3)
	cli := mustDial(t, cl.Addrs()...)
	c := ctx(t)
	tbl := mustTable(t, cli, "t")
	if err := tbl.Set(c, []byte("one"), []byte("record"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	results, err := cli.CreateCheckpoint(c, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 8 {
		t.Fatalf("%d results, want 8", len(results))
	}
	nonEmpty := 0
	for _, r := range results {
		if r.Error != "" || r.Checkpoint == nil {
			t.Fatalf("partition %d: %s", r.Partition, r.Error)
		}
		if r.Checkpoint.Decree == 0 {
			t.Fatalf("partition %d checkpoint at decree 0", r.Partition)
		}
		if !r.Checkpoint.Empty {
			nonEmpty++
		}
	}
	if nonEmpty != 1 {
		t.Fatalf("%d non-empty checkpoints, want 1 (the partition with the record)", nonEmpty)
	}
	list, err := cli.ListCheckpoints(c, "t")
	if err != nil || len(list) != 8 {
		t.Fatalf("ls: %d checkpoints, %v; want 8", len(list), err)
	}
	// Asking again without new writes reuses them.
	again, err := cli.CreateCheckpoint(c, "t", 3)
	if err != nil || len(again) != 1 || again[0].Checkpoint.Id != checkpointOf(results, 3) {
		t.Fatalf("second request for partition 3 = %+v, %v; want the same checkpoint", again, err)
	}
	if _, err := cli.CreateCheckpoint(c, "t", 8); err == nil {
		t.Fatal("partition 8 of an 8-partition table accepted")
	}
	if _, err := cli.CreateCheckpoint(c, "nope"); err == nil {
		t.Fatal("unknown table accepted")
	}
}

func checkpointOf(results []*tpb.CheckpointResult, p uint32) string {
	for _, r := range results {
		if r.Partition == p {
			return r.Checkpoint.Id
		}
	}
	return ""
}

func TestCheckpointIntervalChangesAtRuntimeAndSurvivesRestart(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 2, 3)
	cli := mustDial(t, cl.Addrs()...)
	c := ctx(t)
	tbl := mustTable(t, cli, "t")
	writeN(t, tbl, 0, 20)
	if _, err := cli.SetConfig(c, "checkpoint.interval", "1s"); err != nil {
		t.Fatal(err)
	}
	// Every replica on every node takes a periodic checkpoint, no restart.
	servertest.WaitFor(t, 10*time.Second, "periodic checkpoints on every replica", func() bool {
		for i := range cl.Nodes {
			for p := uint32(0); p < 2; p++ {
				r := cl.Replica(i, "t", p)
				if r == nil || len(r.Catalog().List()) == 0 {
					return false
				}
			}
		}
		return true
	})
	if _, err := cli.SetConfig(c, "checkpoint.retain", "1"); err != nil {
		t.Fatal(err)
	}
	writeN(t, tbl, 20, 40)
	servertest.WaitFor(t, 10*time.Second, "retain 1 enforced after new checkpoints", func() bool {
		for i := range cl.Nodes {
			for p := uint32(0); p < 2; p++ {
				list := cl.Replica(i, "t", p).Catalog().List()
				if len(list) != 1 || list[0].Decree < cl.Replica(i, "t", p).Applied() {
					return false
				}
			}
		}
		return true
	})
	cl.Restart(1)
	cl.WaitReady()
	entries, err := cli.GetConfig(c, "checkpoint.interval")
	if err != nil || len(entries) != 1 || entries[0].Value != "1s" {
		t.Fatalf("after restart checkpoint.interval = %+v, %v", entries, err)
	}
	servertest.WaitFor(t, 5*time.Second, "restarted node uses 1s", func() bool {
		return cl.Nodes[1].CheckpointPolicy().Interval == time.Second
	})
}

func TestBadCheckpointConfigChangesNothing(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cli := mustDial(t, cl.Addrs()...)
	c := ctx(t)
	for _, bad := range [][2]string{{"checkpoint.interval", "-5s"}, {"checkpoint.interval", "banana"}, {"checkpoint.retain", "0"}, {"checkpoint.tiny_bytes", "-1"}} {
		if _, err := cli.SetConfig(c, bad[0], bad[1]); err == nil {
			t.Fatalf("config set %s %s accepted", bad[0], bad[1])
		}
	}
	entries, err := cli.GetConfig(c, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want := map[string]string{"checkpoint.interval": "10m0s", "checkpoint.retain": "2", "checkpoint.tiny_bytes": "4194304"}[e.Key]
		if want != "" && e.Value != want {
			t.Fatalf("%s = %s after rejected sets, want %s", e.Key, e.Value, want)
		}
	}
}
