package server

import (
	"errors"
	"testing"

	"github.com/tandem-kv/tandem/archive"
)

// The archive's operations were added after typed commands: they have no
// legacy form.
func init() {
	for _, op := range []string{opAddArchive, opSetArchiveState, opRemoveArchive} {
		typedOnlyOps[op] = true
	}
}

// Archive commands survive the meta log's encoding, refuse a second
// archive of a table and a missing one with the archive's sentinels, and
// an archived table cannot be dropped until its archive is removed.
func TestArchiveMetaCommands(t *testing.T) {
	s := newMetaState()
	s.Tables["t"] = &TableMeta{Name: "t", Partitions: 1, Placement: [][]string{{"n1"}}}
	add := &addArchiveCmd{Archive: &ArchiveMeta{ID: "ar-1", Table: "t", URL: "file:///x", State: archive.StateActive, RequestID: "r1"}}
	cmd, err := decodeMetaCommand(mustEncode(t, add))
	if err != nil {
		t.Fatal(err)
	}
	if res := cmd.apply(s); res.Err != nil || res.Archive.ID != "ar-1" {
		t.Fatalf("add: %+v", res)
	}
	if res := add.apply(s); res.Err != nil {
		t.Fatalf("a retry of the same request: %v", res.Err)
	}
	other := &addArchiveCmd{Archive: &ArchiveMeta{ID: "ar-2", Table: "t", URL: "file:///y", State: archive.StateActive}}
	if res := other.apply(s); !errors.Is(res.Err, archive.ErrArchiveExists) {
		t.Fatalf("second archive: %v", res.Err)
	}
	if res := (&dropTableCmd{Name: "t"}).apply(s); !errors.Is(res.Err, ErrInvalidArgument) {
		t.Fatalf("drop of an archived table: %v", res.Err)
	}
	if res := (&setArchiveStateCmd{Table: "t", State: archive.StatePaused}).apply(s); res.Err != nil || s.Archives["t"].State != archive.StatePaused {
		t.Fatalf("pause: %+v", res)
	}
	if res := (&removeArchiveCmd{Table: "t"}).apply(s); res.Err != nil || s.RemovedArchives["ar-1"] == 0 && len(s.RemovedArchives) != 1 {
		t.Fatalf("remove: %+v %v", res, s.RemovedArchives)
	}
	if res := (&removeArchiveCmd{Table: "t"}).apply(s); !errors.Is(res.Err, archive.ErrArchiveNotFound) {
		t.Fatalf("remove again: %v", res.Err)
	}
	if res := (&dropTableCmd{Name: "t"}).apply(s); res.Err != nil {
		t.Fatalf("drop after archive rm: %v", res.Err)
	}
}
