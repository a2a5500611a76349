package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

const (
	maxScanLimit     = 1000
	maxBatchKeys     = 10000
	maxTTLSeconds    = 10 * 365 * 24 * 3600
	maxHashKeyLength = replica.MaxHashKeyLen
	// maxCursorBytes bounds a scan cursor: an encoded key plus one byte.
	maxCursorBytes = 2 + (1 << 20) + 1
)

// kvService serves the KV API on the partition leaders this node hosts.
type kvService struct {
	tpb.UnimplementedKVServer
	n *Node
}

// leaderFor resolves table and hash key to the local leader replica, or a
// NotLeader error naming the leader (or a replica to ask).
func (n *Node) leaderFor(ctx context.Context, table string, partition uint32, hasPartition bool, hashKey []byte) (*replica.Replica, *TableMeta, uint32, error) {
	t, err := n.findTable(ctx, table)
	if err != nil {
		return nil, nil, 0, err
	}
	if !hasPartition {
		partition = tpb.PartitionOf(hashKey, t.Partitions)
	} else if partition >= t.Partitions {
		return nil, nil, 0, fmt.Errorf("%w: partition %d out of range: table %q has %d partitions", ErrInvalidArgument, partition, table, t.Partitions)
	}
	r := n.replica(groupID(t.ID, partition))
	if r == nil {
		hint := t.Placement[partition][0]
		return nil, nil, 0, &notLeaderError{table: table, partition: partition, leaderID: hint, leaderAddr: n.peerAddr(hint), cause: errors.New("no replica on this node")}
	}
	if !r.IsLeader() {
		id, addr := r.WaitLeader(ctx, leaderWait)
		if id == n.cfg.NodeID && r.IsLeader() {
			return r, t, partition, nil
		}
		return nil, nil, 0, &notLeaderError{table: table, partition: partition, leaderID: id, leaderAddr: addr}
	}
	return r, t, partition, nil
}

// leaderWait bounds how long a request that reaches a follower during an
// election waits for the election's outcome before it is sent away without
// a leader to try.
const leaderWait = 2 * time.Second

// findTable returns a table from this node's metadata, or, when the table
// is not there, the authoritative answer. Only the meta leader says "not
// found", once it has applied everything committed before its term; any
// other node asks the leader, since its own metadata may lag (raft applies a
// restarted follower's log only once the leader tells it the commit index,
// and a partitioned node hears nothing). When the leader has the table this
// node waits a little to catch up. Short of an answer the error is
// ErrNotReady (Unavailable: ask again, or ask another node).
func (n *Node) findTable(ctx context.Context, name string) (*TableMeta, error) {
	if t, ok := n.table(name); ok {
		return t, nil
	}
	notReady := func(why string) error { return fmt.Errorf("table %q: %w: %s", name, ErrNotReady, why) }
	if !n.Ready() {
		return nil, notReady("node starting")
	}
	ctx, cancel := context.WithTimeout(ctx, missingTableTimeout)
	defer cancel()
	leader, fctx, err := n.metaLeaderAdmin(ctx)
	if err != nil {
		return nil, notReady(err.Error())
	}
	if leader == nil {
		if err := n.meta.leaderCaughtUp(missingTableTimeout); err != nil {
			return nil, notReady("meta barrier: " + err.Error())
		}
	} else if _, err := leader.Route(fctx, &tpb.RouteRequest{Table: name}); status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("table %q: %w", name, ErrTableNotFound)
	} else if err != nil {
		return nil, notReady("meta leader: " + err.Error())
	} else if err := n.meta.waitCommitted(ctx); err != nil {
		return nil, notReady("catching up with the meta leader: " + err.Error())
	}
	if t, ok := n.table(name); ok {
		return t, nil
	}
	if leader == nil {
		return nil, fmt.Errorf("table %q: %w", name, ErrTableNotFound)
	}
	return nil, notReady("the meta leader has it, this node's metadata is behind")
}

// missingTableTimeout bounds how long a lookup of an unknown table waits
// for the meta leader's word.
const missingTableTimeout = 2 * time.Second

