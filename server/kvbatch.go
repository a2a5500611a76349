package server

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// Batch calls carry many operations of one partition, so a gRPC call, a
// read barrier or a raft entry serves them all: single-record gets and
// writes, MultiGets, scans and MultiSets. An operation that is invalid on
// its own is refused in its result, a MultiSet as a whole (none of it is
// written); everything that concerns the whole call (unknown table, not
// the leader, replication) is the call's error, exactly as for the
// single-operation calls. A call carries at most maxBatchKeys operations
// and maxBatchKeys keys in all, so a raft entry never holds more mutations
// than one MultiSet may.

// maxBatchReplyBytes is a batch read's reply budget (keys and values read).
// Once a reply is over it, the call's remaining reads are not done: each
// is answered ResourceExhausted and the SDK sends it again, so a call of
// many large records never outgrows a client's message limit (64 MiB in
// the SDK). The first read of a call is always done.
const maxBatchReplyBytes = 32 << 20

// checkBatchSize refuses an empty or oversized batch: ops operations
// carrying keys keys in all.
func checkBatchSize(what string, ops, keys int) error {
	if ops == 0 || ops > maxBatchKeys || keys > maxBatchKeys {
		return toStatus(fmt.Errorf("%w: %s needs 1 to %d operations of at most %d keys in all, got %d operations of %d keys",
			ErrInvalidArgument, what, maxBatchKeys, maxBatchKeys, ops, keys))
	}
	return nil
}

// checkBatchKey checks one operation's key and that it belongs to the
// partition the batch was sent to.
func (n *Node) checkBatchKey(t *TableMeta, partition uint32, hashKey, sortKey []byte) error {
	if err := n.checkKey(hashKey, sortKey); err != nil {
		return err
	}
	return checkPartitionOf(t, partition, hashKey)
}

// checkPartitionOf refuses a hash key of another partition than the call's.
func checkPartitionOf(t *TableMeta, partition uint32, hashKey []byte) error {
	if p := tpb.PartitionOf(hashKey, t.Partitions); p != partition {
		return fmt.Errorf("%w: hash key belongs to partition %d, not %d", ErrInvalidArgument, p, partition)
	}
	return nil
}

// opRefused is the result of an operation refused on its own.
func opRefused(err error) *tpb.BatchOpResult {
	st := status.Convert(toStatus(err))
	return &tpb.BatchOpResult{Code: uint32(st.Code()), Message: st.Message()}
}

// recordsRefused is opRefused for a multi-get or scan.
func recordsRefused(err error) *tpb.RecordsResult {
	st := status.Convert(toStatus(err))
	return &tpb.RecordsResult{Code: uint32(st.Code()), Message: st.Message()}
}

// notRead is the message of a read left undone because the reply is full.
var notRead = fmt.Sprintf("not read: this batch call's reply is over %d bytes; send it again", maxBatchReplyBytes)

// readKeys counts the keys of a batch read's operations.
func readKeys(req *tpb.BatchGetRequest) int {
	keys := len(req.Gets) + len(req.Scans)
	for _, mg := range req.MultiGets {
		keys += len(mg.SortKeys)
	}
	return keys
}

