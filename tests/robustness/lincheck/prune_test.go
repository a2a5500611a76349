package lincheck

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

// faultHistory is the shape that made the unpruned check run out of time:
// an acknowledged set of v0, then pending ambiguous sets of a (writes that
// failed during a fault and never applied), then reads that keep seeing v0.
// Before each read porcupine tries every subset of the pending writes.
func faultHistory(pending, reads int) []porcupine.Operation {
	ops := []porcupine.Operation{op(0, set("a", "v0"), Output{}, 0, 10)}
	for i := range pending {
		ops = append(ops, op(1+i, set("a", fmt.Sprintf("x%d", i)), Output{}, int64(20+i), Never))
	}
	for j := range reads {
		t := int64(100 + 10*j)
		ops = append(ops, op(0, get("a"), found("v0"), t, t+5))
	}
	return ops
}

// Pruning makes a history that exhausts a step budget check in a handful
// of steps, with the verdict it must have (Ok).
func TestPruneTurnsAnUndecidedHistoryIntoAQuickOk(t *testing.T) {
	const budget = 20_000 // the unpruned search takes some 85,000 steps
	ops := faultHistory(10, 3)
	full := Check(ops, budget)
	if full.Result != porcupine.Unknown {
		t.Fatalf("unpruned: %s after %d steps, want Unknown (the budget of %d used up)", full.Result, full.Keys[0].Steps, budget)
	}
	pruned, dropped := Prune(ops)
	if dropped != 10 {
		t.Fatalf("pruned %d operations, want the 10 unread ambiguous sets", dropped)
	}
	rep := Check(pruned, budget)
	if rep.Result != porcupine.Ok || rep.Keys[0].Steps > 100 {
		t.Fatalf("pruned: %s after %d steps, want Ok in at most 100", rep.Result, rep.Keys[0].Steps)
	}
	if got := Check(ops, 0); got.Result != porcupine.Ok {
		t.Fatalf("unpruned without a budget: %s, want Ok", got.Result)
	}
}

// On a crafted violation (a stale read after an acknowledged overwrite)
// the pruned history keeps the verdict: Illegal, pruned or not.
func TestPruneKeepsAViolation(t *testing.T) {
	ops := faultHistory(6, 2)
	ops = append(ops,
		op(2, set("a", "v1"), Output{}, 200, 210),
		op(0, get("a"), found("v0"), 220, 230), // stale: v1 was acknowledged before
	)
	if got := Check(ops, 0); got.Result != porcupine.Illegal {
		t.Fatalf("unpruned: %s, want Illegal", got.Result)
	}
	pruned, _ := Prune(ops)
	if got := Check(pruned, 0); got.Result != porcupine.Illegal {
		t.Fatalf("pruned: %s, want Illegal", got.Result)
	}
}

// Prune keeps every ambiguous write a read could be explained by, every
// ambiguous delete, and every acknowledged write.
func TestPruneKeepsWhatReadsCanSee(t *testing.T) {
	multi := Input{Kind: OpMultiSet, HashKey: "h", SortKeys: []string{"a", "b"}, Values: []string{"m1", "m2"}}
	ops := []porcupine.Operation{
		op(0, set("a", "seen"), Output{}, 0, Never),
		op(1, multi, Output{}, 0, Never),              // m2 is read below
		op(2, set("a", "unseen"), Output{}, 0, Never), // the only one dropped
		op(3, del("a"), Output{}, 0, Never),           // deletes stay
		op(4, set("a", "acked"), Output{}, 0, 10),     // acknowledged writes stay
		op(5, get("a"), found("seen"), 20, 30),
		op(5, get("b"), found("m2"), 40, 50),
		op(6, set("a", "x"), Output{}, 60, 70),
		op(6, Input{Kind: OpGet, HashKey: "g", SortKeys: []string{"a"}}, found("unseen"), 80, 90), // another hash key
	}
	pruned, dropped := Prune(ops)
	if dropped != 1 {
		t.Fatalf("dropped %d, want 1", dropped)
	}
	for _, p := range pruned {
		if in := p.Input.(Input); in.Kind == OpSet && in.Values[0] == "unseen" {
			t.Fatal("kept the ambiguous set nobody read")
		}
	}
}

// A saved history loads back as it was, and the same checks give the same
// answers.
func TestSaveLoadRoundTrip(t *testing.T) {
	recs := []Record{
		{Client: 0, Input: set("a", "1"), Call: 0, Return: 10, Outcome: Acked},
		{Client: 1, Input: set("a", "2"), Call: 5, Return: 40, Outcome: Ambiguous, Error: "client: write outcome unknown"},
		{Client: 2, Input: set("a", "3"), Call: 6, Return: 8, Outcome: Refused, Error: "client: unavailable"},
		{Client: 3, Input: get("a"), Call: 50, Return: 60, Outcome: FailedRead},
		{Client: 4, Input: get("a"), Output: found("2"), Call: 70, Return: 80, Outcome: Acked, Final: true},
	}
	path := filepath.Join(t.TempDir(), "history.json")
	if err := Save(path, File{Run: "test", Records: recs}); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.Records) != fmt.Sprint(recs) || f.Run != "test" {
		t.Fatalf("loaded %+v, want %+v", f.Records, recs)
	}
	ops := Operations(f.Records)
	if len(ops) != 3 || ops[1].Return != Never {
		t.Fatalf("operations %+v: want the acked set, the ambiguous set returning Never, the final read", ops)
	}
	if got := Check(ops, 0).Result; got != porcupine.Ok {
		t.Fatalf("check: %s", got)
	}
	if lost := LostWrites(ops, FinalReads(f.Records)); len(lost) != 0 {
		t.Fatalf("lost writes: %v", lost)
	}
}

// A read of a value only a refused write wrote means the SDK's "not
// applied" was wrong: the check fails and says so.
func TestRefusedWriteThatAppliedIsFound(t *testing.T) {
	recs := []Record{
		{Client: 0, Input: set("a", "1"), Call: 0, Return: 10, Outcome: Acked},
		{Client: 1, Input: set("a", "2"), Call: 20, Return: 30, Outcome: Refused, Error: "client: unavailable"},
		{Client: 2, Input: get("a"), Output: found("2"), Call: 40, Return: 50, Outcome: Acked},
	}
	if seen := RefusedWritesSeen(recs); len(seen) != 1 {
		t.Fatalf("RefusedWritesSeen = %v, want one", seen)
	}
	if got := Check(Operations(recs), 0).Result; got != porcupine.Illegal {
		t.Fatalf("check: %s, want Illegal (the refused write is left out)", got)
	}
}

// A failed check can be drawn, with the budget in force.
func TestVisualizeWritesTheDrawing(t *testing.T) {
	ops := []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(0, set("a", "2"), Output{}, 20, 30), op(1, get("a"), found("1"), 40, 50)}
	path := filepath.Join(t.TempDir(), "history.html")
	if err := Visualize(ops, DefaultBudget, path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("drawing: %v, %v", fi, err)
	}
}
