package client

import (
	"context"
	"fmt"
	"slices"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// batchRequest is one batch call's request, built from its operations,
// and the answer to it.
type batchRequest struct {
	write bool
	w     *tandempb.BatchWriteRequest
	g     *tandempb.BatchGetRequest
	at    []int // op i's index in the request's list of its kind
	wr    *tandempb.BatchWriteResponse
	gr    *tandempb.BatchGetResponse
}

// newBatchRequest builds the call of ops to partition p, BatchWrite when
// write is set, BatchGet otherwise.
func newBatchRequest(table string, p int, write bool, ops []*batchOp) *batchRequest {
	b := &batchRequest{write: write, at: make([]int, len(ops))}
	if write {
		b.w = &tandempb.BatchWriteRequest{Table: table, Partition: uint32(p)}
	} else {
		b.g = &tandempb.BatchGetRequest{Table: table, Partition: uint32(p)}
	}
	for i, op := range ops {
		switch {
		case op.get != nil:
			b.at[i], b.g.Gets = len(b.g.Gets), append(b.g.Gets, op.get)
		case op.multiGet != nil:
			b.at[i], b.g.MultiGets = len(b.g.MultiGets), append(b.g.MultiGets, op.multiGet)
		case op.scan != nil:
			b.at[i], b.g.Scans = len(b.g.Scans), append(b.g.Scans, op.scan)
		case op.write != nil:
			b.at[i], b.w.Writes = len(b.w.Writes), append(b.w.Writes, op.write)
		case op.multiSet != nil:
			b.at[i], b.w.MultiSets = len(b.w.MultiSets), append(b.w.MultiSets, op.multiSet)
		}
	}
	return b
}

// send makes one attempt of the call.
func (b *batchRequest) send(ctx context.Context, kv tandempb.KVClient) (err error) {
	if b.write {
		b.wr, err = kv.BatchWrite(ctx, b.w)
	} else {
		b.gr, err = kv.BatchGet(ctx, b.g)
	}
	return err
}

// checkCounts refuses an answer whose results do not match the request
// one for one. A server older than this client ignores the multi-gets,
// scans and multi-sets of a batch call and answers none for them; for a
// write call whatever it did apply is then unknown, so the call is
// ambiguous.
func (b *batchRequest) checkCounts() error {
	var got, want []int
	if b.write {
		got = []int{len(b.wr.GetResults()), len(b.wr.GetMultiSetResults())}
		want = []int{len(b.w.Writes), len(b.w.MultiSets)}
	} else {
		got = []int{len(b.gr.GetResults()), len(b.gr.GetMultiGetResults()), len(b.gr.GetScanResults())}
		want = []int{len(b.g.Gets), len(b.g.MultiGets), len(b.g.Scans)}
	}
	if slices.Equal(got, want) {
		return nil
	}
	err := fmt.Errorf("client: batch call answered %v results for %v operations (is the server older than this client?)", got, want)
	if b.write {
		return fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	return err
}

// answer hands op, the request's op number i, its result.
func (b *batchRequest) answer(i int, op *batchOp) {
	switch {
	case op.get != nil:
		op.res = b.gr.GetResults()[b.at[i]]
	case op.multiGet != nil:
		op.recs = b.gr.GetMultiGetResults()[b.at[i]]
	case op.scan != nil:
		op.recs = b.gr.GetScanResults()[b.at[i]]
	case op.write != nil:
		op.res = b.wr.GetResults()[b.at[i]]
	case op.multiSet != nil:
		op.res = b.wr.GetMultiSetResults()[b.at[i]]
	}
}
