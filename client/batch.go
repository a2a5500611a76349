package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Concurrent data operations on one partition share gRPC calls: Gets,
// MultiGets and scans share BatchGet calls, Sets, Dels and MultiSets share
// BatchWrite calls. Each partition has a queue per kind (reads, writes);
// when no call of a queue is out, a call leaves at once with everything
// queued, so a lone caller waits for nobody and many callers share one
// call, one read barrier or one raft entry. On a small machine the cost of
// a call and of a raft entry (a synced log write on every replica, a
// message each way), not of a record, bounds the rate: with 64 writers on 8
// partitions, one call out per queue served 1.5x the writes of two calls
// out (bigger entries), and reads 1.6x (tools/bench/cluster-bench.sh,
// BENCHMARKS.md). A MultiSet stays atomic in a shared call: the server
// writes all of it or refuses all of it, in the call's one raft entry.

const (
	// defaultBatchOps is the default Config.BatchOps.
	defaultBatchOps = 128
	// maxBatchBytes bounds the keys and values of one batched call; a
	// larger operation goes alone.
	maxBatchBytes = 1 << 20
	// maxBatchKeys bounds the keys one batched call reads or writes, the
	// server's limit; a larger operation goes alone (and is refused).
	maxBatchKeys = 10000
	// maxBatchInflight is how many batched calls one queue keeps out;
	// everything arriving meanwhile goes into the next one.
	maxBatchInflight = 1
)

// Operation states: queued ops may still be abandoned by their caller;
// once taken into a call they are sent.
const (
	opQueued int32 = iota
	opSent
	opAbandoned
)

// batchOp is one operation waiting in a queue. Exactly one of get, write,
// multiGet, multiSet and scan is set; the answer is res for the first two
// and multiSet, recs for multiGet and scan.
type batchOp struct {
	get      *tandempb.GetRequest
	write    *tandempb.BatchWrite
	multiGet *tandempb.MultiGetRequest
	multiSet *tandempb.MultiSetRequest
	scan     *tandempb.ScanRequest
	size     int // bytes of keys and values sent
	keys     int // keys read or written
	deadline time.Time

	state atomic.Int32
	call  atomic.Pointer[batchCall] // set when the op is taken into a call
	done  chan struct{}
	res   *tandempb.BatchOpResult
	recs  *tandempb.RecordsResult
	err   error
}

// isWrite reports whether op goes in a BatchWrite call.
func (op *batchOp) isWrite() bool { return op.write != nil || op.multiSet != nil }

// status is the code and message of op's answer.
func (op *batchOp) status() (codes.Code, string) {
	if op.recs != nil {
		return codes.Code(op.recs.GetCode()), op.recs.GetMessage()
	}
	return codes.Code(op.res.GetCode()), op.res.GetMessage()
}

// batchCall is one shared call; it keeps the latest error of its
// attempts, so a caller whose deadline passes while the call is still
// retrying can say why.
type batchCall struct {
	last atomic.Pointer[error]
}

// lastErr returns the latest attempt's error, or nil.
func (c *batchCall) lastErr() error {
	if c == nil {
		return nil
	}
	if e := c.last.Load(); e != nil {
		return *e
	}
	return nil
}

// batchQueue holds one partition's queued operations of one kind.
type batchQueue struct {
	write bool

	mu       sync.Mutex
	ops      []*batchOp
	inflight int
}

// tableBatches holds a table's queues, shared by every handle on it.
type tableBatches struct {
	mu     sync.Mutex
	queues map[int]*batchQueue // key: partition*2 + 1 for writes
}