// notLeaderFrom wraps a replica's ErrNotLeader with its current leader.
func notLeaderFrom(r *replica.Replica, err error) error {
	if !errors.Is(err, replica.ErrNotLeader) {
		return err
	}
	id, addr := r.Leader()
	info := r.Info()
	return &notLeaderError{table: info.Table, partition: info.Partition, leaderID: id, leaderAddr: addr, cause: err}
}

func (n *Node) checkKey(hashKey, sortKey []byte) error {
	lim := n.limits()
	switch {
	case len(hashKey) == 0:
		return fmt.Errorf("%w: hash key is empty", ErrInvalidArgument)
	case len(hashKey) > maxHashKeyLength:
		return fmt.Errorf("%w: hash key is %d bytes; a hash key is at most %d bytes (the record encoding's limit; kv.max_key_bytes bounds hash key + sort key)", ErrInvalidArgument, len(hashKey), maxHashKeyLength)
	case len(hashKey)+len(sortKey) > lim.MaxKeyBytes:
		return fmt.Errorf("%w: key is %d bytes; limit is %d bytes (kv.max_key_bytes)", ErrInvalidArgument, len(hashKey)+len(sortKey), lim.MaxKeyBytes)
	}
	return nil
}

func (n *Node) checkValue(v []byte) error {
	if lim := n.limits(); len(v) > lim.MaxValueBytes {
		return fmt.Errorf("%w: value is %d bytes; limit is %d bytes (kv.max_value_bytes)", ErrInvalidArgument, len(v), lim.MaxValueBytes)
	}
	return nil
}

func (n *Node) expireTS(ttlSeconds uint32) (uint32, error) {
	if ttlSeconds == 0 {
		return 0, nil
	}
	if ttlSeconds > maxTTLSeconds {
		return 0, fmt.Errorf("%w: ttl %ds exceeds %ds", ErrInvalidArgument, ttlSeconds, maxTTLSeconds)
	}
	return uint32(n.cfg.Now().Unix()) + ttlSeconds, nil
}

// writeLeader is leaderFor for a write: a duplication's follower table
// takes writes only from its source.
func (n *Node) writeLeader(ctx context.Context, table string, partition uint32, hasPartition bool, hashKey []byte) (*replica.Replica, *TableMeta, uint32, error) {
	r, t, p, err := n.leaderFor(ctx, table, partition, hasPartition, hashKey)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := n.switchoverRefusal(t); err != nil {
		return nil, nil, 0, err
	}
	if f := t.Follower; f != nil {
		return nil, nil, 0, duplication.FollowerWriteError(t.Name, f.DupID, f.SourceCluster)
	}
	return r, t, p, nil
}

