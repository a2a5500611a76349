package server

import (
	"errors"
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
