package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// joinNode starts a new node that joins cluster c through via (--join);
// it does not wait for it.
func joinNode(c *Cluster, id, cluster, via string) *Node {
	c.t.Helper()
	nd := &Node{ID: id, Addr: FreeAddr(c.t), HTTP: FreeAddr(c.t), t: c.t, bin: c.bin}
	nd.Data = filepath.Join(c.base, id)
	nd.args = []string{"--id", id, "--addr", nd.Addr, "--http", nd.HTTP, "--data", nd.Data, "--cluster", cluster,
		"--raft-election-timeout", "1s", "--join", via}
	c.Nodes = append(c.Nodes, nd)
	nd.Start()
	return nd
}

// nodesOf returns the cluster's nodes by id, as the SDK gets them.
func nodesOf(t *testing.T, c *client.Client) map[string]*tpb.NodeInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Nodes(ctx)
	if err != nil {
		return nil
	}
	out := map[string]*tpb.NodeInfo{}
	for _, n := range resp.Nodes {
		out[n.Id] = n
	}
	return out
}

// waitNodes polls the nodes view until ok accepts it.
func waitNodes(t *testing.T, c *client.Client, timeout time.Duration, what string, ok func(map[string]*tpb.NodeInfo) bool) map[string]*tpb.NodeInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]*tpb.NodeInfo
	for time.Now().Before(deadline) {
		if last = nodesOf(t, c); last != nil && ok(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nodes never showed %s; last view: %s", what, describeNodes(last))
	return nil
}

func describeNodes(ns map[string]*tpb.NodeInfo) string {
	var parts []string
	for _, n := range ns {
		seen := "-"
		if n.LastContactUnixMs > 0 {
			seen = time.Since(time.UnixMilli(n.LastContactUnixMs)).Round(100 * time.Millisecond).String()
		}
		parts = append(parts, fmt.Sprintf("%s:%s/%s/r%d/l%d/m%d/%s", n.Id, n.State, n.MetaRole, n.Replicas, n.Leaders, n.Moving, seen))
	}
	return strings.Join(parts, " ")
}

func isVoter(role string) bool { return role == "voter" || role == "leader" }

// keepMembershipLogs logs, when t fails, each node's membership lines (the
// node logs go with the test's temporary directory).
func keepMembershipLogs(t *testing.T, cl *Cluster) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, nd := range cl.Nodes {
			b, err := os.ReadFile(nd.LogPath())
			if err != nil {
				continue
			}
			var keep []string
			for _, l := range strings.Split(string(b), "\n") {
				for _, w := range []string{"node state", "meta group membership", "joined", "replica move", "registered", "register peer", "membership", "leader balancing", "node ready", "runtime config changed"} {
					if strings.Contains(l, w) {
						keep = append(keep, l)
						break
					}
				}
			}
			if len(keep) > 60 {
				keep = keep[len(keep)-60:]
			}
			t.Logf("%s membership log:\n%s", nd.ID, strings.Join(keep, "\n"))
		}
	})
}

