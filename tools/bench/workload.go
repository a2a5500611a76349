package main

import (
	"context"
	"math/rand"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sortKey is the one sort key of every single-record op's record.
var sortKey = []byte("s")

// opKind is one operation a worker issues.
type opKind int

const (
	kindGet opKind = iota
	kindSet
	kindReadRecord  // every field of a record
	kindUpdateField // one field of a record
	kindWriteRecord // every field of a record, atomically
)

// isRead reports whether k reads.
func (k opKind) isRead() bool { return k == kindGet || k == kindReadRecord }

// fieldNames returns the sort keys of a record's n fields, field0 to
// field(n-1), as YCSB names them.
func fieldNames(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte("field" + strconv.Itoa(i))
	}
	return out
}

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

// sequentialPicker hands out 0, 1, ... keys-1 once each across every
// worker sharing next, then -1: the load phase and --preload.
func sequentialPicker(next *atomic.Int64, keys int) keyPicker {
	return func() int {
		if i := next.Add(1) - 1; i < int64(keys) {
			return int(i)
		}
		return -1
	}
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
	fields    [][]byte // a record's field names
	values    [][]byte // a record's field values, one slice of value each
	key       []byte
	errs      *errorLog
	stats     *stats
	opTimeout time.Duration
}

// newWorker returns worker number id of the run.
func newWorker(store kvStore, o options, id int, errs *errorLog) *worker {
	r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(id)*7919))
	fields := 1
	if recordOps[o.op] {
		fields = o.fields
	}
	value := make([]byte, o.valueSize*fields)
	r.Read(value)
	values := make([][]byte, fields)
	for i := range values {
		values[i] = value[i*o.valueSize : (i+1)*o.valueSize]
	}
	return &worker{store: store, o: o, rng: r, pick: newKeyPicker(o, r), value: values[0],
		fields: fieldNames(fields), values: values, errs: errs, stats: newStats(), opTimeout: o.timeout}
}

// nextKind picks the next operation.
func (w *worker) nextKind() opKind {
	switch w.o.op {
	case opGet:
		return kindGet
	case opSet:
		return kindSet
	case opReadRecord:
		return kindReadRecord
	case opUpdateField:
		return kindUpdateField
	case opLoad, opUpdateRecord:
		return kindWriteRecord
	case opRecordMix:
		if w.rng.Float64() < w.o.readRatio {
			return kindReadRecord
		}
		return kindUpdateField
	}
	if w.rng.Float64() < w.o.readRatio {
		return kindGet
	}
	return kindSet
}

// insertKind is the op that writes a whole record of o's shape: the
// load phase and --preload.
func insertKind(o options) opKind {
	if recordOps[o.op] {
		return kindWriteRecord
	}
	return kindSet
}

// do issues one operation on key index i and returns its error; a get of
// an absent record reports notFound without an error.
func (w *worker) do(ctx context.Context, k opKind, i int) (notFound bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.opTimeout)
	defer cancel()
	w.key = hashKey(w.key, i)
	var found bool
	switch k {
	case kindSet:
		return false, w.store.Set(ctx, w.key, w.value)
	case kindUpdateField:
		f := w.rng.Intn(len(w.fields))
		return false, w.store.UpdateField(ctx, w.key, w.fields[f], w.values[f])
	case kindWriteRecord:
		return false, w.store.WriteRecord(ctx, w.key, w.fields, w.values)
	case kindReadRecord:
		found, err = w.store.ReadRecord(ctx, w.key, w.fields)
	default:
		found, err = w.store.Get(ctx, w.key)
	}
	return err == nil && !found, err
}

// run issues ops until ctx ends or the budget runs out. An op cut short by
// the end of the run is neither an op nor an error.
func (w *worker) run(ctx context.Context, budget *opBudget) {
	for !ended(ctx) && budget.take() {
		k := w.nextKind()
		i := w.pick()
		if i < 0 {
			return
		}
		start := time.Now()
		notFound, err := w.do(ctx, k, i)
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
