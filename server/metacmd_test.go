package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tandem-kv/tandem/duplication"
)

// legacyEntries are meta log entries exactly as nodes wrote them before
// typed commands (json.Marshal of the old metaCommand{Op, Table, Name,
// Key, Value, Dup}), with the command each stands for. A restart replays
// them, so they must decode for as long as such logs may exist.
var legacyEntries = []struct {
	entry string
	want  metaCommand
}{
	{`{"op":"create_table","table":{"name":"t","id":0,"partitions":1,"replicas":1,"created_at_ms":5,"placement":[["n1"]],"request_id":"r1"}}`,
		&createTableCmd{Table: &TableMeta{Name: "t", Partitions: 1, Replicas: 1, CreatedAtMs: 5, Placement: [][]string{{"n1"}}, RequestID: "r1"}}},
	{`{"op":"create_table","table":{"name":"f","id":0,"partitions":1,"replicas":1,"created_at_ms":6,"placement":[["n1"]],"follower":{"dup_id":"9","source_cluster":"east","source_addrs":["e:1"]}}}`,
		&createTableCmd{Table: &TableMeta{Name: "f", Partitions: 1, Replicas: 1, CreatedAtMs: 6, Placement: [][]string{{"n1"}},
			Follower: &FollowerMeta{DupID: "9", SourceCluster: "east", SourceAddrs: []string{"e:1"}}}}},
	{`{"op":"set_config","key":"kv.max_value_bytes","value":"10"}`, &setConfigCmd{Key: "kv.max_value_bytes", Value: "10"}},
	{`{"op":"add_dup","dup":{"id":"17","table":"t","remote_addr":"w:1","remote_cluster":"","state":"adding","created_at_ms":7,"request_id":"d1"}}`,
		&addDupCmd{Dup: &DupMeta{ID: "17", Table: "t", RemoteAddr: "w:1", State: duplication.StateAdding, CreatedAtMs: 7, RequestID: "d1"}}},
	{`{"op":"set_dup_remote","name":"17","value":"west"}`, &setDupRemoteCmd{ID: "17", Cluster: "west"}},
	{`{"op":"set_dup_state","name":"17","value":"paused"}`, &setDupStateCmd{ID: "17", State: duplication.StatePaused}},
	{`{"op":"detach_follower","name":"f","key":"9"}`, &detachFollowerCmd{Table: "f", DupID: "9"}},
	{`{"op":"remove_dup","name":"17"}`, &removeDupCmd{ID: "17"}},
	{`{"op":"drop_table","name":"t"}`, &dropTableCmd{Name: "t"}},
}

// Entries written the old way decode to the typed commands, and a log of
// them replays to the same state as the same log written the new way.
func TestLegacyMetaLogEntriesStillDecode(t *testing.T) {
	old, typed := newMetaState(), newMetaState()
	for _, e := range legacyEntries {
		cmd, err := decodeMetaCommand([]byte(e.entry))
		if err != nil {
			t.Fatalf("%s: %v", e.entry, err)
		}
		if !reflect.DeepEqual(cmd, e.want) {
			t.Fatalf("%s decodes to %#v, want %#v", e.entry, cmd, e.want)
		}
		again, err := decodeMetaCommand(mustEncode(t, e.want))
		if err != nil || !reflect.DeepEqual(again, e.want) {
			t.Fatalf("%T does not survive the current encoding: %#v, %v", e.want, again, err)
		}
		if r1, r2 := cmd.apply(old), again.apply(typed); (r1.Err == nil) != (r2.Err == nil) {
			t.Fatalf("%s: results differ: %v, %v", e.entry, r1.Err, r2.Err)
		}
	}
	if !reflect.DeepEqual(old, typed) {
		t.Fatalf("replays differ:\n%+v\n%+v", old, typed)
	}
	if _, ok := old.RemovedDups["17"]; !ok || old.Tables["f"].Follower != nil || len(old.Tables) != 1 {
		t.Fatalf("the legacy log did not replay: %+v", old)
	}
}

// An entry written now is read by a node that predates typed commands (its
// decoder is legacyMetaCommand's) as the same command: a rolling upgrade
// does not stop the old nodes at the first metadata change.
func TestOldNodesReadNewMetaLogEntries(t *testing.T) {
	for _, e := range legacyEntries {
		var old legacyMetaCommand
		if err := json.Unmarshal(mustEncode(t, e.want), &old); err != nil {
			t.Fatal(err)
		}
		if got, err := old.typed(); err != nil || !reflect.DeepEqual(got, e.want) {
			t.Fatalf("an old node reads %#v as %#v (%v)", e.want, got, err)
		}
	}
}

// Every operation has a command type whose op it is, so a command always
// decodes as what it was encoded from.
func TestEveryMetaOpHasItsCommand(t *testing.T) {
	for op, newCmd := range metaCommands {
		if got := newCmd().op(); got != op {
			t.Errorf("metaCommands[%q] makes a %s", op, got)
		}
	}
	if len(metaCommands)-len(typedOnlyOps) != len(legacyEntries)-1 { // create_table is there twice
		t.Errorf("%d ops, %d legacy entries: a legacy op without a test", len(metaCommands)-len(typedOnlyOps), len(legacyEntries)-1)
	}
}