// TestJoinAndLiveness: a fourth node joins a running cluster with --join
// (nobody restarts), gets replicas of a new table, survives its own
// restart; a node killed for good turns suspect, then dead after
// cluster.dead_node_timeout, and the joined node takes its meta vote.
func TestJoinAndLiveness(t *testing.T) {
	cl := StartCluster(t, "east", 3)
	keepMembershipLogs(t, cl)
	c := dial(t, cl.Addrs())
	if out, err := cl.Shell("config set cluster.dead_node_timeout 4s"); err != nil {
		t.Fatal(out, err)
	}
	n4 := joinNode(cl, "n4", "east", cl.Nodes[1].Addr)
	n4.WaitHealthy(60 * time.Second)
	waitNodes(t, c, 30*time.Second, "n4 alive as a meta member", func(ns map[string]*tpb.NodeInfo) bool {
		n := ns["n4"]
		return len(ns) == 4 && n != nil && n.State == "alive" && n.MetaRole != "none" && n.LastContactUnixMs > 0
	})

	// A node of another cluster is refused, typed, and stops.
	west := joinNode(cl, "w1", "west", cl.Nodes[0].Addr)
	select {
	case <-west.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("a node of cluster west joined cluster east")
	}
	if !strings.Contains(west.logTail(), "another cluster") {
		t.Fatalf("refusal does not say why:\n%s", west.logTail())
	}
	cl.Nodes = cl.Nodes[:4]

	cl.Node("n3").Kill()
	ns := waitNodes(t, c, 60*time.Second, "n3 dead and n4 voting", func(ns map[string]*tpb.NodeInfo) bool {
		return ns["n3"].GetState() == "dead" && isVoter(ns["n4"].GetMetaRole()) && !isVoter(ns["n3"].GetMetaRole())
	})
	t.Logf("after kill -9 of n3: %s", describeNodes(ns))

	// New tables go to live nodes only, the joined one included.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := c.CreateTable(ctx, "after", 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	onN4 := 0
	for _, p := range info.Placement {
		for _, id := range p.NodeIds {
			if id == "n3" {
				t.Fatalf("partition %d placed on dead n3: %v", p.Index, p.NodeIds)
			}
			if id == "n4" {
				onN4++
			}
		}
	}
	if onN4 != 6 {
		t.Fatalf("n4 holds %d of 6 partitions of a 3-replica table on 3 live nodes", onN4)
	}
	tbl := openTable(t, c, "after")
	w := startWriters(tbl, 4)
	w.waitAcked(t, 200)

	// The joined node restarts like any other (its --join is kept).
	n4.Terminate()
	n4.Start()
	n4.WaitHealthy(60 * time.Second)
	w.waitAcked(t, w.count()+200)
	acked := w.halt()
	verifyAcked(t, tbl, acked)
	waitNodes(t, c, 30*time.Second, "n4 alive after its restart", func(ns map[string]*tpb.NodeInfo) bool {
		return ns["n4"].GetState() == "alive" && ns["n4"].GetReplicas() == 6
	})
}

// fullyReplicated reports whether every partition has a leader and
// `replicas` live replicas (leader or follower), none on a node of gone,
// and no move in progress; it says what is missing otherwise.
func fullyReplicated(parts []*tpb.PartitionInfo, replicas int, gone ...string) (bool, string) {
	for _, p := range parts {
		live := 0
		for _, rs := range p.Replicas {
			for _, g := range gone {
				if rs.NodeId == g {
					return false, fmt.Sprintf("partition %d still has a replica on %s (%s)", p.Index, g, rs.State)
				}
			}
			if rs.State == "leader" || rs.State == "follower" {
				live++
			}
		}
		if p.LeaderId == "" || live != replicas || p.Move != "" {
			return false, fmt.Sprintf("partition %d: leader %q, %d live replicas, move %q", p.Index, p.LeaderId, live, p.Move)
		}
	}
	return true, ""
}

