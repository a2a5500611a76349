package lincheck

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// RecordKey names one record.
type RecordKey struct{ HashKey, SortKey string }

// write is one write's effect on one record.
type write struct {
	call, ret int64
	deleted   bool
	value     string
}

// LostWrites checks final reads (taken after every fault healed and the
// load stopped) against the writes in ops: a final value must come from a
// write (or be absent through a delete or no write at all) that no
// acknowledged write of the same record started after it returned. Each
// violation is a lost acknowledged write; it returns their descriptions.
func LostWrites(ops []porcupine.Operation, final map[RecordKey]Output) []string {
	writes := map[RecordKey][]write{}
	for _, op := range ops {
		in := op.Input.(Input)
		for i, sk := range in.SortKeys {
			k := RecordKey{in.HashKey, sk}
			switch in.Kind {
			case OpSet, OpMultiSet:
				writes[k] = append(writes[k], write{call: op.Call, ret: op.Return, value: in.Values[i]})
			case OpDel:
				writes[k] = append(writes[k], write{call: op.Call, ret: op.Return, deleted: true})
			}
		}
	}
	var lost []string
	for k, out := range final {
		if !explained(writes[k], out) {
			lost = append(lost, describeLost(k, out, writes[k]))
		}
	}
	sort.Strings(lost)
	return lost
}

// explained reports whether out can be the record's final state.
func explained(ws []write, out Output) bool {
	var lastAckedCall int64 = -1 // the latest call of an acknowledged write
	for _, w := range ws {
		if w.ret != Never && w.call > lastAckedCall {
			lastAckedCall = w.call
		}
	}
	if !out.Found && lastAckedCall < 0 {
		return true // Never written, or only by writes that may not have happened
	}
	for _, w := range ws {
		matches := w.deleted != out.Found && (w.deleted || w.value == out.Value)
		if matches && lastAckedCall <= w.ret {
			return true
		}
	}
	return false
}

func describeLost(k RecordKey, out Output, ws []write) string {
	got := "absent"
	if out.Found {
		got = out.Value
	}
	var newest write
	for _, w := range ws {
		if w.ret != Never && w.call >= newest.call {
			newest = w
		}
	}
	want := newest.value
	if newest.deleted {
		want = "absent"
	}
	return fmt.Sprintf("%s/%s: final read %s; the latest acknowledged write (called at %s) left %s",
		k.HashKey, k.SortKey, got, time.Duration(newest.call), want)
}

// RefusedWritesSeen returns the successful reads that returned a value only
// a refused write wrote: the SDK said that write had no effect, yet it
// applied. Values are unique per write, so a match is proof.
func RefusedWritesSeen(records []Record) []string {
	refused := map[RecordKey]map[string]Record{}
	written := map[RecordKey]map[string]bool{}
	for _, r := range records {
		in := r.Input
		if in.Kind != OpSet && in.Kind != OpMultiSet {
			continue
		}
		for i, sk := range in.SortKeys {
			k := RecordKey{in.HashKey, sk}
			if r.Outcome == Refused {
				if refused[k] == nil {
					refused[k] = map[string]Record{}
				}
				refused[k][in.Values[i]] = r
			} else {
				if written[k] == nil {
					written[k] = map[string]bool{}
				}
				written[k][in.Values[i]] = true
			}
		}
	}
	var seen []string
	for _, r := range records {
		if r.Input.Kind != OpGet || r.Outcome != Acked || !r.Output.Found {
			continue
		}
		k := RecordKey{r.Input.HashKey, r.Input.SortKeys[0]}
		if w, ok := refused[k][r.Output.Value]; ok && !written[k][r.Output.Value] {
			seen = append(seen, fmt.Sprintf("%s/%s: read at %s returned %s, written by client %d's %s at %s, which failed with %q (not ambiguous)",
				k.HashKey, k.SortKey, time.Duration(r.Call), r.Output.Value, w.Client, w.Input.Kind, time.Duration(w.Call), w.Error))
		}
	}
	sort.Strings(seen)
	return seen
}
