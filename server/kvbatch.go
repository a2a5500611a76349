package server

import (
	"context"
	"fmt"

	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
)

// Batch calls carry many single-record operations of one partition, so a
// gRPC call, a read barrier or a raft entry serves them all. An operation
// that is invalid on its own is refused in its result; everything that
// concerns the whole call (unknown table, not the leader, replication) is
// the call's error, exactly as for the single-record calls.

// checkBatchSize refuses an empty or oversized batch.
func checkBatchSize(what string, n int) error {
	if n == 0 || n > maxBatchKeys {
		return toStatus(fmt.Errorf("%w: %s needs 1 to %d operations, got %d", ErrInvalidArgument, what, maxBatchKeys, n))
	}
	return nil
}

// checkBatchKey checks one operation's key and that it belongs to the
// partition the batch was sent to.
func (n *Node) checkBatchKey(t *TableMeta, partition uint32, hashKey, sortKey []byte) error {
	if err := n.checkKey(hashKey, sortKey); err != nil {
		return err
	}
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

func (s *kvService) BatchGet(ctx context.Context, req *tpb.BatchGetRequest) (*tpb.BatchGetResponse, error) {
	if err := checkBatchSize("batch get", len(req.Gets)); err != nil {
		return nil, err
	}
	r, t, p, err := s.n.leaderFor(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	results := make([]*tpb.BatchOpResult, len(req.Gets))
	for i, g := range req.Gets {
		if err := s.n.checkBatchKey(t, p, g.HashKey, g.SortKey); err != nil {
			results[i] = opRefused(err)
		}
	}
	err = r.Read(ctx, func(db *rocksdb.DB) error {
		for i, g := range req.Gets {
			if results[i] != nil {
				continue
			}
			v, ts, found, err := db.Get(g.HashKey, g.SortKey)
			if err != nil {
				return err
			}
			results[i] = &tpb.BatchOpResult{Found: found, Value: v, ExpireTs: ts}
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(notLeaderFrom(r, err))
	}
	return &tpb.BatchGetResponse{Results: results}, nil
}

func (s *kvService) BatchWrite(ctx context.Context, req *tpb.BatchWriteRequest) (*tpb.BatchWriteResponse, error) {
	if err := checkBatchSize("batch write", len(req.Writes)); err != nil {
		return nil, err
	}
	r, t, p, err := s.n.writeLeader(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	results := make([]*tpb.BatchOpResult, len(req.Writes))
	muts := make([]replica.Mutation, 0, len(req.Writes))
	for i, w := range req.Writes {
		m, err := s.n.batchMutation(t, p, w)
		if err != nil {
			results[i] = opRefused(err)
			continue
		}
		muts = append(muts, m)
	}
	if len(muts) > 0 {
		d, err := r.Propose(ctx, replica.EncodeCommand(muts))
		if err != nil {
			return nil, toStatus(notLeaderFrom(r, err))
		}
		for i := range results {
			if results[i] == nil {
				results[i] = &tpb.BatchOpResult{Decree: d}
			}
		}
	}
	return &tpb.BatchWriteResponse{Results: results}, nil
}

// batchMutation validates one write of a batch and turns it into a
// mutation.
func (n *Node) batchMutation(t *TableMeta, partition uint32, w *tpb.BatchWrite) (replica.Mutation, error) {
	if err := n.checkBatchKey(t, partition, w.HashKey, w.SortKey); err != nil {
		return replica.Mutation{}, err
	}
	if w.Del {
		return replica.Mutation{Op: replica.OpDelete, HashKey: w.HashKey, SortKey: w.SortKey}, nil
	}
	if err := n.checkValue(w.Value); err != nil {
		return replica.Mutation{}, err
	}
	ts, err := n.expireTS(w.TtlSeconds)
	if err != nil {
		return replica.Mutation{}, err
	}
	return replica.Mutation{Op: replica.OpPut, HashKey: w.HashKey, SortKey: w.SortKey, Value: w.Value, ExpireTS: ts}, nil
}
