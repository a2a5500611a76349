package server

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The membership ops have no legacy form (TestEveryMetaOpHasItsCommand).
func init() {
	for op := range membershipOps {
		typedOnlyOps[op] = true
	}
}

func servers(voters []string, nonvoters ...string) []raft.Server {
	var out []raft.Server
	for _, id := range voters {
		out = append(out, raft.Server{ID: raft.ServerID(id), Suffrage: raft.Voter})
	}
	for _, id := range nonvoters {
		if id != "" {
			out = append(out, raft.Server{ID: raft.ServerID(id), Suffrage: raft.Nonvoter})
		}
	}
	return out
}

func TestPlanMetaVoters(t *testing.T) {
	all := func(string) bool { return true }
	none := func(string) bool { return false }
	cases := []struct {
		name     string
		servers  []raft.Server
		nodes    map[string]string
		want     int
		caughtUp func(string) bool
		plan     metaPlan
	}{
		{"steady", servers([]string{"n1", "n2", "n3"}, "n4"), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeAlive, "n4": nodeAlive}, 3, all, metaPlan{}},
		{"joined node added", servers([]string{"n1", "n2", "n3"}), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeAlive, "n4": nodeAlive}, 3, all, metaPlan{add: "n4"}},
		{"dead voter: promote first", servers([]string{"n1", "n2", "n3"}, "n4"), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeDead, "n4": nodeAlive}, 3, all, metaPlan{promote: "n4"}},
		{"dead voter: not promoted while behind", servers([]string{"n1", "n2", "n3"}, "n4"), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeDead, "n4": nodeAlive}, 3, none, metaPlan{}},
		{"dead voter: demoted once replaced", servers([]string{"n1", "n2", "n3", "n4"}), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeDead, "n4": nodeAlive}, 3, all, metaPlan{demote: "n3"}},
		{"dead voter without replacement stays", servers([]string{"n1", "n2", "n3"}), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeDead}, 3, all, metaPlan{}},
		{"removed voter demoted, then dropped", servers([]string{"n1", "n2", "n3"}), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeRemoved}, 3, all, metaPlan{demote: "n3"}},
		{"removed non-voter dropped", servers([]string{"n1", "n2"}, "n3"), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeRemoved}, 3, all, metaPlan{remove: "n3"}},
		{"surplus voter demoted, never the leader", servers([]string{"n1", "n2", "n3"}), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeAlive}, 1, all, metaPlan{demote: "n3"}},
		{"draining voter: replaced first", servers([]string{"n1", "n2", "n3"}, "n4"), map[string]string{"n1": nodeAlive, "n2": nodeDraining, "n3": nodeAlive, "n4": nodeAlive}, 3, all, metaPlan{promote: "n4"}},
		{"draining voter: then demoted", servers([]string{"n1", "n2", "n3", "n4"}), map[string]string{"n1": nodeAlive, "n2": nodeDraining, "n3": nodeAlive, "n4": nodeAlive}, 3, all, metaPlan{demote: "n2"}},
		{"five voters wanted", servers([]string{"n1", "n2", "n3"}, "n4", "n5"), map[string]string{"n1": nodeAlive, "n2": nodeAlive, "n3": nodeAlive, "n4": nodeAlive, "n5": nodeAlive}, 5, all, metaPlan{promote: "n4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := planMetaVoters(tc.servers, tc.nodes, "n1", tc.want, tc.caughtUp); got != tc.plan {
				t.Fatalf("plan = %+v, want %+v", got, tc.plan)
			}
		})
	}
}

func TestLivenessVerdicts(t *testing.T) {
	l := newLiveness()
	t0 := time.Unix(1000, 0)
	dead := 10 * time.Second
	l.lead(1, t0)
	alive := &NodeMeta{ID: "n2", State: nodeAlive}
	// A fresh leader counts everyone as heard at its election.
	if v := l.verdict(alive, t0.Add(2*time.Second), dead); v != nodeAlive {
		t.Fatalf("at 2s: %s", v)
	}
	if v := l.verdict(alive, t0.Add(4*time.Second), dead); v != nodeSuspect {
		t.Fatalf("at 4s: %s", v)
	}
	if v := l.verdict(alive, t0.Add(10*time.Second), dead); v != nodeDead {
		t.Fatalf("at 10s: %s", v)
	}
	l.record(&tpb.NodeHeartbeatRequest{NodeId: "n2"}, t0.Add(11*time.Second))
	gone := &NodeMeta{ID: "n2", State: nodeDead}
	if v := l.verdict(gone, t0.Add(11500*time.Millisecond), dead); v != nodeAlive {
		t.Fatalf("dead node reporting again: %s", v)
	}
	// The operator's states are kept whatever the heartbeats say.
	if v := l.verdict(&NodeMeta{ID: "n2", State: nodeDraining}, t0.Add(time.Hour), dead); v != nodeDraining {
		t.Fatalf("draining: %s", v)
	}
	// A new term forgets the old contacts.
	l.lead(2, t0.Add(time.Hour))
	if v := l.verdict(alive, t0.Add(time.Hour+time.Second), dead); v != nodeAlive {
		t.Fatalf("after a new term: %s", v)
	}
}

