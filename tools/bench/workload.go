package main

import (
	"context"
	"math/rand"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sortKey is the one sort key of every benchmark record.
var sortKey = []byte("s")

// opKind is one operation a worker issues.
type opKind int

const (
	kindGet opKind = iota
	kindSet
)

// keyPicker draws key indexes in [0, keys) from a distribution.
type keyPicker func() int

// newKeyPicker returns a picker for o's distribution drawing from r.
func newKeyPicker(o options, r *rand.Rand) keyPicker {
	if o.dist == distZipfian {
		z := rand.NewZipf(r, o.zipfS, 1, uint64(o.keys-1))
		return func() int { return int(z.Uint64()) }
	}
	return func() int { return r.Intn(o.keys) }
}

// hashKey appends the hash key of key index i to buf: "k" + i, so that
// keys spread over the partitions.
func hashKey(buf []byte, i int) []byte {
	return strconv.AppendInt(append(buf[:0], 'k'), int64(i), 10)
}

// opBudget hands out the --ops limit to the workers; unlimited when zero.
type opBudget struct {
	limit int64
	taken atomic.Int64
}

// take reports whether one more op may start.
func (b *opBudget) take() bool {
	return b.limit <= 0 || b.taken.Add(1) <= b.limit
}

// errorLog counts errors and keeps the first few distinct messages.
type errorLog struct {
	mu     sync.Mutex
	total  int64
	counts map[string]int64
	order  []string
}

// maxDistinctErrors is how many distinct error messages are kept.
const maxDistinctErrors = 5

// add counts err.
func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	msg := err.Error()
	if _, ok := l.counts[msg]; ok || len(l.order) < maxDistinctErrors {
		if l.counts == nil {
			l.counts = map[string]int64{}
		}
		if !ok {
			l.order = append(l.order, msg)
		}
		l.counts[msg]++
	}
}

// worker is one closed-loop client: one op in flight at a time.
type worker struct {
	store     kvStore
	o         options
	rng       *rand.Rand
	pick      keyPicker
	value     []byte
	key       []byte
	errs      *errorLog
	stats     *stats
	opTimeout time.Duration
}

// newWorker returns worker number id of the run.
func newWorker(store kvStore, o options, id int, errs *errorLog) *worker {
	r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(id)*7919))
	value := make([]byte, o.valueSize)
	r.Read(value)
	return &worker{store: store, o: o, rng: r, pick: newKeyPicker(o, r), value: value,
		errs: errs, stats: newStats(), opTimeout: o.timeout}
}

// nextKind picks the next operation.
func (w *worker) nextKind() opKind {
	switch w.o.op {
	case opGet:
		return kindGet
	case opSet:
		return kindSet
	}
	if w.rng.Float64() < w.o.readRatio {
		return kindGet
	}
	return kindSet
}

// do issues one operation on key index i and returns its error; a get of
// an absent record reports notFound without an error.
func (w *worker) do(ctx context.Context, k opKind, i int) (notFound bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.opTimeout)
	defer cancel()
	w.key = hashKey(w.key, i)
	if k == kindSet {
		return false, w.store.Set(ctx, w.key, w.value)
	}
	found, err := w.store.Get(ctx, w.key)
	return err == nil && !found, err
}

// run issues ops until ctx ends or the budget runs out. An op cut short by
// the end of the run is neither an op nor an error.
func (w *worker) run(ctx context.Context, budget *opBudget) {
	for !ended(ctx) && budget.take() {
		k := w.nextKind()
		start := time.Now()
		notFound, err := w.do(ctx, k, w.pick())
		lat := time.Since(start)
		switch {
		case err != nil && ended(ctx):
			return
		case err != nil:
			w.stats.errors++
			w.errs.add(err)
		default:
			w.stats.record(k, lat, notFound)
		}
	}
}

// ended reports whether ctx is done or past its deadline. The deadline is
// checked too because an op's own context, derived from ctx, may expire a
// moment before ctx reports it.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