func (s *kvService) BatchGet(ctx context.Context, req *tpb.BatchGetRequest) (*tpb.BatchGetResponse, error) {
	if err := checkBatchSize("batch get", len(req.Gets)+len(req.MultiGets)+len(req.Scans), readKeys(req)); err != nil {
		return nil, err
	}
	r, t, p, err := s.n.leaderFor(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	b := s.n.newBatchRead(t, p, req)
	v, err := r.Read(ctx)
	if err != nil {
		return nil, toStatus(notLeaderFrom(r, err))
	}
	if err := b.read(v); err != nil {
		return nil, toStatus(err)
	}
	return b.resp, nil
}

// batchRead is one BatchGet call: its validated reads and its reply as
// it fills.
type batchRead struct {
	req   *tpb.BatchGetRequest
	resp  *tpb.BatchGetResponse
	scans []replica.ScanRange // by scan index; valid where no result is set yet
	bytes int                 // keys and values in the reply
	done  int                 // reads done
}

// newBatchRead validates every read of req, refusing the invalid ones in
// their results.
func (n *Node) newBatchRead(t *TableMeta, p uint32, req *tpb.BatchGetRequest) *batchRead {
	b := &batchRead{req: req, resp: &tpb.BatchGetResponse{
		Results:         make([]*tpb.BatchOpResult, len(req.Gets)),
		MultiGetResults: make([]*tpb.RecordsResult, len(req.MultiGets)),
		ScanResults:     make([]*tpb.RecordsResult, len(req.Scans)),
	}, scans: make([]replica.ScanRange, len(req.Scans))}
	for i, g := range req.Gets {
		if err := n.checkBatchKey(t, p, g.HashKey, g.SortKey); err != nil {
			b.resp.Results[i] = opRefused(err)
		}
	}
	for i, mg := range req.MultiGets {
		if err := firstError(n.checkMultiGet(mg.HashKey, mg.SortKeys), checkPartitionOf(t, p, mg.HashKey)); err != nil {
			b.resp.MultiGetResults[i] = recordsRefused(err)
		}
	}
	for i, sc := range req.Scans {
		rng, err := batchScanRange(t, p, sc)
		if err != nil {
			b.resp.ScanResults[i] = recordsRefused(err)
		}
		b.scans[i] = rng
	}
	return b
}

// batchScanRange validates one scan of a batch: a hash key of the call's
// partition, or none and the call's partition.
func batchScanRange(t *TableMeta, p uint32, sc *tpb.ScanRequest) (replica.ScanRange, error) {
	rng, err := scanRange(sc)
	switch {
	case err != nil:
		return rng, err
	case len(sc.HashKey) > 0:
		return rng, checkPartitionOf(t, p, sc.HashKey)
	case sc.Partition != p:
		return rng, fmt.Errorf("%w: scan of partition %d in a batch call to partition %d", ErrInvalidArgument, sc.Partition, p)
	}
	return rng, nil
}

// fits reports whether a read of size bytes joins the reply; it counts it
// when it does.
func (b *batchRead) fits(size int) bool {
	if b.done > 0 && b.bytes+size > maxBatchReplyBytes {
		return false
	}
	b.bytes += size
	b.done++
	return true
}

// read does the valid reads of the call in order, after one read barrier.
func (b *batchRead) read(v replica.View) error {
	for i, g := range b.req.Gets {
		if b.resp.Results[i] != nil {
			continue
		}
		value, ts, found, err := v.Get(g.HashKey, g.SortKey)
		if err != nil {
			return err
		}
		b.resp.Results[i] = &tpb.BatchOpResult{Found: found, Value: value, ExpireTs: ts}
		if !b.fits(len(g.HashKey) + len(g.SortKey) + len(value)) {
			b.resp.Results[i] = &tpb.BatchOpResult{Code: uint32(codes.ResourceExhausted), Message: notRead}
		}
	}
	return b.readRecords(v)
}

// readRecords does the valid multi-gets and scans of the call in order.
func (b *batchRead) readRecords(v replica.View) error {
	for i, mg := range b.req.MultiGets {
		if b.resp.MultiGetResults[i] != nil {
			continue
		}
		recs, size, err := multiGet(v, mg.HashKey, mg.SortKeys)
		if err != nil {
			return err
		}
		b.resp.MultiGetResults[i] = b.records(recs, size)
	}
	for i := range b.req.Scans {
		if b.resp.ScanResults[i] != nil {
			continue
		}
		recs, next, size, err := scanPage(v, b.scans[i])
		if err != nil {
			return err
		}
		res := b.records(recs, size)
		if res.Code == uint32(codes.OK) {
			res.Cursor, res.Done = next, next == nil
		}
		b.resp.ScanResults[i] = res
	}
	return nil
}

// records is the result of a multi-get or scan that read recs (size
// bytes), or ResourceExhausted when they do not fit in the reply.
func (b *batchRead) records(recs []*tpb.Record, size int) *tpb.RecordsResult {
	if !b.fits(size) {
		return &tpb.RecordsResult{Code: uint32(codes.ResourceExhausted), Message: notRead}
	}
	return &tpb.RecordsResult{Records: recs}
}

// checkMultiGet validates a MultiGet as a whole.
func (n *Node) checkMultiGet(hashKey []byte, sortKeys [][]byte) error {
	if len(sortKeys) == 0 || len(sortKeys) > maxBatchKeys {
		return fmt.Errorf("%w: multi-get needs 1 to %d sort keys, got %d (use scan for a whole hash key)", ErrInvalidArgument, maxBatchKeys, len(sortKeys))
	}
	for _, sk := range sortKeys {
		if err := n.checkKey(hashKey, sk); err != nil {
			return err
		}
	}
	return nil
}

// multiGet reads sortKeys of hashKey at one point in time (a MultiSet is
// seen whole or not at all): the live records found, in the order of
// sortKeys, and their keys' and values' bytes.
func multiGet(v replica.View, hashKey []byte, sortKeys [][]byte) ([]*tpb.Record, int, error) {
	found, err := v.MultiGet(hashKey, sortKeys)
	if err != nil {
		return nil, 0, err
	}
	recs := make([]*tpb.Record, len(found))
	size := 0
	for i, r := range found {
		recs[i] = &tpb.Record{HashKey: hashKey, SortKey: r.SortKey, Value: r.Value, ExpireTs: r.ExpireTS}
		size += len(hashKey) + len(r.SortKey) + len(r.Value)
	}
	return recs, size, nil
}

// scanPage reads one page of rng: its records, the cursor to resume from
// (nil at the end) and the records' bytes.
func scanPage(v replica.View, rng replica.ScanRange) ([]*tpb.Record, []byte, int, error) {
	recs, next, err := v.Scan(rng)
	if err != nil {
		return nil, nil, 0, err
	}
	out := make([]*tpb.Record, len(recs))
	size := 0
	for i, r := range recs {
		out[i] = &tpb.Record{HashKey: r.HashKey, SortKey: r.SortKey, Value: r.Value, ExpireTs: r.ExpireTS}
		size += len(r.HashKey) + len(r.SortKey) + len(r.Value)
	}
	return out, next, size, nil
}

// writeKeys counts the keys of a batch write's operations.
func writeKeys(req *tpb.BatchWriteRequest) int {
	keys := len(req.Writes)
	for _, ms := range req.MultiSets {
		keys += len(ms.Kvs)
	}
	return keys
}

func (s *kvService) BatchWrite(ctx context.Context, req *tpb.BatchWriteRequest) (*tpb.BatchWriteResponse, error) {
	if err := checkBatchSize("batch write", len(req.Writes)+len(req.MultiSets), writeKeys(req)); err != nil {
		return nil, err
	}
	r, t, p, err := s.n.writeLeader(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &tpb.BatchWriteResponse{
		Results:         make([]*tpb.BatchOpResult, len(req.Writes)),
		MultiSetResults: make([]*tpb.BatchOpResult, len(req.MultiSets)),
	}
	muts := s.n.batchMutations(t, p, req, resp)
	if len(muts) == 0 {
		return resp, nil
	}
	d, err := r.Write(ctx, muts)
	if err != nil {
		return nil, toStatus(s.n.fencedWrite(req.Table, notLeaderFrom(r, err)))
	}
	for _, results := range [][]*tpb.BatchOpResult{resp.Results, resp.MultiSetResults} {
		for i := range results {
			if results[i] == nil {
				results[i] = &tpb.BatchOpResult{Decree: d}
			}
		}
	}
	return resp, nil
}

// batchMutations validates every write and multi-set of req, refusing the
// invalid ones in resp, and returns the mutations of the valid ones: the
// writes in order, then the multi-sets in order.
func (n *Node) batchMutations(t *TableMeta, p uint32, req *tpb.BatchWriteRequest, resp *tpb.BatchWriteResponse) []replica.Mutation {
	muts := make([]replica.Mutation, 0, writeKeys(req))
	for i, w := range req.Writes {
		m, err := n.batchMutation(t, p, w)
		if err != nil {
			resp.Results[i] = opRefused(err)
			continue
		}
		muts = append(muts, m)
	}
	for i, ms := range req.MultiSets {
		group, err := n.multiSetMutations(ms.HashKey, ms.Kvs, ms.TtlSeconds)
		if err == nil {
			err = checkPartitionOf(t, p, ms.HashKey)
		}
		if err != nil {
			resp.MultiSetResults[i] = opRefused(err)
			continue
		}
		muts = append(muts, group...)
	}
	return muts
}

// batchMutation validates one write of a batch, whose key must belong to
// the call's partition, and turns it into a mutation.
func (n *Node) batchMutation(t *TableMeta, partition uint32, w *tpb.BatchWrite) (replica.Mutation, error) {
	if err := n.checkBatchKey(t, partition, w.HashKey, w.SortKey); err != nil {
		return replica.Mutation{}, err
	}
	return n.writeMutation(w)
}

// multiSetMutations validates a MultiSet as a whole (any invalid part
// refuses all of it) and returns its puts.
func (n *Node) multiSetMutations(hashKey []byte, kvs []*tpb.SortKeyValue, ttlSeconds uint32) ([]replica.Mutation, error) {
	if len(kvs) == 0 || len(kvs) > maxBatchKeys {
		return nil, fmt.Errorf("%w: multi-set needs 1 to %d records, got %d", ErrInvalidArgument, maxBatchKeys, len(kvs))
	}
	ts, err := n.expireTS(ttlSeconds)
	if err != nil {
		return nil, err
	}
	muts := make([]replica.Mutation, 0, len(kvs))
	for i, kv := range kvs {
		if err := n.checkKey(hashKey, kv.SortKey); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if err := n.checkValue(kv.Value); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		muts = append(muts, replica.Mutation{Op: replica.OpPut, HashKey: hashKey, SortKey: kv.SortKey, Value: kv.Value, ExpireTS: ts})
	}
	return muts, nil
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
