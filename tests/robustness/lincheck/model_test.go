package lincheck

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, in Input, out Output, call, ret int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
}

func set(sk, v string) Input {
	return Input{Kind: OpSet, HashKey: "h", SortKeys: []string{sk}, Values: []string{v}}
}
func get(sk string) Input   { return Input{Kind: OpGet, HashKey: "h", SortKeys: []string{sk}} }
func del(sk string) Input   { return Input{Kind: OpDel, HashKey: "h", SortKeys: []string{sk}} }
func found(v string) Output { return Output{Value: v, Found: true} }

func TestModelChecksHistories(t *testing.T) {
	multi := Input{Kind: OpMultiSet, HashKey: "h", SortKeys: []string{"a", "b"}, Values: []string{"m1", "m2"}}
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"read after write", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(1, get("a"), found("1"), 20, 30)}, porcupine.Ok},
		{"stale read", []porcupine.Operation{
			op(0, set("a", "1"), Output{}, 0, 10), op(0, set("a", "2"), Output{}, 20, 30), op(1, get("a"), found("1"), 40, 50),
		}, porcupine.Illegal},
		{"read of a deleted record", []porcupine.Operation{
			op(0, set("a", "1"), Output{}, 0, 10), op(0, del("a"), Output{}, 20, 30), op(1, get("a"), found("1"), 40, 50),
		}, porcupine.Illegal},
		{"ambiguous write seen later", []porcupine.Operation{
			op(0, set("a", "1"), Output{}, 0, Never), op(1, get("a"), Output{}, 20, 30), op(1, get("a"), found("1"), 40, 50),
		}, porcupine.Ok},
		{"ambiguous write never seen", []porcupine.Operation{
			op(0, set("a", "1"), Output{}, 0, Never), op(1, get("a"), Output{}, 40, 50),
		}, porcupine.Ok},
		{"write applied twice", []porcupine.Operation{
			// c0's set of 1 is seen, overwritten by c2's acknowledged set
			// of 2, then seen again: only a second application explains it.
			op(0, set("a", "1"), Output{}, 0, 100), op(1, get("a"), found("1"), 10, 20),
			op(2, set("a", "2"), Output{}, 30, 40), op(1, get("a"), found("2"), 50, 60), op(1, get("a"), found("1"), 70, 80),
		}, porcupine.Illegal},
		{"multiset is atomic", []porcupine.Operation{
			op(0, multi, Output{}, 0, 100), op(1, get("a"), found("m1"), 10, 20), op(1, get("b"), Output{}, 30, 40),
		}, porcupine.Illegal},
		{"other hash keys are independent", []porcupine.Operation{
			op(0, set("a", "1"), Output{}, 0, 10), op(1, Input{Kind: OpGet, HashKey: "g", SortKeys: []string{"a"}}, Output{}, 20, 30),
		}, porcupine.Ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(hashKeyModel, c.ops, 0); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestLostWritesFindsOverwrittenAcknowledgedWrites(t *testing.T) {
	a := RecordKey{"h", "a"}
	cases := []struct {
		name  string
		ops   []porcupine.Operation
		final Output
		lost  bool
	}{
		{"latest acknowledged write kept", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(0, set("a", "2"), Output{}, 20, 30)}, found("2"), false},
		{"older write came back", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(0, set("a", "2"), Output{}, 20, 30)}, found("1"), true},
		{"acknowledged write missing", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10)}, Output{}, true},
		{"concurrent writes either wins", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 30), op(1, set("a", "2"), Output{}, 10, 20)}, found("1"), false},
		{"ambiguous write may win", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(1, set("a", "2"), Output{}, 20, Never)}, found("2"), false},
		{"ambiguous write may be lost", []porcupine.Operation{op(1, set("a", "2"), Output{}, 20, Never)}, Output{}, false},
		{"deleted", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(0, del("a"), Output{}, 20, 30)}, Output{}, false},
		{"delete lost", []porcupine.Operation{op(0, set("a", "1"), Output{}, 0, 10), op(0, del("a"), Output{}, 20, 30)}, found("1"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lost := LostWrites(c.ops, map[RecordKey]Output{a: c.final})
			if (len(lost) > 0) != c.lost {
				t.Fatalf("lost = %v, want lost: %v", lost, c.lost)
			}
		})
	}
}
