package server

import (
	"errors"
	"testing"

	"github.com/tandem-kv/tandem/duplication"
)

func TestRetriedMetadataChangeGetsItsResult(t *testing.T) {
	table := func(rid string) metaCommand {
		return &createTableCmd{Table: &TableMeta{Name: "t", Partitions: 1, Placement: [][]string{{"n1"}}, RequestID: rid}}
	}
	dup := func(id, rid string) metaCommand {
		return &addDupCmd{Dup: &DupMeta{ID: id, Table: "t", RemoteAddr: "r:1", RequestID: rid}}
	}
	s := newMetaState()
	first := table("r1").apply(s)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	if again := table("r1").apply(s); again.Err != nil || again.Table.ID != first.Table.ID {
		t.Fatalf("retry of the create: %+v", again)
	}
	for _, rid := range []string{"r2", ""} {
		if res := table(rid).apply(s); !errors.Is(res.Err, ErrTableExists) {
			t.Fatalf("another create (request %q): %v, want ErrTableExists", rid, res.Err)
		}
	}
	if res := dup("1", "d1").apply(s); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := dup("2", "d1").apply(s); res.Err != nil || res.Dup.ID != "1" || len(s.Dups) != 1 {
		t.Fatalf("retry of the dup add: %+v, dups %v", res, s.Dups)
	}
	for _, rid := range []string{"d2", ""} {
		if res := dup("3", rid).apply(s); !errors.Is(res.Err, duplication.ErrDupExists) {
			t.Fatalf("another dup add (request %q): %v, want ErrDupExists", rid, res.Err)
		}
	}
}