func TestNodeCommands(t *testing.T) {
	s := newMetaState()
	if r := (&registerNodeCmd{Node: &NodeMeta{ID: "n4", Addr: "a:1"}}).apply(s); r.Err != nil || s.Nodes["n4"].State != nodeAlive {
		t.Fatalf("register: %v %+v", r.Err, s.Nodes["n4"])
	}
	if r := (&setNodeStateCmd{ID: "n4", State: nodeDead, From: nodeDraining}).apply(s); r.Err != nil || s.Nodes["n4"].State != nodeAlive {
		t.Fatalf("conditional change applied from the wrong state: %+v", s.Nodes["n4"])
	}
	(&setNodeStateCmd{ID: "n4", State: nodeRemoved}).apply(s)
	if r := (&registerNodeCmd{Node: &NodeMeta{ID: "n4", Addr: "a:2"}}).apply(s); !errors.Is(r.Err, ErrNodeRemoved) {
		t.Fatalf("rejoin of a removed node: %v", r.Err)
	}
	if r := (&setNodeStateCmd{ID: "n9", State: nodeDraining}).apply(s); !errors.Is(r.Err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", r.Err)
	}
	if _, err := decodeMetaCommand([]byte(`{"cmd":"set_node_state","args":{"id":"n1","state":"bogus"}}`)); !errors.Is(err, errMalformedMeta) {
		t.Fatalf("bad state decoded: %v", err)
	}
}

func movesState() *MetaState {
	s := newMetaState()
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		s.Nodes[id] = &NodeMeta{ID: id, State: nodeAlive}
	}
	s.Tables["t"] = &TableMeta{Name: "t", ID: 1, Partitions: 4, Replicas: 3,
		Placement: [][]string{{"n1", "n2", "n3"}, {"n2", "n3", "n4"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}}}
	return s
}

