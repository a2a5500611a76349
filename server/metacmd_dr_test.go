package server

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tandem-kv/tandem/duplication"
)

// typedOnlyOps are the operations added after typed commands: no node ever
// wrote them the legacy way.
var typedOnlyOps = map[string]bool{opAcceptSwitchover: true, opCompleteSwitchover: true, opPromoteFollower: true}

// A switchover's metadata changes: the remote's table becomes primary with
// the reversed duplication recorded, once (a resumed switchover gets the
// same one back); the old source's duplication is removed and its table
// follows the reversed one. Both survive the log encoding.
func TestSwitchoverMetaCommands(t *testing.T) {
	remote := newMetaState()
	remote.Tables["t"] = &TableMeta{Name: "t", Partitions: 2, Placement: [][]string{{"n1"}, {"n1"}},
		Follower: &FollowerMeta{DupID: "17", SourceCluster: "east", SourceAddrs: []string{"e:1"}}}
	accept := &acceptSwitchoverCmd{Table: "t", FromDup: "17", Reverse: &DupMeta{ID: "18", Table: "t", RemoteAddr: "e:1",
		RemoteCluster: "east", State: duplication.StateActive, ReverseOf: "17", Starts: []uint64{5, 6}, RemoteAddrs: []string{"e:2"}}}
	for i := 0; i < 2; i++ {
		cmd, err := decodeMetaCommand(mustEncode(t, accept))
		if err != nil || !reflect.DeepEqual(cmd, accept) {
			t.Fatalf("accept does not survive the encoding: %#v %v", cmd, err)
		}
		res := cmd.apply(remote)
		if res.Err != nil || res.Dup.ID != "18" || !reflect.DeepEqual(res.Dup.Starts, []uint64{5, 6}) {
			t.Fatalf("accept %d: %+v", i, res)
		}
	}
	if remote.Tables["t"].Follower != nil || len(remote.Dups) != 1 {
		t.Fatalf("after accept: %+v %+v", remote.Tables["t"], remote.Dups)
	}
	other := &acceptSwitchoverCmd{Table: "t", FromDup: "99", Reverse: &DupMeta{ID: "100", Table: "t"}}
	if res := other.apply(remote); !errors.Is(res.Err, duplication.ErrRefused) {
		t.Fatalf("accept for a duplication the table does not follow: %v", res.Err)
	}

	source := newMetaState()
	source.Tables["t"] = &TableMeta{Name: "t", Partitions: 2, Placement: [][]string{{"n1"}, {"n1"}}}
	source.Dups["17"] = &DupMeta{ID: "17", Table: "t", RemoteAddr: "w:1", State: duplication.StateSwitching, CreatedAtMs: 3}
	done := &completeSwitchoverCmd{ID: "17", Table: "t", Follower: &FollowerMeta{DupID: "18", SourceCluster: "west", SourceAddrs: []string{"w:1"}, SwitchedFrom: "17"}}
	cmd, err := decodeMetaCommand(mustEncode(t, done))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if res := cmd.apply(source); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if _, ok := source.RemovedDups["17"]; !ok || len(source.Dups) != 0 || source.Tables["t"].Follower.SwitchedFrom != "17" {
		t.Fatalf("after complete: %+v %+v", source.Dups, source.Tables["t"].Follower)
	}
	if _, err := decodeMetaCommand([]byte(`{"cmd":"complete_switchover","args":{"id":"17"}}`)); !errors.Is(err, errMalformedMeta) {
		t.Fatalf("a complete without its follower: %v", err)
	}
}
