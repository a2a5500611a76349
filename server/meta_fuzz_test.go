package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzMetaCommand: meta log entries come from disk and from the meta
// leader. Whatever decodes applies without panicking, to an empty state and
// to one with a table and a duplication.
func FuzzMetaCommand(f *testing.F) {
	table := &TableMeta{Name: "t", Partitions: 2, Replicas: 1, Placement: [][]string{{"n1"}, {"n1"}}}
	f.Add(mustJSON(f, metaCommand{Op: opCreateTable, Table: table}))
	f.Add(mustJSON(f, metaCommand{Op: opDropTable, Name: "t"}))
	f.Add(mustJSON(f, metaCommand{Op: opSetConfig, Key: "kv.max_value_bytes", Value: "10"}))
	f.Add(mustJSON(f, metaCommand{Op: opAddDup, Dup: &DupMeta{ID: "1", Table: "t", RemoteAddr: "r:1"}}))
	f.Add(mustJSON(f, metaCommand{Op: opRemoveDup, Name: "1"}))
	f.Add(mustJSON(f, metaCommand{Op: opDetachFollower, Name: "t", Key: "1"}))
	f.Add([]byte(`{"op":"create_table"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := decodeMetaCommand(b)
		if err != nil {
			if !errors.Is(err, errMalformedMeta) {
				t.Fatalf("decode error %v is not errMalformedMeta", err)
			}
			return
		}
		applyMetaCommand(newMetaState(), cmd)
		s := newMetaState()
		applyMetaCommand(s, metaCommand{Op: opCreateTable, Table: table})
		applyMetaCommand(s, metaCommand{Op: opAddDup, Dup: &DupMeta{ID: "1", Table: "t", RemoteAddr: "r:1"}})
		applyMetaCommand(s, cmd)
		if _, err := decodeMetaState(bytes.NewReader(mustJSON(t, s))); err != nil {
			t.Fatalf("state after %s does not survive a snapshot: %v", b, err)
		}
	})
}

// FuzzMetaSnapshot: a meta snapshot that decodes leaves a state every
// command can be applied to.
func FuzzMetaSnapshot(f *testing.F) {
	s := newMetaState()
	applyMetaCommand(s, metaCommand{Op: opCreateTable, Table: &TableMeta{Name: "t", Partitions: 1, Placement: [][]string{{"n1"}}}})
	f.Add(mustJSON(f, s))
	f.Add([]byte(`{"tables":null,"config":null}`))
	f.Add([]byte(`{"tables":{"t":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeMetaState(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, cmd := range []metaCommand{
			{Op: opSetConfig, Key: "k", Value: "v"},
			{Op: opCreateTable, Table: &TableMeta{Name: "x", Partitions: 1, Placement: [][]string{{"n1"}}}},
			{Op: opAddDup, Dup: &DupMeta{ID: "d", Table: "x"}},
			{Op: opRemoveDup, Name: "d"},
			{Op: opDropTable, Name: "x"},
		} {
			applyMetaCommand(s, cmd)
		}
		for _, tm := range s.sortedTables() {
			s.isDropped(tm.ID)
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMalformedMetaCommandsAreRefused(t *testing.T) {
	for name, b := range map[string]string{
		"not json":              `{`,
		"unknown op":            `{"op":"explode"}`,
		"create without table":  `{"op":"create_table"}`,
		"create, no placement":  `{"op":"create_table","table":{"name":"t","partitions":2}}`,
		"create, empty replica": `{"op":"create_table","table":{"name":"t","partitions":1,"placement":[[]]}}`,
		"add dup without dup":   `{"op":"add_dup"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeMetaCommand([]byte(b)); !errors.Is(err, errMalformedMeta) {
				t.Fatalf("decodeMetaCommand(%s) = %v, want errMalformedMeta", b, err)
			}
		})
	}
	for name, b := range map[string]string{
		"nil table":       `{"tables":{"t":null}}`,
		"renamed table":   `{"tables":{"t":{"name":"u","partitions":1,"placement":[["n1"]]}}}`,
		"nil duplication": `{"dups":{"d":null}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeMetaState(bytes.NewReader([]byte(b))); !errors.Is(err, errMalformedMeta) {
				t.Fatalf("decodeMetaState(%s) = %v, want errMalformedMeta", b, err)
			}
		})
	}
}
