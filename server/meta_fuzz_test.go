package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tandem-kv/tandem/duplication"
)

// FuzzMetaCommand: meta log entries come from disk and from the meta
// leader. Whatever decodes applies without panicking, to an empty state and
// to one with a table and a duplication.
func FuzzMetaCommand(f *testing.F) {
	table := &TableMeta{Name: "t", Partitions: 2, Replicas: 1, Placement: [][]string{{"n1"}, {"n1"}}}
	for _, cmd := range []metaCommand{
		&createTableCmd{Table: table},
		&dropTableCmd{Name: "t"},
		&setConfigCmd{Key: "kv.max_value_bytes", Value: "10"},
		&addDupCmd{Dup: &DupMeta{ID: "1", Table: "t", RemoteAddr: "r:1"}},
		&setDupStateCmd{ID: "1", State: duplication.StatePaused},
		&removeDupCmd{ID: "1"},
		&detachFollowerCmd{Table: "t", DupID: "1"},
	} {
		f.Add(mustEncode(f, cmd))
	}
	for _, legacy := range legacyEntries {
		f.Add([]byte(legacy.entry))
	}
	f.Add([]byte(`{"op":"create_table"}`))
	f.Add([]byte(`{"cmd":"create_table","args":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := decodeMetaCommand(b)
		if err != nil {
			if !errors.Is(err, errMalformedMeta) {
				t.Fatalf("decode error %v is not errMalformedMeta", err)
			}
			return
		}
		cmd.apply(newMetaState())
		s := newMetaState()
		(&createTableCmd{Table: table}).apply(s)
		(&addDupCmd{Dup: &DupMeta{ID: "1", Table: "t", RemoteAddr: "r:1"}}).apply(s)
		cmd.apply(s)
		if _, err := decodeMetaState(bytes.NewReader(mustJSON(t, s))); err != nil {
			t.Fatalf("state after %s does not survive a snapshot: %v", b, err)
		}
	})
}

func mustEncode(t testing.TB, cmd metaCommand) []byte {
	t.Helper()
	b, err := encodeMetaCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzMetaSnapshot: a meta snapshot that decodes leaves a state every
// command can be applied to.
func FuzzMetaSnapshot(f *testing.F) {
	s := newMetaState()
	(&createTableCmd{Table: &TableMeta{Name: "t", Partitions: 1, Placement: [][]string{{"n1"}}}}).apply(s)
	f.Add(mustJSON(f, s))
	f.Add([]byte(`{"tables":null,"config":null}`))
	f.Add([]byte(`{"tables":{"t":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeMetaState(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, cmd := range []metaCommand{
			&setConfigCmd{Key: "k", Value: "v"},
			&createTableCmd{Table: &TableMeta{Name: "x", Partitions: 1, Placement: [][]string{{"n1"}}}},
			&addDupCmd{Dup: &DupMeta{ID: "d", Table: "x"}},
			&removeDupCmd{ID: "d"},
			&dropTableCmd{Name: "x"},
		} {
			cmd.apply(s)
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
		"typed, unknown op":     `{"cmd":"explode","args":{}}`,
		"typed, no table":       `{"cmd":"create_table","args":{}}`,
		"typed, args not json":  `{"cmd":"drop_table","args":"t"}`,
		"typed, add dup no id":  `{"cmd":"add_dup","args":{"dup":{"table":"t"}}}`,
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
