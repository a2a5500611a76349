package replica

import (
	"testing"

	"github.com/hashicorp/raft"
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
