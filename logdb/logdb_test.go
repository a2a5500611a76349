package logdb

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/rocksdb"
)

func mustNewShared(t *testing.T) *rocksdb.Shared {
	t.Helper()
	cfg := rocksdb.DefaultConfig()
	cfg.BlockCacheBytes = 4 << 20
	sh, err := rocksdb.NewShared(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Close)
	return sh
}

func mustNewLogDB(t *testing.T, dir string, sh *rocksdb.Shared) *DB {
	t.Helper()
	db, err := Open(dir, sh)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func storeRange(t *testing.T, g *GroupLog, from, to uint64) {
	t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}, AppendedAt: time.Unix(0, int64(i))})
	}
	if err := g.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

func indexes(t *testing.T, g *GroupLog) (uint64, uint64) {
	t.Helper()
	f, _ := g.FirstIndex()
	l, _ := g.LastIndex()
	return f, l
}

func TestGroupLogsAreIsolatedAndSurviveReopen(t *testing.T) {
	sh := mustNewShared(t)
	dir := filepath.Join(t.TempDir(), "log")
	db := mustNewLogDB(t, dir, sh)
	a, _ := db.Group(1)
	b, _ := db.Group(2)
	storeRange(t, a, 1, 10)
	storeRange(t, b, 5, 7)
	if err := a.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if f, l := indexes(t, a); f != 1 || l != 10 {
		t.Fatalf("group 1: first %d last %d", f, l)
	}
	db.Close()

	db = mustNewLogDB(t, dir, sh)
	defer db.Close()
	a, _ = db.Group(1)
	b, _ = db.Group(2)
	if f, l := indexes(t, b); f != 5 || l != 7 {
		t.Fatalf("group 2 after reopen: first %d last %d", f, l)
	}
	var got raft.Log
	if err := a.GetLog(4, &got); err != nil || got.Index != 4 || got.Data[0] != 4 || got.AppendedAt.UnixNano() != 4 {
		t.Fatalf("GetLog(4) = %+v, %v", got, err)
	}
	if err := b.GetLog(4, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("group 2 GetLog(4) = %v, want ErrLogNotFound", err)
	}
	if term, _ := a.GetUint64([]byte("CurrentTerm")); term != 3 {
		t.Fatalf("term %d, want 3", term)
	}
	if v, err := b.Get([]byte("CurrentTerm")); err != nil || len(v) != 0 {
		t.Fatalf("group 2 stable leaked: %v %v", v, err)
	}
}

func TestGroupLogDeleteRange(t *testing.T) {
	cases := []struct {
		name          string
		min, max      uint64
		first, last   uint64
		present, gone uint64
	}{
		{"prefix (compaction)", 1, 4, 5, 10, 5, 4},
		{"suffix (conflict)", 7, 10, 1, 6, 6, 7},
		{"all", 1, 10, 0, 0, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := mustNewLogDB(t, t.TempDir(), mustNewShared(t))
			defer db.Close()
			g, _ := db.Group(9)
			storeRange(t, g, 1, 10)
			if err := g.DeleteRange(tc.min, tc.max); err != nil {
				t.Fatal(err)
			}
			if f, l := indexes(t, g); f != tc.first || l != tc.last {
				t.Fatalf("first %d last %d, want %d %d", f, l, tc.first, tc.last)
			}
			var l raft.Log
			if tc.present != 0 {
				if err := g.GetLog(tc.present, &l); err != nil {
					t.Fatalf("entry %d: %v", tc.present, err)
				}
			}
			if err := g.GetLog(tc.gone, &l); !errors.Is(err, raft.ErrLogNotFound) {
				t.Fatalf("entry %d still there: %v", tc.gone, err)
			}
		})
	}
}

