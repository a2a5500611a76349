package lincheck

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// DefaultBudget is the model steps porcupine may take per hash key before
// the check gives up on it (Unknown). Pruned histories of the robustness
// runs take about one step per operation (some 600 steps for a key of 580
// operations, a few milliseconds); a step costs a few microseconds, so the
// budget is seconds of CPU on an idle core and minutes on a loaded one,
// spent only when something is already wrong, and the verdict is the same
// either way.
const DefaultBudget = 1_000_000

// KeyResult is the check of one hash key's operations.
type KeyResult struct {
	HashKey string
	Ops     int
	Result  porcupine.CheckResult
	// Steps is how many model steps porcupine took.
	Steps int64
	Took  time.Duration
}

// Report is the check of a history, key by key.
type Report struct {
	Result porcupine.CheckResult
	Keys   []KeyResult
	Budget int64
	Took   time.Duration
}

// Check checks ops key by key, each with at most budget model steps (0:
// no limit). Porcupine's own timeout is not used: a wall-clock budget
// turns a busy machine into a different verdict, a step budget does not
// (the search is deterministic for a given history). A key whose search
// runs out of steps is Unknown, and so is the report unless a key is
// Illegal.
func Check(ops []porcupine.Operation, budget int64) Report {
	start := time.Now()
	rep := Report{Result: porcupine.Ok, Budget: budget}
	for _, keyOps := range partitionByHashKey(ops) {
		kr := checkKey(keyOps, budget)
		rep.Keys = append(rep.Keys, kr)
		switch {
		case kr.Result == porcupine.Illegal:
			rep.Result = porcupine.Illegal
		case kr.Result == porcupine.Unknown && rep.Result == porcupine.Ok:
			rep.Result = porcupine.Unknown
		}
	}
	rep.Took = time.Since(start)
	return rep
}

func checkKey(ops []porcupine.Operation, budget int64) KeyResult {
	kr := KeyResult{HashKey: ops[0].Input.(Input).HashKey, Ops: len(ops)}
	b := newBudget(budget)
	start := time.Now()
	kr.Result = porcupine.CheckOperationsTimeout(b.model(), ops, 0)
	kr.Took = time.Since(start)
	kr.Steps = b.steps(kr.HashKey)
	if b.exhausted(kr.HashKey) && kr.Result != porcupine.Ok {
		kr.Result = porcupine.Unknown
	}
	return kr
}

// Visualize checks ops (every key, with budget steps per key) keeping what
// porcupine needs to draw the history, and writes the drawing to path.
func Visualize(ops []porcupine.Operation, budget int64, path string) error {
	b := newBudget(budget)
	_, info := porcupine.CheckOperationsVerbose(b.model(), ops, 0)
	return porcupine.VisualizePath(hashKeyModel, info, path)
}

// budget counts model steps per hash key. Once a key has used its budget
// every further step of that key fails, so porcupine unwinds its search at
// once and ends Illegal; the counter tells that from a real violation.
type budget struct {
	limit int64
	mu    sync.Mutex
	used  map[string]*atomic.Int64
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, used: map[string]*atomic.Int64{}}
}

func (b *budget) counter(hashKey string) *atomic.Int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.used[hashKey]
	if c == nil {
		c = new(atomic.Int64)
		b.used[hashKey] = c
	}
	return c
}

func (b *budget) steps(hashKey string) int64 { return b.counter(hashKey).Load() }

func (b *budget) exhausted(hashKey string) bool {
	return b.limit > 0 && b.steps(hashKey) > b.limit
}

// model is hashKeyModel with every step counted against the budget.
func (b *budget) model() porcupine.Model {
	m := hashKeyModel
	m.Step = func(s, in, out interface{}) (bool, interface{}) {
		if n := b.counter(in.(Input).HashKey).Add(1); b.limit > 0 && n > b.limit {
			return false, s
		}
		return step(s, in, out)
	}
	return m
}

// Summary is the report in one line: the verdict, the operations checked,
// the time, and the hardest key.
func (r Report) Summary() string {
	ops := 0
	var hardest KeyResult
	for _, k := range r.Keys {
		ops += k.Ops
		if k.Steps >= hardest.Steps {
			hardest = k
		}
	}
	s := fmt.Sprintf("%s: %d keys, %d operations checked in %s", r.Result, len(r.Keys), ops, r.Took.Round(time.Millisecond))
	if hardest.HashKey != "" {
		s += fmt.Sprintf("; hardest key %s: %d operations, %d steps, %s", hardest.HashKey, hardest.Ops, hardest.Steps, hardest.Took.Round(time.Microsecond))
	}
	if r.Budget > 0 {
		s += fmt.Sprintf(" (budget %d steps per key)", r.Budget)
	}
	return s
}

// Failed lists the keys that did not check Ok, one line each.
func (r Report) Failed() []string {
	var out []string
	for _, k := range r.Keys {
		if k.Result == porcupine.Ok {
			continue
		}
		why := "a violation: no linearization exists"
		if k.Result == porcupine.Unknown {
			why = fmt.Sprintf("undecided: the search used its budget of %d steps (re-check the saved history offline without one)", r.Budget)
		}
		out = append(out, fmt.Sprintf("hash key %s (%d operations, %d steps, %s): %s", k.HashKey, k.Ops, k.Steps, k.Took.Round(time.Millisecond), why))
	}
	return out
}
