package server

import (
	"sort"
	"testing"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// A checkpoint taken on a node that no longer leads its partition is still
// listed when the new leader holds none (it was hidden: `checkpoint ls`
// right after `checkpoint create` showed 7 of 8 after a leader change).
func TestCheckpointListFallsBackToOtherReplicas(t *testing.T) {
	ck := func(p uint32, node, id string) *tpb.CheckpointInfo {
		return &tpb.CheckpointInfo{Partition: p, NodeId: node, Id: id}
	}
	perNode := [][]*tpb.CheckpointInfo{
		{ck(0, "n1", "a"), ck(1, "n1", "b")},
		{ck(0, "n2", "c"), ck(2, "n2", "d")},
		{ck(1, "n3", "e")},
	}
	// Partition 0 led by n1 (n2's copy is hidden), partition 1 led by n2
	// which holds none (n1's and n3's show), partition 2 has no leader.
	got := leadersCheckpoints(perNode, map[uint32]string{0: "n1", 1: "n2"})
	var ids []string
	for _, c := range got {
		ids = append(ids, c.Id)
	}
	sort.Strings(ids)
	want := []string{"a", "b", "d", "e"}
	if len(ids) != len(want) {
		t.Fatalf("listed %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("listed %v, want %v", ids, want)
		}
	}
}