func TestPlanMovesReplacesDeadReplicasWithinBounds(t *testing.T) {
	s := movesState()
	if got := planMoves(s, nil, 2, time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("moves with every node alive: %+v", got)
	}
	s.Nodes["n2"].State = nodeDead
	got := planMoves(s, nil, 8, time.Unix(0, 0))
	if len(got) != 3 {
		t.Fatalf("%d moves, want one per partition n2 had (3): %+v", len(got), got)
	}
	for _, mv := range got {
		p := s.Tables["t"].Placement[mv.Partition]
		if mv.From != "n2" || contains(p, mv.To) || mv.To == "n2" || mv.Reason != reasonDead {
			t.Fatalf("bad move %+v for placement %v", mv, p)
		}
	}
	// Bounded: one move per target node at a time.
	got = planMoves(s, nil, 1, time.Unix(0, 0))
	targets := map[string]bool{}
	for _, mv := range got {
		if targets[mv.To] {
			t.Fatalf("with 1 move per node, %s is the target of two moves", mv.To)
		}
		targets[mv.To] = true
	}
	// Recorded moves are not planned again, and count against the bound.
	for _, mv := range got {
		if r := (&startMoveCmd{Move: mv}).apply(s); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if again := planMoves(s, nil, 1, time.Unix(0, 0)); len(again) != 0 {
		t.Fatalf("planned while targets are busy: %+v", again)
	}
	// Finishing a move puts the target in the placement.
	for k := range s.Moves {
		mv := *s.Moves[k]
		(&finishMoveCmd{Key: k}).apply(s)
		if p := s.Tables["t"].Placement[mv.Partition]; contains(p, "n2") || !contains(p, mv.To) {
			t.Fatalf("placement after the move: %v", p)
		}
	}
	if !s.Reconfigured[groupID(1, got[0].Partition)] {
		t.Fatal("a moved group may bootstrap again")
	}
}

func TestStartMoveRefusesMovesThatDoNotFit(t *testing.T) {
	s := movesState()
	for _, mv := range []*MoveMeta{
		{Table: "t", TableID: 1, Partition: 0, From: "n4", To: "n2"}, // from is no replica
		{Table: "t", TableID: 1, Partition: 0, From: "n1", To: "n2"}, // to is one already
		{Table: "t", TableID: 1, Partition: 9, From: "n1", To: "n4"}, // no partition 9
		{Table: "t", TableID: 7, Partition: 0, From: "n1", To: "n4"}, // another table of that name
	} {
		if r := (&startMoveCmd{Move: mv}).apply(s); r.Err == nil {
			t.Fatalf("move %+v accepted", mv)
		}
	}
	if len(s.Moves) != 0 || len(s.Reconfigured) != 0 {
		t.Fatalf("refused moves changed the state: %+v %+v", s.Moves, s.Reconfigured)
	}
}

// A joined node gets replicas until every count is within one of even,
// in bounded batches, and then nothing moves: the plan is stable.
func TestBalanceConvergesAndStops(t *testing.T) {
	s := newMetaState()
	nodes := []string{"n1", "n2", "n3", "n4"}
	for _, id := range nodes {
		s.Nodes[id] = &NodeMeta{ID: id, State: nodeAlive}
	}
	s.Tables["t"] = &TableMeta{Name: "t", ID: 1, Partitions: 16, Replicas: 3, Placement: place(nodes, nil, 16, 3)}
	if got := planMoves(s, nil, 2, time.Unix(0, 0)); len(got) != 0 {
		t.Fatalf("balanced cluster plans moves: %+v", got)
	}
	s.Nodes["n5"] = &NodeMeta{ID: "n5", State: nodeAlive}
	rounds := 0
	for ; rounds < 100; rounds++ {
		plan := planMoves(s, nil, 2, time.Unix(0, 0))
		if len(plan) == 0 {
			break
		}
		perNode := map[string]int{}
		for _, mv := range plan {
			perNode[mv.To]++
			perNode[mv.From]++
		}
		for id, k := range perNode {
			if k > 2 {
				t.Fatalf("%s in %d moves at once (max 2)", id, k)
			}
		}
		for _, mv := range plan {
			if mv.Reason != reasonBalance {
				t.Fatalf("move %+v is not a balance move", mv)
			}
			if r := (&startMoveCmd{Move: mv}).apply(s); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		for k := range s.Moves {
			(&finishMoveCmd{Key: k}).apply(s)
		}
	}
	load := map[string]int{}
	for _, p := range s.Tables["t"].Placement {
		seen := map[string]bool{}
		for _, id := range p {
			if seen[id] {
				t.Fatalf("two replicas of a partition on %s: %v", id, p)
			}
			seen[id] = true
			load[id]++
		}
	}
	lo, hi := 48, 0
	for _, id := range append(nodes, "n5") {
		lo, hi = min(lo, load[id]), max(hi, load[id])
	}
	if hi-lo > 1 || rounds == 100 {
		t.Fatalf("after %d rounds counts %v are not within one", rounds, load)
	}
}

func TestPlanLeaderTransferEvensOutAndStops(t *testing.T) {
	parts := []partLeaders{}
	for p := 0; p < 8; p++ {
		parts = append(parts, partLeaders{table: "t", partition: uint32(p), leader: "n1", followers: []string{"n2", "n3"}})
	}
	nodes := []string{"n1", "n2", "n3"}
	for moves := 0; ; moves++ {
		i, to, ok := planLeaderTransfer(parts, nodes)
		if !ok {
			break
		}
		if moves > 8 {
			t.Fatal("leader transfers do not stop")
		}
		pl := &parts[i]
		if !contains(pl.followers, to) {
			t.Fatalf("transfer of %d to %s, not a follower", pl.partition, to)
		}
		pl.followers = append(slices.DeleteFunc(pl.followers, func(id string) bool { return id == to }), pl.leader)
		pl.leader = to
	}
	count := map[string]int{}
	for _, pl := range parts {
		count[pl.leader]++
	}
	if count["n1"] > 3 || count["n2"] < 2 || count["n3"] < 2 {
		t.Fatalf("leaders not within one of even: %v", count)
	}
}
