package replica

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/rocksdb"
)

func mustNewApplier(t *testing.T, dir string, sh *rocksdb.Shared) (*applier, *dataStore) {
	t.Helper()
	st, err := openDataStore(dir, sh, rocksdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := newApplier(st, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return ap, st
}

func putLog(index uint64, hk, sk, v string) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte(hk), SortKey: []byte(sk), Value: []byte(v)}})}
}

func get(t *testing.T, st *dataStore, hk, sk string) (string, bool) {
	t.Helper()
	var v []byte
	var found bool
	err := st.with(func(db *rocksdb.DB) error {
		var err error
		v, _, found, err = db.Get([]byte(hk), []byte(sk))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(v), found
}

func TestApplierRecordsDecreeAndSkipsReplay(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	res := ap.applyBatch([]*raft.Log{
		putLog(1, "h", "a", "1"),
		{Index: 2, Type: raft.LogConfiguration},
		putLog(3, "h", "b", "2"),
	})
	if len(res) != 3 || res[2] != uint64(3) {
		t.Fatalf("results %v", res)
	}
	if ap.Applied() != 3 {
		t.Fatalf("applied %d, want 3", ap.Applied())
	}
	st.close()

	// After a restart raft may hand the same entries again: they must not
	// overwrite newer state.
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if ap.Applied() != 3 {
		t.Fatalf("applied after reopen %d, want 3", ap.Applied())
	}
	ap.applyBatch([]*raft.Log{putLog(4, "h", "a", "new")})
	ap.applyBatch([]*raft.Log{putLog(1, "h", "a", "stale"), putLog(3, "h", "b", "stale")})
	if v, _ := get(t, st, "h", "a"); v != "new" {
		t.Fatalf("h/a = %q, want new (replayed entry re-applied)", v)
	}
	if v, _ := get(t, st, "h", "b"); v != "2" {
		t.Fatalf("h/b = %q, want 2", v)
	}
}

type bufSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { return nil }

// mustNewFSM builds an FSM with its catalog and checkpointer, no raft.
func mustNewFSM(t *testing.T, dir string, sh *rocksdb.Shared) (*fsm, *dataStore, *checkpoint.Catalog) {
	t.Helper()
	ap, st := mustNewApplier(t, filepath.Join(dir, "data"), sh)
	cat, err := checkpoint.OpenCatalog(filepath.Join(dir, "checkpoints"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpointer{table: "t", partition: 0, store: st, ap: ap, catalog: cat, now: time.Now, lg: zaptest.NewLogger(t)}
	f := &fsm{applier: ap}
	f.snaps = &snapshotter{store: st, lg: zaptest.NewLogger(t), checkpoint: func(min uint64) (*checkpoint.Manifest, string, func(), error) {
		m, err := ck.create(checkpoint.PurposeRaftSnapshot)
		if err != nil {
			return nil, "", nil, err
		}
		rel, err := cat.Acquire(m.ID)
		return m, cat.Dir(m.ID), rel, err
	}}
	return f, st, cat
}

func persist(t *testing.T, f *fsm) *bufSink {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	return sink
}

func TestSnapshotStreamInstallsOnAnotherReplica(t *testing.T) {
	sh := mustNewShared(t)
	src, srcSt, _ := mustNewFSM(t, t.TempDir(), sh)
	defer srcSt.close()
	var logs []*raft.Log
	for i := uint64(1); i <= 100; i++ {
		logs = append(logs, putLog(i, "h", string(rune('a'+i%26))+string(rune('0'+i%10)), "v"))
	}
	src.applyBatch(logs)
	sink := persist(t, src)

	dst, dstSt, _ := mustNewFSM(t, t.TempDir(), sh)
	defer dstSt.close()
	dst.applyBatch([]*raft.Log{putLog(1, "old", "x", "gone")})
	if err := dst.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if dst.Applied() != 100 {
		t.Fatalf("applied after restore %d, want 100", dst.Applied())
	}
	if _, found := get(t, dstSt, "old", "x"); found {
		t.Fatal("restore kept data that is not in the snapshot")
	}
	if v, found := get(t, dstSt, "h", "b1"); !found || v != "v" {
		t.Fatalf("restored h/b1 = %q %v", v, found)
	}
}

func TestEmptySnapshotInstallsAnEmptyReplicaAtItsDecree(t *testing.T) {
	sh := mustNewShared(t)
	src, srcSt, cat := mustNewFSM(t, t.TempDir(), sh)
	defer srcSt.close()
	src.applyBatch([]*raft.Log{{Index: 1, Type: raft.LogConfiguration}, {Index: 2, Type: raft.LogConfiguration}})
	sink := persist(t, src)
	if l := cat.List(); len(l) != 1 || !l[0].Empty || len(l[0].Files) != 0 {
		t.Fatalf("empty partition checkpoint: %+v", l)
	}
	dst, dstSt, _ := mustNewFSM(t, t.TempDir(), sh)
	defer dstSt.close()
	dst.applyBatch([]*raft.Log{putLog(1, "old", "x", "gone")})
	if err := dst.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if dst.Applied() != 2 {
		t.Fatalf("applied %d, want 2", dst.Applied())
	}
	if _, found := get(t, dstSt, "old", "x"); found {
		t.Fatal("empty restore kept old data")
	}
}

func TestRestoreRejectsCorruptFileAndKeepsData(t *testing.T) {
	sh := mustNewShared(t)
	src, srcSt, _ := mustNewFSM(t, t.TempDir(), sh)
	defer srcSt.close()
	src.applyBatch([]*raft.Log{putLog(1, "h", "s", "snap")})
	sink := persist(t, src)
	raw := corruptFirstDataFile(t, sink.Bytes())

	dst, dstSt, _ := mustNewFSM(t, t.TempDir(), sh)
	defer dstSt.close()
	dst.applyBatch([]*raft.Log{putLog(1, "h", "s", "kept")})
	err := dst.Restore(io.NopCloser(bytes.NewReader(raw)))
	if !errors.Is(err, checkpoint.ErrInvalid) && !errors.Is(err, ErrMalformedSnapshot) {
		t.Fatalf("corrupt snapshot: %v, want a checksum error", err)
	}
	if v, found := get(t, dstSt, "h", "s"); !found || v != "kept" {
		t.Fatalf("data damaged by a refused restore: %q %v", v, found)
	}
}

func TestRestoreRejectsPathTraversal(t *testing.T) {
	sh := mustNewShared(t)
	f, st, _ := mustNewFSM(t, t.TempDir(), sh)
	defer st.close()
	f.applyBatch([]*raft.Log{putLog(1, "h", "s", "kept")})
	var buf bytes.Buffer
	writeTar(t, &buf, "../evil", "x")
	if err := f.Restore(io.NopCloser(&buf)); err == nil {
		t.Fatal("restore accepted ../evil")
	}
	if v, found := get(t, st, "h", "s"); !found || v != "kept" {
		t.Fatalf("data damaged by a refused restore: %q %v", v, found)
	}
}

func TestApplierAppliesBatchedEntryInOrder(t *testing.T) {
	ap, st := mustNewApplier(t, t.TempDir(), mustNewShared(t))
	defer st.close()
	put := func(v string) []byte {
		return encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("k"), Value: []byte(v)}})
	}
	del := encodeCommand([]Mutation{{Op: OpDelete, HashKey: []byte("h"), SortKey: []byte("gone")}})
	ap.applyBatch([]*raft.Log{putLog(1, "h", "gone", "x")})
	ap.applyBatch([]*raft.Log{{Index: 2, Type: raft.LogCommand, Data: encodeBatch([][]byte{put("first"), del, put("last")})}})
	if v, _ := get(t, st, "h", "k"); v != "last" {
		t.Fatalf("h/k = %q, want the batch's last write", v)
	}
	if _, found := get(t, st, "h", "gone"); found {
		t.Fatal("batched delete not applied")
	}
}
