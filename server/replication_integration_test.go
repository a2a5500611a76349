package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server/servertest"
)

// writeN writes keys k<from>..k<to-1> under hash keys spread over partitions
// and returns them.
func writeN(t *testing.T, tbl *client.Table, from, to int) {
	t.Helper()
	c := ctx(t)
	for i := from; i < to; i++ {
		// Setting key i to its one value twice ends the same, so a write
		// whose outcome is unknown (a leader change under a busy machine,
		// or one the test caused) is sent again here; product code must
		// never do that blindly.
		err := tbl.Set(c, []byte(fmt.Sprintf("h%d", i%16)), []byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("v%d", i)))
		for tries := 0; errors.Is(err, client.ErrAmbiguous) && tries < 20; tries++ {
			err = tbl.Set(c, []byte(fmt.Sprintf("h%d", i%16)), []byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("v%d", i)))
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func checkN(t *testing.T, tbl *client.Table, from, to int) {
	t.Helper()
	c := ctx(t)
	for i := from; i < to; i++ {
		v, err := tbl.Get(c, []byte(fmt.Sprintf("h%d", i%16)), []byte(fmt.Sprintf("k%05d", i)))
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("read %d: %q, %v", i, v, err)
		}
	}
}

// localValue reads a record straight from node i's replica, bypassing raft.
func localValue(cl *servertest.Cluster, i int, table, hk, sk string, partition uint32) (string, bool) {
	r := cl.Replica(i, table, partition)
	if r == nil {
		return "", false
	}
	v, _, found, _ := r.Local().Get([]byte(hk), []byte(sk))
	return string(v), found
}

func TestLeaderFailoverKeepsAcknowledgedWrites(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 4, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	writeN(t, tbl, 0, 200)

	victim := cl.LeaderOf("t", 0)
	if victim < 0 {
		t.Fatal("partition 0 has no leader")
	}
	cl.Stop(victim)
	servertest.WaitFor(t, 10*time.Second, "new leader of partition 0", func() bool {
		l := cl.LeaderOf("t", 0)
		return l >= 0 && l != victim
	})
	checkN(t, tbl, 0, 200)
	writeN(t, tbl, 200, 300)

	// The stopped node rejoins and catches up from the log.
	cl.Restart(victim)
	cl.WaitReady()
	checkN(t, tbl, 0, 300)
	for p := uint32(0); p < 4; p++ {
		leader := cl.LeaderOf("t", p)
		servertest.WaitFor(t, 10*time.Second, "restarted replica caught up", func() bool {
			lr, vr := cl.Replica(leader, "t", p), cl.Replica(victim, "t", p)
			return lr != nil && vr != nil && vr.Applied() >= lr.Applied()
		})
	}
}

func TestFollowerCatchesUpBySnapshot(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cli := mustDial(t, cl.Addrs()...)
	for k, v := range map[string]string{"raft.trailing_logs": "5", "raft.snapshot_threshold": "20"} {
		if _, err := cli.SetConfig(ctx(t), k, v); err != nil {
			t.Fatal(err)
		}
	}
	cl.CreateTable("t", 1, 3)
	servertest.WaitFor(t, 10*time.Second, "raft log settings on every replica", func() bool {
		for i := range cl.Nodes {
			r := cl.Replica(i, "t", 0)
			if r == nil || r.RaftSettings().TrailingLogs != 5 {
				return false
			}
		}
		return true
	})
	tbl := mustTable(t, cli, "t")
	writeN(t, tbl, 0, 10)

	follower := (cl.LeaderOf("t", 0) + 1) % 3
	cl.Stop(follower)
	writeN(t, tbl, 10, 300)
	leader := cl.LeaderOf("t", 0)
	if err := cl.Replica(leader, "t", 0).Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// The log the follower misses is compacted away; only a snapshot can
	// bring it back.
	cl.Restart(follower)
	servertest.WaitFor(t, 15*time.Second, "follower restored from snapshot", func() bool {
		v, ok := localValue(cl, follower, "t", "h3", "k00291", 0)
		return ok && v == "v291"
	})
	writeN(t, tbl, 300, 310)
	servertest.WaitFor(t, 10*time.Second, "follower follows after snapshot", func() bool {
		v, ok := localValue(cl, follower, "t", "h5", "k00309", 0)
		return ok && v == "v309"
	})
}