// writeMutation validates a single-record write (a Set, a Del, a write of
// a batch) and turns it into a mutation.
func (n *Node) writeMutation(w *tpb.BatchWrite) (replica.Mutation, error) {
	if err := n.checkKey(w.HashKey, w.SortKey); err != nil {
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

// write replicates validated mutations of hashKey's partition atomically.
func (n *Node) write(ctx context.Context, table string, hashKey []byte, muts []replica.Mutation) (uint64, error) {
	r, _, _, err := n.writeLeader(ctx, table, 0, false, hashKey)
	if err != nil {
		return 0, err
	}
	d, err := r.Write(ctx, muts)
	return d, n.fencedWrite(table, notLeaderFrom(r, err))
}

func (s *kvService) Set(ctx context.Context, req *tpb.SetRequest) (*tpb.SetResponse, error) {
	m, err := s.n.writeMutation(&tpb.BatchWrite{HashKey: req.HashKey, SortKey: req.SortKey, Value: req.Value, TtlSeconds: req.TtlSeconds})
	if err != nil {
		return nil, toStatus(err)
	}
	d, err := s.n.write(ctx, req.Table, req.HashKey, []replica.Mutation{m})
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.SetResponse{Decree: d}, nil
}

func (s *kvService) Del(ctx context.Context, req *tpb.DelRequest) (*tpb.DelResponse, error) {
	m, err := s.n.writeMutation(&tpb.BatchWrite{HashKey: req.HashKey, SortKey: req.SortKey, Del: true})
	if err != nil {
		return nil, toStatus(err)
	}
	d, err := s.n.write(ctx, req.Table, req.HashKey, []replica.Mutation{m})
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.DelResponse{Decree: d}, nil
}

func (s *kvService) MultiSet(ctx context.Context, req *tpb.MultiSetRequest) (*tpb.MultiSetResponse, error) {
	muts, err := s.n.multiSetMutations(req.HashKey, req.Kvs, req.TtlSeconds)
	if err != nil {
		return nil, toStatus(err)
	}
	d, err := s.n.write(ctx, req.Table, req.HashKey, muts)
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.MultiSetResponse{Decree: d}, nil
}

// read returns a view of the partition leader's data after the
// linearizable read barrier.
func (n *Node) read(ctx context.Context, table string, partition uint32, hasPartition bool, hashKey []byte) (replica.View, error) {
	r, _, _, err := n.leaderFor(ctx, table, partition, hasPartition, hashKey)
	if err != nil {
		return replica.View{}, err
	}
	v, err := r.Read(ctx)
	return v, notLeaderFrom(r, err)
}

func (s *kvService) Get(ctx context.Context, req *tpb.GetRequest) (*tpb.GetResponse, error) {
	if err := s.n.checkKey(req.HashKey, req.SortKey); err != nil {
		return nil, toStatus(err)
	}
	v, err := s.n.read(ctx, req.Table, 0, false, req.HashKey)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &tpb.GetResponse{}
	if resp.Value, resp.ExpireTs, resp.Found, err = v.Get(req.HashKey, req.SortKey); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

func (s *kvService) MultiGet(ctx context.Context, req *tpb.MultiGetRequest) (*tpb.MultiGetResponse, error) {
	if err := s.n.checkMultiGet(req.HashKey, req.SortKeys); err != nil {
		return nil, toStatus(err)
	}
	v, err := s.n.read(ctx, req.Table, 0, false, req.HashKey)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &tpb.MultiGetResponse{}
	if resp.Records, _, err = multiGet(v, req.HashKey, req.SortKeys); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

func (s *kvService) Scan(ctx context.Context, req *tpb.ScanRequest) (*tpb.ScanResponse, error) {
	rng, err := scanRange(req)
	if err != nil {
		return nil, toStatus(err)
	}
	v, err := s.n.read(ctx, req.Table, req.Partition, len(req.HashKey) == 0, req.HashKey)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &tpb.ScanResponse{}
	if resp.Records, resp.Cursor, _, err = scanPage(v, rng); err != nil {
		return nil, toStatus(err)
	}
	resp.Done = resp.Cursor == nil
	return resp, nil
}

// scanRange validates a scan request's range; a cursor must lie inside it.
func scanRange(req *tpb.ScanRequest) (replica.ScanRange, error) {
	limit := int(req.Limit)
	if limit <= 0 || limit > maxScanLimit {
		limit = maxScanLimit
	}
	rng := replica.ScanRange{HashKey: req.HashKey, Cursor: req.Cursor, Limit: limit}
	if len(req.HashKey) > maxHashKeyLength {
		return rng, fmt.Errorf("%w: hash key is %d bytes; limit is %d bytes", ErrInvalidArgument, len(req.HashKey), maxHashKeyLength)
	}
	if !rng.CursorInRange() {
		return rng, fmt.Errorf("%w: cursor does not belong to this hash key", ErrInvalidArgument)
	}
	if len(req.Cursor) > maxCursorBytes {
		return rng, fmt.Errorf("%w: scan cursor is %d bytes; a cursor is at most %d", ErrInvalidArgument, len(req.Cursor), maxCursorBytes)
	}
	return rng, nil
}

func (s *kvService) Count(ctx context.Context, req *tpb.CountRequest) (*tpb.CountResponse, error) {
	v, err := s.n.read(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &tpb.CountResponse{}
	if resp.Count, err = v.Count(); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}