// waitReplicated waits until fullyReplicated holds and returns how long
// it took.
func waitReplicated(t *testing.T, c *client.Client, table string, replicas int, timeout time.Duration, gone ...string) time.Duration {
	t.Helper()
	start := time.Now()
	why := "no answer"
	for time.Since(start) < timeout {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.Partitions(ctx, table)
		cancel()
		if err == nil {
			var ok bool
			if ok, why = fullyReplicated(resp.Partitions, replicas, gone...); ok {
				return time.Since(start)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not back to %d live replicas per partition after %s: %s", table, replicas, timeout, why)
	return 0
}

// checkCount compares count with the acknowledged writes: every acked
// write is there, and at most the failed (ambiguous) ones more.
func checkCount(t *testing.T, tbl *client.Table, acked map[string]string, failed int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := tbl.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) < len(acked) || int(n) > len(acked)+failed {
		t.Fatalf("count = %d, want %d acknowledged writes (+ up to %d ambiguous)", n, len(acked), failed)
	}
}

// TestDeadNodesReplicasAreRecreated: 4 nodes, a 16x3 table under steady
// writes; one node is killed for good. After cluster.dead_node_timeout
// every partition it had gets a new replica on a live node (non-voter,
// caught up, promoted, the dead member removed) while the writes go on;
// count and every acknowledged write are intact.
func TestDeadNodesReplicasAreRecreated(t *testing.T) {
	cl := StartCluster(t, "east", 4)
	keepMembershipLogs(t, cl)
	if out, err := cl.Shell("config set cluster.dead_node_timeout 3s; config set raft.snapshot_threshold 64; config set raft.trailing_logs 16"); err != nil {
		t.Fatal(out, err)
	}
	c := dial(t, cl.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.CreateTable(ctx, "t", 16, 3); err != nil {
		t.Fatal(err)
	}
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 8)
	w.waitAcked(t, 1000)

	victim := cl.Node("n2")
	victim.Kill()
	killed := time.Now()
	took := waitReplicated(t, c, "t", 3, 3*time.Minute, "n2")
	t.Logf("FIGURE re-replication: every partition back to 3 live replicas %.1fs after kill -9 (dead_node_timeout 3s)", took.Seconds())
	ns := waitNodes(t, c, 30*time.Second, "n2 dead with nothing placed on it", func(ns map[string]*tpb.NodeInfo) bool {
		return ns["n2"].GetState() == "dead" && ns["n2"].GetReplicas() == 0 && ns["n2"].GetMoving() == 0
	})
	t.Logf("nodes %.1fs after the kill: %s", time.Since(killed).Seconds(), describeNodes(ns))
	for _, id := range []string{"n1", "n3", "n4"} {
		if ns[id].GetReplicas() != 16 {
			t.Fatalf("%s holds %d replicas, want 16 (48 over 3 live nodes)", id, ns[id].GetReplicas())
		}
	}

	// Writes go on, to every partition, through the moved replicas.
	w.waitAcked(t, w.count()+500)
	acked := w.halt()
	verifyAcked(t, tbl, acked)
	checkCount(t, tbl, acked, w.failed)
	t.Logf("%d writes acknowledged, %d failed (ambiguous or timed out)", len(acked), w.failed)
}

// strictWriter writes unique keys until stopped and sorts its outcomes:
// acknowledged, ambiguous (client.ErrAmbiguous: the write may have
// applied) and any other error, which a drain must never cause.
type strictWriter struct {
	*writer
	errs []error
}

func startStrictWriters(tbl *client.Table, n int) *strictWriter {
	sw := &strictWriter{writer: &writer{tbl: tbl, acked: map[string]string{}, stop: make(chan struct{})}}
	for i := 0; i < n; i++ {
		sw.wg.Add(1)
		go sw.loop()
	}
	return sw
}

func (sw *strictWriter) loop() {
	defer sw.wg.Done()
	for {
		select {
		case <-sw.stop:
			return
		default:
		}
		i := sw.next.Add(1)
		hk, sk, v := fmt.Sprintf("user%d", i%97), fmt.Sprintf("k%07d", i), fmt.Sprintf("v%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := sw.tbl.Set(ctx, []byte(hk), []byte(sk), []byte(v))
		cancel()
		sw.mu.Lock()
		switch {
		case err == nil:
			sw.acked[hk+"\x00"+sk] = v
		case errors.Is(err, client.ErrAmbiguous):
			sw.failed++
		default:
			sw.failed++
			sw.errs = append(sw.errs, err)
		}
		sw.mu.Unlock()
	}
}

// TestDrainAndRemoveUnderLoad: node drain moves every replica and
// leadership off a running node while writes go on, with no client error
// but ambiguous writes; node rm then removes it. Refusals are typed:
// unknown node, rm of a node neither drained nor dead, rm of the only
// copy of a partition, a drain that would leave too few nodes.
func TestDrainAndRemoveUnderLoad(t *testing.T) {
	cl := StartCluster(t, "east", 4)
	keepMembershipLogs(t, cl)
	if out, err := cl.Shell("config set cluster.dead_node_timeout 3s"); err != nil {
		t.Fatal(out, err)
	}
	c := dial(t, cl.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.CreateTable(ctx, "t", 16, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DrainNode(ctx, "n9"); !errors.Is(err, client.ErrUnknownNode) {
		t.Fatalf("drain of an unknown node: %v", err)
	}
	if _, err := c.RemoveNode(ctx, "n2"); !errors.Is(err, client.ErrNotDrained) {
		t.Fatalf("rm of a live node that is not drained: %v", err)
	}
	tbl := openTable(t, c, "t")
	w := startStrictWriters(tbl, 8)
	w.waitAcked(t, 1000)

	out, err := cl.Shell("node drain n2")
	if err != nil || !strings.Contains(out, "node n2 draining") {
		t.Fatalf("node drain: %q %v", out, err)
	}
	start := time.Now()
	took := waitReplicated(t, c, "t", 3, 3*time.Minute, "n2")
	ns := waitNodes(t, c, 30*time.Second, "n2 drained: no replica, no leader, no vote", func(ns map[string]*tpb.NodeInfo) bool {
		n2 := ns["n2"]
		return n2.GetState() == "draining" && n2.GetReplicas() == 0 && n2.GetLeaders() == 0 && n2.GetMoving() == 0 && !isVoter(n2.GetMetaRole())
	})
	t.Logf("FIGURE drain: 12 replicas moved off n2 in %.1fs (%.1fs to a drained nodes view); %s", took.Seconds(), time.Since(start).Seconds(), describeNodes(ns))
	w.waitAcked(t, w.count()+300)
	out, err = cl.Shell("node rm n2; nodes")
	if err != nil || !strings.Contains(out, "node n2 removed") {
		t.Fatalf("node rm: %q %v", out, err)
	}
	t.Logf("after node rm:\n%s", out)
	w.waitAcked(t, w.count()+300)
	acked := w.halt()
	if len(w.errs) > 0 {
		t.Fatalf("%d client errors besides ambiguous writes during drain and rm, first: %v", len(w.errs), w.errs[0])
	}
	verifyAcked(t, tbl, acked)
	checkCount(t, tbl, acked, w.failed)
	t.Logf("%d writes acknowledged, %d ambiguous, 0 other errors", len(acked), w.failed)

	// The only copy of a one-replica table is on a node that died: rm is
	// refused; with two of four nodes gone a drain is refused too.
	info, err := c.CreateTable(ctx, "single", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	holder := info.Placement[0].NodeIds[0]
	cl.Node(holder).Kill()
	waitNodes(t, c, time.Minute, holder+" dead", func(ns map[string]*tpb.NodeInfo) bool { return ns[holder].GetState() == "dead" })
	if _, err := c.RemoveNode(ctx, holder); !errors.Is(err, client.ErrLastCopy) {
		t.Fatalf("rm of the node with the only copy: %v", err)
	}
	var other string
	for _, id := range []string{"n1", "n3", "n4"} {
		if id != holder {
			other = id
		}
	}
	if _, err := c.DrainNode(ctx, other); !errors.Is(err, client.ErrLastVoter) {
		t.Fatalf("drain leaving 1 live node for 3-replica tables: %v", err)
	}
	if _, err := c.RemoveNode(ctx, "n2"); err != nil {
		t.Fatalf("rm of a removed node again: %v", err)
	}
}

// withinOne reports whether the values of ids in counts differ by at most
// one.
func withinOne(ns map[string]*tpb.NodeInfo, ids []string, get func(*tpb.NodeInfo) uint32) bool {
	lo, hi := ^uint32(0), uint32(0)
	for _, id := range ids {
		v := get(ns[id])
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi-lo <= 1
}

// TestJoinedNodeGetsItsShare: a fifth node joins a loaded 4-node cluster
// with --join; replicas move to it until every node holds within one of
// even, leaders spread the same way, then nothing moves any more. The
// writes never fail but ambiguously; count and acknowledged writes hold.
func TestJoinedNodeGetsItsShare(t *testing.T) {
	cl := StartCluster(t, "east", 4)
	keepMembershipLogs(t, cl)
	c := dial(t, cl.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.CreateTable(ctx, "t", 16, 3); err != nil {
		t.Fatal(err)
	}
	tbl := openTable(t, c, "t")
	w := startStrictWriters(tbl, 8)
	w.waitAcked(t, 1000)

	n5 := joinNode(cl, "n5", "east", cl.Nodes[0].Addr)
	n5.WaitHealthy(60 * time.Second)
	start := time.Now()
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	balanced := func(ns map[string]*tpb.NodeInfo) bool {
		var total uint32
		for _, id := range ids {
			if ns[id].GetState() != "alive" || ns[id].GetMoving() != 0 {
				return false
			}
			total += ns[id].GetReplicas()
		}
		return total == 48 && withinOne(ns, ids, (*tpb.NodeInfo).GetReplicas) && withinOne(ns, ids, (*tpb.NodeInfo).GetLeaders)
	}
	ns := waitNodes(t, c, 4*time.Minute, "replicas and leaders within one of even", balanced)
	t.Logf("FIGURE balance: 5 nodes within one of even (replicas and leaders) %.1fs after n5 joined: %s", time.Since(start).Seconds(), describeNodes(ns))
	// No flapping: a while later the same placement, still balanced.
	w.waitAcked(t, w.count()+2000)
	again := waitNodes(t, c, 30*time.Second, "a balanced view again", balanced)
	for _, id := range ids {
		if again[id].GetReplicas() != ns[id].GetReplicas() {
			t.Fatalf("replicas moved after balancing: %s then %s", describeNodes(ns), describeNodes(again))
		}
	}
	reb, err := c.Rebalance(ctx)
	if err != nil || len(reb.Moves) != 0 || reb.UnderReplicated != 0 {
		t.Fatalf("rebalance after balancing: %v %v", reb, err)
	}
	acked := w.halt()
	if len(w.errs) > 0 {
		t.Fatalf("%d client errors besides ambiguous writes while balancing, first: %v", len(w.errs), w.errs[0])
	}
	verifyAcked(t, tbl, acked)
	checkCount(t, tbl, acked, w.failed)
	waitReplicated(t, c, "t", 3, time.Minute)
	t.Logf("%d writes acknowledged, %d ambiguous, 0 other errors", len(acked), w.failed)
}

// TestMoveTargetLeavesMidMove: 5 nodes; one dies for good, and the target
// of one of the moves that re-create its replicas is drained while that
// move runs. (Killing it instead could take two replicas of a partition
// placed on both dead nodes: a quorum lost, which nothing safe recovers.)
// The move is aborted (or, promoted already, completed and its replicas
// moved in turn); every partition ends with 3 live replicas on the 3
// nodes left.
func TestMoveTargetLeavesMidMove(t *testing.T) {
	cl := StartCluster(t, "east", 5)
	keepMembershipLogs(t, cl)
	if out, err := cl.Shell("config set cluster.dead_node_timeout 3s; config set cluster.max_moves_per_node 1"); err != nil {
		t.Fatal(out, err)
	}
	c := dial(t, cl.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.CreateTable(ctx, "t", 16, 3); err != nil {
		t.Fatal(err)
	}
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 8)
	w.waitAcked(t, 1000)

	cl.Node("n2").Kill()
	var target string
	deadline := time.Now().Add(2 * time.Minute)
	for target == "" && time.Now().Before(deadline) {
		if reb, err := c.Rebalance(ctx); err == nil {
			for _, mv := range reb.Moves {
				if mv.Phase == "adding" && mv.ToNode != "" {
					target = mv.ToNode
					break
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if target == "" {
		t.Fatal("no move of n2's replicas was seen adding its target")
	}
	if _, err := c.DrainNode(ctx, target); err != nil {
		t.Fatal(err)
	}
	t.Logf("drained %s, target of a move in progress", target)
	took := waitReplicated(t, c, "t", 3, 4*time.Minute, "n2", target)
	aborted := 0
	for _, nd := range cl.Nodes {
		if b, err := os.ReadFile(nd.LogPath()); err == nil {
			aborted += strings.Count(string(b), "replica move aborted")
		}
	}
	t.Logf("back to 3 live replicas %.1fs after the target left; %d moves aborted (0: the move was promoted first)", took.Seconds(), aborted)
	w.waitAcked(t, w.count()+300)
	acked := w.halt()
	verifyAcked(t, tbl, acked)
	checkCount(t, tbl, acked, w.failed)
}

// TestDuplicationThroughReReplication: a source table duplicated to
// another cluster keeps duplicating while a source node dies for good and
// its replicas are re-created elsewhere (leaders move, new replicas come
// from checkpoints): the remote ends identical, every acknowledged write
// there.
func TestDuplicationThroughReReplication(t *testing.T) {
	src := StartCluster(t, "east", 4)
	dst := StartCluster(t, "west", 1)
	if out, err := src.Shell("config set cluster.dead_node_timeout 3s; create t --partitions 8 --replicas 3"); err != nil {
		t.Fatal(out, err)
	}
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 4)
	w.waitAcked(t, 300)
	id := dupAdd(t, src, dst, "t")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := src.Shell("dup show t " + id)
		if err == nil && strings.Count(out, " LOG ") == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every partition reached LOG: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	victim := src.Node("n3")
	victim.Kill()
	took := waitReplicated(t, c, "t", 3, 3*time.Minute, "n3")
	t.Logf("source back to 3 live replicas %.1fs after kill -9 of n3", took.Seconds())
	w.waitAcked(t, w.count()+300)
	acked := w.halt()
	out := waitIdentical(t, src, dst, "t", 2*time.Minute)
	t.Logf("%d acknowledged source writes; tandem-verify: %s", len(acked), lastLine(out))
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), acked)
}

// Duplication sees nodes that joined after it started: `dup show` asks a
// joined node for the partitions it leads (they showed UNKNOWN: the node
// list was the one the source started with), and the remote keeps pulling
// from it.
func TestDuplicationSeesJoinedNodes(t *testing.T) {
	src := StartCluster(t, "east", 3)
	dst := StartCluster(t, "west", 1)
	if out, err := src.Shell("config set cluster.leader_balance_after 1s; create t --partitions 8 --replicas 3"); err != nil {
		t.Fatal(out, err)
	}
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	w := startWriters(tbl, 2)
	w.waitAcked(t, 100)
	id := dupAdd(t, src, dst, "t")
	n4 := joinNode(src, "n4", "east", src.Nodes[0].Addr)
	n4.WaitHealthy(60 * time.Second)
	waitNodes(t, c, 3*time.Minute, "n4 leading partitions", func(ns map[string]*tpb.NodeInfo) bool {
		return ns["n4"].GetLeaders() > 0 && ns["n4"].GetMoving() == 0
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := src.Shell("dup show t " + id)
		if err == nil && strings.Count(out, " LOG ") == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dup show does not see every partition in LOG with n4 leading some: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.waitAcked(t, w.count()+100)
	acked := w.halt()
	out := waitIdentical(t, src, dst, "t", 2*time.Minute)
	t.Logf("%d acknowledged source writes; tandem-verify: %s", len(acked), lastLine(out))
}