func TestClusterRestartFromDisk(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 3, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	writeN(t, tbl, 0, 100)
	for i := range cl.Nodes {
		cl.Stop(i)
	}
	for i := range cl.Nodes {
		cl.Restart(i)
	}
	cl.WaitReady()
	tbl = mustTable(t, mustDial(t, cl.Addrs()...), "t")
	checkN(t, tbl, 0, 100)
	writeN(t, tbl, 100, 120)
}

func TestDropTableRemovesReplicasEverywhere(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	info := cl.CreateTable("gone", 2, 3)
	cli := mustDial(t, cl.Addrs()...)
	writeN(t, mustTable(t, cli, "gone"), 0, 20)

	// A node that is down during the drop sweeps the leftovers when it returns.
	cl.Stop(2)
	if err := cli.DropTable(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	cl.Restart(2)
	cl.WaitReady()
	for i := range cl.Nodes {
		dir := filepath.Join(cl.Config(i).DataDir, "replicas")
		servertest.WaitFor(t, 10*time.Second, "replica dirs removed", func() bool {
			entries, _ := os.ReadDir(dir)
			return len(entries) == 0
		})
	}
	if _, err := cli.Table(ctx(t), "gone"); err == nil {
		t.Fatal("dropped table still routable")
	}
	// The name can be reused; the new table starts empty.
	again := cl.CreateTable("gone", 2, 3)
	if again.Id == info.Id {
		t.Fatalf("recreated table reused id %d", info.Id)
	}
	if n, err := mustTable(t, cli, "gone").Count(ctx(t)); err != nil || n != 0 {
		t.Fatalf("recreated table count = %d, %v", n, err)
	}
}

func TestNonLeaderAnswersWithLeaderAddress(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 1, 3)
	leader := cl.LeaderOf("t", 0)
	other := (leader + 1) % 3
	// A client that only knows a follower still reaches the leader.
	tbl := mustTable(t, mustDial(t, cl.Config(other).Addr), "t")
	writeN(t, tbl, 0, 5)
	checkN(t, tbl, 0, 5)
}

// While followers accept the leader's heartbeats, reads hold a lease and
// run no leadership round; a leader cut off from its followers serves no
// read once the lease has run out.
func TestReadLeaseSkipsRoundsUntilTheQuorumIsGone(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 1, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	writeN(t, tbl, 0, 1)
	li := cl.LeaderOf("t", 0)
	leader := cl.Replica(li, "t", 0)
	before := leader.ReadRounds()
	const reads = 50
	for i := 0; i < reads; i++ {
		if _, err := tbl.Get(ctx(t), []byte("h0"), []byte("k00000")); err != nil {
			t.Fatal(err)
		}
	}
	if rounds := leader.ReadRounds() - before; rounds > reads/5 {
		t.Fatalf("%d leadership rounds for %d reads inside the lease", rounds, reads)
	}
	for i := range 3 {
		if i != li {
			cl.Stop(i)
		}
	}
	time.Sleep(cl.Config(li).Raft.LeaderLeaseTimeout) // longer than any lease
	before = leader.ReadRounds()
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := leader.Read(rctx)
	if err == nil {
		t.Fatal("a leader without its quorum served a read after the lease ran out")
	}
	if leader.IsLeader() && leader.ReadRounds() == before {
		t.Fatalf("read refused without a leadership round: %v", err)
	}
}

// A node with raft state stays out of raft for a lease timeout after it
// starts: leaders' read leases count on it not voting before then.
func TestRestartedNodeWaitsOutReadLeases(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.Stop(0)
	start := time.Now()
	cl.Restart(0)
	if took, lease := time.Since(start), cl.Config(0).Raft.LeaderLeaseTimeout; took < lease {
		t.Fatalf("restart took %v, less than the %v lease timeout", took, lease)
	}
}
