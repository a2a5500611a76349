package replica

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/checkpoint"
)

func dupLog(index, upTo, atMs uint64, entries ...DupEntry) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: encodeDuplicated(entries, upTo, atMs)}
}

// The replicated time is stored with the data, survives a reopen, only
// moves forward (a re-shipped older batch cannot lower it), and a batch
// without one (an older puller's) leaves it alone.
func TestApplierKeepsReplicatedTimeWithTheData(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	put := encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("a"), Value: []byte("1")}})
	ap.applyBatch([]*raft.Log{dupLog(1, 7, 5000, DupEntry{SourceDecree: 7, Command: put})})
	if got := ap.ReplicatedMs(); got != 5000 {
		t.Fatalf("replicated %d, want 5000", got)
	}
	ap.applyBatch([]*raft.Log{dupLog(2, 7, 4000), dupLog(3, 9, 0)})
	if got, src := ap.ReplicatedMs(), ap.SourceDecree(); got != 5000 || src != 9 {
		t.Fatalf("replicated %d source %d, want 5000 and 9", got, src)
	}
	ap.applyBatch([]*raft.Log{dupLog(4, 9, 6000)}) // an idle partition's advance
	st.close()
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if got := ap.ReplicatedMs(); got != 6000 {
		t.Fatalf("replicated after reopen %d, want 6000", got)
	}
}

func TestDuplicatedRejectsGarbageAfterTheTime(t *testing.T) {
	b := encodeDuplicated(nil, 3, 42)
	c, err := decode(b)
	if err != nil || c.AtMs != 42 || c.UpTo != 3 {
		t.Fatalf("decode %+v %v", c, err)
	}
	if _, err := decode(append(b, 1)); err == nil {
		t.Fatal("trailing byte after the time accepted")
	}
}

// A fence refuses the client mutations after it (alone or batched), on
// replay too, keeps applying shipped entries, and ReadLog never ships the
// refused ones; an unfence lets writes in again; a follow step sets the
// source decree outright.
func TestFenceRefusesLaterClientWritesOnly(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	put := func(k string) []byte {
		return encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte(k), Value: []byte("v")}})
	}
	step := func(i uint64, s byte, d uint64) *raft.Log {
		return &raft.Log{Index: i, Type: raft.LogCommand, Data: encodeDupStep(s, d)}
	}
	res := ap.applyBatch([]*raft.Log{
		putLog(1, "h", "before", "v"),
		step(2, stepFence, 0),
		putLog(3, "h", "after", "v"),
		{Index: 4, Type: raft.LogCommand, Data: encodeBatch([][]byte{put("batched"), encodeDupConfirm("d", 1)})},
		dupLog(5, 9, 0, DupEntry{SourceDecree: 9, Command: put("shipped")}),
	})
	for _, i := range []int{2 - 1, 5 - 1} {
		if _, isErr := res[i].(error); isErr {
			t.Fatalf("entry %d refused: %v", i+1, res[i])
		}
	}
	for _, i := range []int{3 - 1, 4 - 1} {
		if err, _ := res[i].(error); !errors.Is(err, ErrFenced) {
			t.Fatalf("entry %d after the fence: result %v, want ErrFenced", i+1, res[i])
		}
	}
	for k, want := range map[string]bool{"before": true, "after": false, "batched": false, "shipped": true} {
		if _, found := get(t, st, "h", k); found != want {
			t.Fatalf("record %s present %v, want %v", k, found, want)
		}
	}
	if ap.Confirmed()["d"] != 1 {
		t.Fatal("a duplication mark batched with a refused write was lost")
	}
	st.close()
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if s := ap.dupState(); s.fencedAt != 2 || !s.fenced(3) || s.fenced(2) {
		t.Fatalf("fence after reopen: %+v", s)
	}
	ap.applyBatch([]*raft.Log{step(6, stepUnfence, 0), putLog(7, "h", "later", "v"), step(8, stepFollow, 4)})
	if _, found := get(t, st, "h", "later"); !found {
		t.Fatal("write after the unfence refused")
	}
	if s := ap.dupState(); s.fenced(7) || !s.fenced(4) || s.source != 4 || s.replicatedMs != 0 {
		t.Fatalf("after unfence and follow: %+v", s)
	}
}

// After an unfollow step (dup promote) shipped entries no longer apply, on
// replay too; a follow step (the table follows again) lets them in.
func TestUnfollowIgnoresLateShippedEntries(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	put := func(k string) []byte {
		return encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte(k), Value: []byte("v")}})
	}
	ap.applyBatch([]*raft.Log{
		dupLog(1, 5, 100, DupEntry{SourceDecree: 5, Command: put("early")}),
		{Index: 2, Type: raft.LogCommand, Data: encodeDupStep(stepUnfollow, 0)},
		dupLog(3, 6, 200, DupEntry{SourceDecree: 6, Command: put("late")}),
		putLog(4, "h", "client", "v"),
	})
	if _, found := get(t, st, "h", "late"); found {
		t.Fatal("a shipped entry applied after the unfollow step")
	}
	if s := ap.dupState(); s.source != 5 || s.replicatedMs != 100 || !s.unfollowed {
		t.Fatalf("state after unfollow: %+v", s)
	}
	st.close()
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if !ap.dupState().unfollowed {
		t.Fatal("unfollow lost on reopen")
	}
	ap.applyBatch([]*raft.Log{{Index: 5, Type: raft.LogCommand, Data: encodeDupStep(stepFollow, 9)},
		dupLog(6, 10, 0, DupEntry{SourceDecree: 10, Command: put("again")})})
	if _, found := get(t, st, "h", "again"); !found {
		t.Fatal("following again: shipped entry ignored")
	}
}

// A duplication base carries the source's data and meta keys: the
// follower installing it must not take over the source's fence, its
// promotion (which would make it ignore every shipped entry) or its
// replicated time.
func TestForeignBaseDropsTheSourcesFenceAndPromotion(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	ap.applyBatch([]*raft.Log{
		dupLog(1, 5, 100),
		{Index: 2, Type: raft.LogCommand, Data: encodeDupStep(stepFence, 0)},
		{Index: 3, Type: raft.LogCommand, Data: encodeDupStep(stepUnfence, 0)},
		{Index: 4, Type: raft.LogCommand, Data: encodeDupStep(stepUnfollow, 0)},
	})
	if s := ap.dupState(); s.fencedAt != 2 || !s.unfollowed || s.replicatedMs != 100 {
		t.Fatalf("source state: %+v", s)
	}
	st.close()
	if err := stampRestored(st.live(), st, &checkpoint.Manifest{ID: "b", Decree: 4, Foreign: true, SourceDecree: 4}); err != nil {
		t.Fatal(err)
	}
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if s := ap.dupState(); s.fencedAt != 0 || s.unfencedAt != 0 || s.unfollowed || s.replicatedMs != 0 || s.source != 4 {
		t.Fatalf("follower state after a foreign base: %+v", s)
	}
}