func (b *tableBatches) queue(p int, write bool) *batchQueue {
	k := p * 2
	if write {
		k++
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q, ok := b.queues[k]
	if !ok {
		q = &batchQueue{write: write}
		b.queues[k] = q
	}
	return q
}

// batched runs op on partition p, in a call shared with whatever else is
// queued for it, and leaves op's own answer in op.
func (t *Table) batched(ctx context.Context, p int, op *batchOp) error {
	ctx, cancel := withDefaultTimeout(ctx, t.c.cfg.RequestTimeout)
	defer cancel()
	op.deadline, _ = ctx.Deadline()
	op.done = make(chan struct{})
	if t.c.cfg.batchOps() == 1 { // no sharing: a call of its own, at once
		op.state.Store(opSent)
		t.sendBatch(nil, op.isWrite(), p, []*batchOp{op}, &batchCall{})
		return op.err
	}
	q := t.batches.queue(p, op.isWrite())
	q.mu.Lock()
	q.ops = append(q.ops, op)
	start := q.inflight < maxBatchInflight
	if start {
		q.inflight++
	}
	q.mu.Unlock()
	if start {
		go t.sendBatches(q, p)
	}
	select {
	case <-op.done:
		return op.err
	case <-ctx.Done():
	}
	if op.state.CompareAndSwap(opQueued, opAbandoned) {
		return giveUp(ctx, nil, ErrTableNotFound) // never sent
	}
	select {
	case <-op.done: // finished meanwhile
		return op.err
	default:
	}
	err := giveUp(ctx, op.call.Load().lastErr(), ErrTableNotFound)
	if op.isWrite() { // sent: it may yet apply
		return fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	return err
}

// sendBatches sends q's queued operations until none are left.
func (t *Table) sendBatches(q *batchQueue, p int) {
	for {
		ops, call := q.take(t.c.cfg.batchOps())
		if ops == nil {
			return
		}
		t.sendBatch(q, q.write, p, ops, call)
	}
}

// take removes the next call's worth of operations, skipping abandoned
// ones, or releases q's in-flight slot when nothing is queued.
func (q *batchQueue) take(maxOps int) ([]*batchOp, *batchCall) {
	q.mu.Lock()
	defer q.mu.Unlock()
	call := &batchCall{}
	var ops []*batchOp
	size, keys, n := 0, 0, 0
	for ; n < len(q.ops) && len(ops) < maxOps; n++ {
		op := q.ops[n]
		if len(ops) > 0 && (size+op.size > maxBatchBytes || keys+op.keys > maxBatchKeys) {
			break
		}
		op.call.Store(call)
		if op.state.CompareAndSwap(opQueued, opSent) {
			ops = append(ops, op)
			size += op.size
			keys += op.keys
		}
	}
	q.ops = q.ops[n:]
	if len(q.ops) == 0 {
		q.ops = nil // let the backing array go
	}
	if len(ops) == 0 {
		q.inflight--
		return nil, nil
	}
	return ops, call
}

// requeue puts reads the server left undone (its reply was full) back at
// the head of q; the queue's sender takes them into its next call, where
// the first of them is sure to be read.
func (q *batchQueue) requeue(ops []*batchOp) {
	for _, op := range ops {
		op.res, op.recs = nil, nil
		op.state.Store(opQueued)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ops = append(ops, q.ops...)
}

// sendBatch makes one call for ops, with the retries of any single call,
// and hands every op its answer; reads the server left undone go back to
// q (nil when ops were not queued).
func (t *Table) sendBatch(q *batchQueue, write bool, p int, ops []*batchOp, call *batchCall) {
	var deadline time.Time
	for _, op := range ops {
		if op.deadline.After(deadline) {
			deadline = op.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	req := newBatchRequest(t.name, p, write, ops)
	err := t.call(ctx, p, write, func(ctx context.Context, kv tandempb.KVClient) error {
		err := req.send(ctx, kv)
		if err != nil {
			call.last.Store(&err)
		}
		return err
	})
	if err == nil {
		err = req.checkCounts()
	}
	var undone []*batchOp
	for i, op := range ops {
		if err != nil {
			op.err = err
		} else if req.answer(i, op); !op.finish(q != nil) {
			undone = append(undone, op)
			continue
		}
		close(op.done)
	}
	if len(undone) > 0 {
		q.requeue(undone)
	}
}

// finish turns op's answer into its error, if any, and reports whether op
// is finished: a read the server left undone (ResourceExhausted: its reply
// was full) is not when it can be queued again before its deadline.
func (op *batchOp) finish(requeue bool) bool {
	code, msg := op.status()
	switch {
	case code == codes.OK:
		return true
	case code == codes.ResourceExhausted && !op.isWrite() && requeue:
		if time.Now().Before(op.deadline) {
			return false
		}
		op.res, op.recs = nil, nil
		op.err = fmt.Errorf("%w: %w: %s", ErrUnavailable, context.DeadlineExceeded, msg)
		return true
	}
	op.res, op.recs = nil, nil
	op.err = mapError(status.Error(code, msg), ErrTableNotFound)
	return true
}
