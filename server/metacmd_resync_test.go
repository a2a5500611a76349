package server

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/tandem-kv/tandem/duplication"
)

// accept_resync is a typed-only operation (kept here, not in the shared
// list, so branches adding operations do not collide).
func init() { typedOnlyOps[opAcceptResync] = true }

// The new primary's part of a resync: refused unless the table is failed
// over from the duplication; then the duplication back is recorded and the
// promotion record ends, once (run again it answers the same), and the
// command survives the log encoding.
func TestAcceptResyncMetaCommand(t *testing.T) {
	s := newMetaState()
	s.Tables["t"] = &TableMeta{Name: "t", Partitions: 2, Placement: [][]string{{"n1"}, {"n1"}},
		Follower: &FollowerMeta{DupID: "17", SourceCluster: "east", SourceAddrs: []string{"e:1"}}}
	accept := &acceptResyncCmd{Table: "t", FromDup: "17", Dup: &DupMeta{ID: "30", Table: "t", RemoteAddr: "e:1",
		RemoteCluster: "east", State: duplication.StateActive, ReverseOf: "17", RemoteAddrs: []string{"e:2"},
		Divergence: &duplication.Divergence{File: "/d/resync/t-17.jsonl", Node: "e1", Cluster: "east", Entries: 3, Mutations: 4, Bytes: 500, AtMs: 9, FromDup: "17"}}}
	if res := accept.apply(s); !errors.Is(res.Err, duplication.ErrRefused) || len(s.Dups) != 0 {
		t.Fatalf("accept while the table still follows: %v", res.Err)
	}
	s.Tables["t"].Follower, s.Tables["t"].Promoted = nil, &PromotedMeta{DupID: "17", SourceCluster: "east", SourceDecrees: []uint64{4, 5}}
	for i := 0; i < 2; i++ {
		cmd, err := decodeMetaCommand(mustEncode(t, accept))
		if err != nil || !reflect.DeepEqual(cmd, accept) {
			t.Fatalf("accept does not survive the encoding: %#v %v", cmd, err)
		}
		if res := cmd.apply(s); res.Err != nil || res.Dup.ID != "30" || res.Dup.ReverseOf != "17" {
			t.Fatalf("accept %d: %+v", i, res)
		}
	}
	if s.Tables["t"].Promoted != nil || len(s.Dups) != 1 || s.Tables["t"].Follower != nil {
		t.Fatalf("after accept: %+v %+v", s.Tables["t"], s.Dups)
	}
	// The divergence is part of the state a snapshot keeps (restarts).
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back MetaState
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Dups["30"].Divergence, accept.Dup.Divergence) {
		t.Fatalf("divergence after a snapshot round trip: %+v %v", back.Dups["30"], err)
	}
	other := &acceptResyncCmd{Table: "t", FromDup: "99", Dup: &DupMeta{ID: "31", Table: "t"}}
	if res := other.apply(s); !errors.Is(res.Err, duplication.ErrRefused) {
		t.Fatalf("accept for a duplication the table was not promoted from: %v", res.Err)
	}
	if _, err := decodeMetaCommand([]byte(`{"cmd":"accept_resync","args":{"table":"t"}}`)); !errors.Is(err, errMalformedMeta) {
		t.Fatalf("an accept without its duplication: %v", err)
	}
}
