package robustness

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// never is the return time of a write whose outcome is unknown (it failed
// or timed out): porcupine then lets it take effect at any point after its
// call, or not at all.
const never = math.MaxInt64

// History collects the operations of concurrent clients with call and
// return times on one monotonic clock.
type History struct {
	start time.Time

	mu  sync.Mutex
	ops []porcupine.Operation
}

// NewHistory starts an empty history whose clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock, in nanoseconds since it started.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records a completed operation; an ambiguous write passes never as
// its return time.
func (h *History) Add(client int, in Input, out Output, call, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
}

// Operations returns a copy of the recorded operations.
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// recordKey names one record.
type recordKey struct{ hashKey, sortKey string }

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
func LostWrites(ops []porcupine.Operation, final map[recordKey]Output) []string {
	writes := map[recordKey][]write{}
	for _, op := range ops {
		in := op.Input.(Input)
		for i, sk := range in.SortKeys {
			k := recordKey{in.HashKey, sk}
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
		if w.ret != never && w.call > lastAckedCall {
			lastAckedCall = w.call
		}
	}
	if !out.Found && lastAckedCall < 0 {
		return true // never written, or only by writes that may not have happened
	}
	for _, w := range ws {
		matches := w.deleted != out.Found && (w.deleted || w.value == out.Value)
		if matches && lastAckedCall <= w.ret {
			return true
		}
	}
	return false
}

func describeLost(k recordKey, out Output, ws []write) string {
	got := "absent"
	if out.Found {
		got = out.Value
	}
	var newest write
	for _, w := range ws {
		if w.ret != never && w.call >= newest.call {
			newest = w
		}
	}
	want := newest.value
	if newest.deleted {
		want = "absent"
	}
	return fmt.Sprintf("%s/%s: final read %s; the latest acknowledged write (called at %s) left %s",
		k.hashKey, k.sortKey, got, time.Duration(newest.call), want)
}
