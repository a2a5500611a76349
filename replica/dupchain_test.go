package replica

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/checkpoint"
)

// shipped replays every entry as ReadLog does and returns "key=value" of
// each mutation it would ship onward, in order.
func shipped(t *testing.T, ap *applier, logs []*raft.Log) []string {
	t.Helper()
	var out []string
	ds := ap.dupState()
	for _, l := range logs {
		muts, _, err := appliedMutations(l.Data, l.Index, ds)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range muts {
			out = append(out, fmt.Sprintf("%s=%s", m.SortKey, m.Value))
		}
	}
	return out
}

// A chain's middle ships exactly what its FSM applied of each Duplicated
// entry: a re-shipped batch (whole, or the older part of one) that the FSM
// skipped is not shipped onward, on every replica alike and after a reopen;
// an entry ignored after a promote ships nothing; a plain entry ships all.
func TestOnwardShippingSkipsWhatTheFSMSkipped(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	ap, st := mustNewApplier(t, dir, sh)
	put := func(k, v string) []byte {
		return encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte(k), Value: []byte(v)}})
	}
	logs := []*raft.Log{
		dupLog(1, 5, 100, DupEntry{SourceDecree: 5, Command: put("k", "v1")}),
		dupLog(2, 7, 200, DupEntry{SourceDecree: 6, Command: put("k", "v2")}, DupEntry{SourceDecree: 7, Command: put("j", "a")}),
		// Re-shipped after a leader change: wholly applied already.
		dupLog(3, 5, 100, DupEntry{SourceDecree: 5, Command: put("k", "v1")}),
		// Re-shipped from 6 with a new tail: only 8 applies.
		dupLog(4, 8, 300, DupEntry{SourceDecree: 6, Command: put("k", "v2")}, DupEntry{SourceDecree: 7, Command: put("j", "a")},
			DupEntry{SourceDecree: 8, Command: put("m", "x")}),
		{Index: 5, Type: raft.LogCommand, Data: encodeBatch([][]byte{encodeDuplicated([]DupEntry{{SourceDecree: 4, Command: put("k", "v0")},
			{SourceDecree: 9, Command: put("n", "y")}}, 9, 0), encodeDupConfirm("d", 1)})},
	}
	ap.applyBatch(logs[:2])
	ap.applyBatch(logs[2:])
	want := "[k=v1 k=v2 j=a m=x n=y]"
	if got := fmt.Sprint(shipped(t, ap, logs)); got != want {
		t.Fatalf("shipped onward %s, want %s", got, want)
	}
	if v, _ := get(t, st, "h", "k"); v != "v2" {
		t.Fatalf("k=%s on the middle, want v2", v)
	}
	st.close()
	ap, st = mustNewApplier(t, dir, sh) // the records are stored with the data
	if got := fmt.Sprint(shipped(t, ap, logs)); got != want {
		t.Fatalf("after reopen shipped onward %s, want %s", got, want)
	}
	late := []*raft.Log{{Index: 6, Type: raft.LogCommand, Data: encodeDupStep(stepUnfollow, 0)},
		dupLog(7, 10, 400, DupEntry{SourceDecree: 10, Command: put("late", "z")}), dupLog(8, 10, 500)}
	ap.applyBatch(late)
	if got := shipped(t, ap, late); len(got) != 0 {
		t.Fatalf("entries ignored after the unfollow shipped onward: %v", got)
	}
	for _, l := range late[1:] {
		if _, atMs, _ := appliedMutations(l.Data, l.Index, ap.dupState()); atMs != 0 {
			t.Fatalf("entry %d ignored after the unfollow carries replicated time %d onward", l.Index, atMs)
		}
	}
	st.close()
	// A base taken of this partition (for the next cluster in the chain)
	// carries the records, which name this log's decrees: dropped there.
	if err := stampRestored(st.live(), st, &checkpoint.Manifest{ID: "b", Decree: 7, Foreign: true, SourceDecree: 7}); err != nil {
		t.Fatal(err)
	}
	ap, st = mustNewApplier(t, dir, sh)
	defer st.close()
	if s := ap.dupState().skips; s.from != 0 || len(s.records) != 0 {
		t.Fatalf("skip records after a foreign base: %+v", s)
	}
}

// The skip records are capped; a read from before the oldest kept one
// cannot be exact, and the log counts as gone from there.
func TestSkipRecordsCapped(t *testing.T) {
	var s skipLog
	for i := uint64(1); i <= maxSkipRecords+3; i++ {
		s = s.with([]skipRecord{{decree: 10 * i, src: i}})
	}
	if len(s.records) != maxSkipRecords || s.from != 31 || s.records[0].decree != 40 {
		t.Fatalf("capped log: from %d, %d records, first %+v", s.from, len(s.records), s.records[0])
	}
	d, err := decodeSkipLog(s.encode())
	if err != nil || d.from != s.from || len(d.records) != len(s.records) {
		t.Fatalf("round trip: %+v %v", d, err)
	}
	if r, ok := d.lookup(50); !ok || r.src != 5 {
		t.Fatalf("lookup 50: %+v %v", r, ok)
	}
	if _, ok := d.lookup(51); ok {
		t.Fatal("lookup of a decree without a record")
	}
	if _, err := decodeSkipLog([]byte{1, 2, 3}); err == nil {
		t.Fatal("malformed skip records accepted")
	}
}