func TestDeleteGroupRemovesLogAndStable(t *testing.T) {
	db := mustNewLogDB(t, t.TempDir(), mustNewShared(t))
	defer db.Close()
	g, _ := db.Group(3)
	storeRange(t, g, 1, 3)
	_ = g.Set([]byte("k"), []byte("v"))
	if err := db.DeleteGroup(3); err != nil {
		t.Fatal(err)
	}
	g, _ = db.Group(3)
	if f, l := indexes(t, g); f != 0 || l != 0 {
		t.Fatalf("first %d last %d after DeleteGroup", f, l)
	}
	if v, _ := g.Get([]byte("k")); v != nil {
		t.Fatalf("stable value survived: %q", v)
	}
}

func TestDecodeLogRejectsMalformed(t *testing.T) {
	good := encodeLog(&raft.Log{Term: 1, Data: []byte("abc")})
	for name, b := range map[string][]byte{"empty": nil, "version": append([]byte{9}, good[1:]...), "short": good[:len(good)-2], "trailing": append(append([]byte{}, good...), 1)} {
		var l raft.Log
		if err := decodeLog(b, &l); !errors.Is(err, ErrMalformedLog) {
			t.Errorf("%s: got %v, want ErrMalformedLog", name, err)
		}
	}
}

func TestGroupLogTracksRetainedBytes(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	db := mustNewLogDB(t, dir, sh)
	g, _ := db.Group(4)
	storeRange(t, g, 1, 10)
	full := g.RetainedBytes()
	if full == 0 {
		t.Fatal("no bytes counted")
	}
	if err := g.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	half := g.RetainedBytes()
	if half == 0 || half >= full {
		t.Fatalf("after deleting half: %d of %d bytes", half, full)
	}
	db.Close()
	db = mustNewLogDB(t, dir, sh)
	defer db.Close()
	g, _ = db.Group(4)
	if got := g.RetainedBytes(); got != half {
		t.Fatalf("after reopen %d bytes, want %d", got, half)
	}
}

func TestRetentionFloorHoldsCompactionUntilCap(t *testing.T) {
	db := mustNewLogDB(t, t.TempDir(), mustNewShared(t))
	defer db.Close()
	g, _ := db.Group(5)
	floor := uint64(4)
	g.SetRetentionFloor(func() (uint64, bool) { return floor, true })
	g.SetRetentionCap(RetentionCap{MaxBytes: 1 << 30}) // no age cap: the test's entries are dated 1970
	storeRange(t, g, 1, 20)
	if err := g.DeleteRange(1, 15); err != nil { // raft compacting after a snapshot
		t.Fatal(err)
	}
	if f, _ := g.FirstIndex(); f != 4 {
		t.Fatalf("first index %d after compaction with floor 4, want 4", f)
	}
	floor = 10
	g.CompactPending()
	if f, _ := g.FirstIndex(); f != 10 {
		t.Fatalf("first index %d after the floor rose to 10, want 10", f)
	}
	g.SetRetentionCap(RetentionCap{MaxBytes: 1}) // everything exceeds it
	if f, _ := g.FirstIndex(); f != 16 {
		t.Fatalf("first index %d once the cap is exceeded, want 16 (what raft asked)", f)
	}
}

// FuzzDecodeLog: stored raft log entries (from disk) never panic the
// decoder, and whatever decodes survives an encode/decode round trip
// unchanged (non-minimal varints decode too, so bytes may differ).
func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(&raft.Log{Term: 3, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: time.Unix(1, 2)}))
	f.Add(encodeLog(&raft.Log{Term: 1, Type: raft.LogConfiguration, Extensions: []byte("e")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			return
		}
		var again raft.Log
		if err := decodeLog(encodeLog(&l), &again); err != nil || again.Term != l.Term || again.Type != l.Type ||
			string(again.Data) != string(l.Data) || string(again.Extensions) != string(l.Extensions) || !again.AppendedAt.Equal(l.AppendedAt) {
			t.Fatalf("decodeLog(%x) does not round-trip: %+v vs %+v (%v)", b, l, again, err)
		}
	})
}
