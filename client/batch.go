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

// Concurrent single-record calls (Get, Set, Del) to one partition share
// gRPC calls: each partition has a queue per kind (reads, writes); when no
// call of a queue is out, a call leaves at once with everything queued, so
// a lone caller waits for nobody and many callers share one call, one read
// barrier or one raft entry. On a small machine the cost of a call and of a
// raft entry (a synced log write on every replica, a message each way), not
// of a record, bounds the rate: with 64 writers on 8 partitions, one call
// out per queue served 1.5x the writes of two calls out (bigger entries),
// and reads 1.6x (tools/bench/cluster-bench.sh, BENCHMARKS.md).

const (
	// defaultBatchOps is the default Config.BatchOps.
	defaultBatchOps = 128
	// maxBatchBytes bounds the keys and values of one batched call; a
	// larger operation goes alone.
	maxBatchBytes = 1 << 20
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

// batchOp is one single-record operation waiting in a queue. Exactly one
// of get and write is set.
type batchOp struct {
	get      *tandempb.GetRequest
	write    *tandempb.BatchWrite
	size     int
	deadline time.Time

	state atomic.Int32
	call  atomic.Pointer[batchCall] // set when the op is taken into a call
	done  chan struct{}
	res   *tandempb.BatchOpResult
	err   error
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
// queued for it, and returns op's own result.
func (t *Table) batched(ctx context.Context, p int, op *batchOp) (*tandempb.BatchOpResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, t.c.cfg.RequestTimeout)
	defer cancel()
	op.deadline, _ = ctx.Deadline()
	op.done = make(chan struct{})
	if t.c.cfg.batchOps() == 1 { // no sharing: a call of its own, at once
		op.state.Store(opSent)
		t.sendBatch(op.write != nil, p, []*batchOp{op}, &batchCall{})
		return op.res, op.err
	}
	q := t.batches.queue(p, op.write != nil)
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
		return op.res, op.err
	case <-ctx.Done():
	}
	if op.state.CompareAndSwap(opQueued, opAbandoned) {
		return nil, giveUp(ctx, nil, ErrTableNotFound) // never sent
	}
	select {
	case <-op.done: // finished meanwhile
		return op.res, op.err
	default:
	}
	err := giveUp(ctx, op.call.Load().lastErr(), ErrTableNotFound)
	if op.write != nil { // sent: it may yet apply
		return nil, fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	return nil, err
}

// sendBatches sends q's queued operations until none are left.
func (t *Table) sendBatches(q *batchQueue, p int) {
	for {
		ops, call := q.take(t.c.cfg.batchOps())
		if ops == nil {
			return
		}
		t.sendBatch(q.write, p, ops, call)
	}
}

// take removes the next call's worth of operations, skipping abandoned
// ones, or releases q's in-flight slot when nothing is queued.
func (q *batchQueue) take(maxOps int) ([]*batchOp, *batchCall) {
	q.mu.Lock()
	defer q.mu.Unlock()
	call := &batchCall{}
	var ops []*batchOp
	size, n := 0, 0
	for ; n < len(q.ops) && len(ops) < maxOps; n++ {
		op := q.ops[n]
		if len(ops) > 0 && size+op.size > maxBatchBytes {
			break
		}
		op.call.Store(call)
		if op.state.CompareAndSwap(opQueued, opSent) {
			ops = append(ops, op)
			size += op.size
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

// sendBatch makes one call for ops, with the retries of any single call,
// and hands every op its result.
func (t *Table) sendBatch(write bool, p int, ops []*batchOp, call *batchCall) {
	var deadline time.Time
	for _, op := range ops {
		if op.deadline.After(deadline) {
			deadline = op.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	wreq := &tandempb.BatchWriteRequest{Table: t.name, Partition: uint32(p)}
	greq := &tandempb.BatchGetRequest{Table: t.name, Partition: uint32(p)}
	for _, op := range ops {
		if write {
			wreq.Writes = append(wreq.Writes, op.write)
		} else {
			greq.Gets = append(greq.Gets, op.get)
		}
	}
	var results []*tandempb.BatchOpResult
	err := t.call(ctx, p, write, func(ctx context.Context, kv tandempb.KVClient) error {
		var err error
		if write {
			var resp *tandempb.BatchWriteResponse
			if resp, err = kv.BatchWrite(ctx, wreq); err == nil {
				results = resp.GetResults()
			}
		} else {
			var resp *tandempb.BatchGetResponse
			if resp, err = kv.BatchGet(ctx, greq); err == nil {
				results = resp.GetResults()
			}
		}
		if err != nil {
			call.last.Store(&err)
		}
		return err
	})
	if err == nil && len(results) != len(ops) {
		err = fmt.Errorf("client: batch call answered %d results for %d operations", len(results), len(ops))
		if write {
			err = fmt.Errorf("%w: %w", ErrAmbiguous, err)
		}
	}
	for i, op := range ops {
		switch {
		case err != nil:
			op.err = err
		case results[i].GetCode() != uint32(codes.OK):
			op.err = mapError(status.Error(codes.Code(results[i].GetCode()), results[i].GetMessage()), ErrTableNotFound)
		default:
			op.res = results[i]
		}
		close(op.done)
	}
}
