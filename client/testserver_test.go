package client

import (
	"bytes"
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// testCluster is the shared state of a few test nodes: the route they hand
// out and one in-memory store that whichever node leads serves. It is a
// test peer speaking the real protocol over real sockets, not a mock of
// the client's internals.
type testCluster struct {
	mu         sync.Mutex
	table      string
	partitions uint32
	routeLead  string   // leader_addr handed out by Route
	replicas   []string // replica_addrs handed out by Route
	store      map[string]*tandempb.Record
	pageSize   int // scan page cap, to make the client follow cursors
	routeCalls atomic.Int32
}

// testNode is one node of a testCluster. mode says how its KV calls answer.
type testNode struct {
	tandempb.UnimplementedKVServer
	tandempb.UnimplementedAdminServer
	cl      *testCluster
	addr    string
	mu      sync.Mutex
	mode    nodeMode
	kvCalls atomic.Int32 // every KV call, a batch's inner calls included
	// batchCalls counts BatchGet and BatchWrite calls.
	batchCalls atomic.Int32
	// hold, when set, keeps batch calls waiting until it is closed.
	hold chan struct{}
	// legacyBatch makes batch calls answer as a server that predates
	// multi-gets, scans and multi-sets in them: it ignores them.
	legacyBatch bool
	// replyOps, when positive, caps the reads a batch get does; the rest
	// are answered ResourceExhausted as by a server whose reply is full.
	replyOps int
}

// nodeMode is how a test node answers KV calls.
type nodeMode struct {
	leader     bool   // serve the store
	redirectTo string // not leader: name this leader ("" for none)
	failWith   codes.Code
}

func newTestCluster(partitions uint32) *testCluster {
	return &testCluster{table: "t", partitions: partitions, store: map[string]*tandempb.Record{}, pageSize: 1000}
}

// mustStartNode serves a test node on a fresh loopback port until the test
// ends.
func mustStartNode(t *testing.T, cl *testCluster, mode nodeMode) *testNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	n := &testNode{cl: cl, addr: lis.Addr().String(), mode: mode}
	srv := grpc.NewServer()
	tandempb.RegisterKVServer(srv, n)
	tandempb.RegisterAdminServer(srv, n)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return n
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

func (n *testNode) setMode(m nodeMode) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mode = m
}

// check counts a KV call and answers for a node that does not serve it.
func (n *testNode) check(table string) error {
	n.kvCalls.Add(1)
	n.mu.Lock()
	m := n.mode
	n.mu.Unlock()
	if m.failWith != codes.OK {
		return status.Error(m.failWith, "test failure")
	}
	if table != n.cl.table {
		return status.Errorf(codes.NotFound, "table %q not found", table)
	}
	if m.leader {
		return nil
	}
	st, err := status.New(codes.Unavailable, "not leader").
		WithDetails(&tandempb.NotLeader{Table: table, LeaderAddr: m.redirectTo})
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return st.Err()
}

func key(hk, sk []byte) string { return string(hk) + "\x00" + string(sk) }

func (n *testNode) Set(_ context.Context, r *tandempb.SetRequest) (*tandempb.SetResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	return &tandempb.SetResponse{}, n.cl.set(r.HashKey, r.SortKey, r.Value, r.TtlSeconds)
}

func (cl *testCluster) set(hashKey, sortKey, value []byte, ttl uint32) error {
	if len(hashKey) == 0 || string(value) == "too big" {
		return status.Error(codes.InvalidArgument, "value over the 1 MiB limit")
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.store[key(hashKey, sortKey)] = &tandempb.Record{HashKey: hashKey, SortKey: sortKey, Value: value, ExpireTs: ttl}
	return nil
}

func (n *testNode) Get(_ context.Context, r *tandempb.GetRequest) (*tandempb.GetResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	rec, ok := n.cl.store[key(r.HashKey, r.SortKey)]
	if !ok {
		return &tandempb.GetResponse{}, nil
	}
	return &tandempb.GetResponse{Found: true, Value: rec.Value, ExpireTs: rec.ExpireTs}, nil
}

func (cl *testCluster) get(hashKey, sortKey []byte) *tandempb.BatchOpResult {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	rec, ok := cl.store[key(hashKey, sortKey)]
	if !ok {
		return &tandempb.BatchOpResult{}
	}
	return &tandempb.BatchOpResult{Found: true, Value: rec.Value, ExpireTs: rec.ExpireTs}
}

func (n *testNode) Del(_ context.Context, r *tandempb.DelRequest) (*tandempb.DelResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	delete(n.cl.store, key(r.HashKey, r.SortKey))
	return &tandempb.DelResponse{}, nil
}

func (n *testNode) MultiSet(ctx context.Context, r *tandempb.MultiSetRequest) (*tandempb.MultiSetResponse, error) {
	for _, kv := range r.Kvs {
		req := &tandempb.SetRequest{Table: r.Table, HashKey: r.HashKey, SortKey: kv.SortKey, Value: kv.Value, TtlSeconds: r.TtlSeconds}
		if _, err := n.Set(ctx, req); err != nil {
			return nil, err
		}
	}
	return &tandempb.MultiSetResponse{}, nil
}

func (n *testNode) MultiGet(_ context.Context, r *tandempb.MultiGetRequest) (*tandempb.MultiGetResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	return &tandempb.MultiGetResponse{Records: n.cl.multiGet(r.HashKey, r.SortKeys)}, nil
}

// BatchWrite applies each write as Set or Del would and each multi-set
// whole or not at all; a refused write or multi-set is refused in its own
// result, as the real server does.
func (n *testNode) BatchWrite(_ context.Context, r *tandempb.BatchWriteRequest) (*tandempb.BatchWriteResponse, error) {
	n.batchCalls.Add(1)
	if n.hold != nil {
		<-n.hold
	}
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	resp := &tandempb.BatchWriteResponse{}
	for _, w := range r.Writes {
		var err error
		if w.Del {
			n.cl.mu.Lock()
			delete(n.cl.store, key(w.HashKey, w.SortKey))
			n.cl.mu.Unlock()
		} else {
			err = n.cl.set(w.HashKey, w.SortKey, w.Value, w.TtlSeconds)
		}
		resp.Results = append(resp.Results, resultOf(err))
	}
	if n.legacyBatch {
		return resp, nil
	}
	for _, ms := range r.MultiSets {
		resp.MultiSetResults = append(resp.MultiSetResults, resultOf(n.cl.multiSet(ms)))
	}
	return resp, nil
}

// resultOf is the batch result of an operation that failed with err.
func resultOf(err error) *tandempb.BatchOpResult {
	st := status.Convert(err)
	return &tandempb.BatchOpResult{Code: uint32(st.Code()), Message: st.Message()}
}

// multiSet writes every record of ms, or none when one is refused.
func (cl *testCluster) multiSet(ms *tandempb.MultiSetRequest) error {
	for _, kv := range ms.Kvs {
		if len(ms.HashKey) == 0 || string(kv.Value) == "too big" {
			return status.Error(codes.InvalidArgument, "record over the limits")
		}
	}
	for _, kv := range ms.Kvs {
		if err := cl.set(ms.HashKey, kv.SortKey, kv.Value, ms.TtlSeconds); err != nil {
			return err
		}
	}
	return nil
}

// BatchGet answers each get as Get would, each multi-get as MultiGet and
// each scan as Scan.
func (n *testNode) BatchGet(_ context.Context, r *tandempb.BatchGetRequest) (*tandempb.BatchGetResponse, error) {
	n.batchCalls.Add(1)
	if n.hold != nil {
		<-n.hold
	}
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	resp := &tandempb.BatchGetResponse{}
	done := 0
	full := func() bool { done++; return n.replyOps > 0 && done > n.replyOps }
	notRead := &tandempb.RecordsResult{Code: uint32(codes.ResourceExhausted), Message: "reply full"}
	for _, g := range r.Gets {
		res := n.cl.get(g.HashKey, g.SortKey)
		if full() {
			res = &tandempb.BatchOpResult{Code: notRead.Code, Message: notRead.Message}
		}
		resp.Results = append(resp.Results, res)
	}
	if n.legacyBatch {
		return resp, nil
	}
	for _, mg := range r.MultiGets {
		res := &tandempb.RecordsResult{Records: n.cl.multiGet(mg.HashKey, mg.SortKeys)}
		if full() {
			res = notRead
		}
		resp.MultiGetResults = append(resp.MultiGetResults, res)
	}
	for _, sc := range r.Scans {
		page := n.cl.scan(sc)
		res := &tandempb.RecordsResult{Records: page.Records, Cursor: page.Cursor, Done: page.Done}
		if full() {
			res = notRead
		}
		resp.ScanResults = append(resp.ScanResults, res)
	}
	return resp, nil
}

// multiGet returns the records of sortKeys of hashKey that exist.
func (cl *testCluster) multiGet(hashKey []byte, sortKeys [][]byte) []*tandempb.Record {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []*tandempb.Record
	for _, sk := range sortKeys {
		if rec, ok := cl.store[key(hashKey, sk)]; ok {
			out = append(out, rec)
		}
	}
	return out
}

// matching returns, in key order, the records a scan or count covers.
func (cl *testCluster) matching(hashKey []byte, partition uint32) []*tandempb.Record {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []*tandempb.Record
	for _, rec := range cl.store {
		if len(hashKey) > 0 && bytes.Equal(rec.HashKey, hashKey) ||
			len(hashKey) == 0 && tandempb.PartitionOf(rec.HashKey, cl.partitions) == partition {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b *tandempb.Record) int {
		return bytes.Compare([]byte(key(a.HashKey, a.SortKey)), []byte(key(b.HashKey, b.SortKey)))
	})
	return out
}

func (n *testNode) Scan(_ context.Context, r *tandempb.ScanRequest) (*tandempb.ScanResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	return n.cl.scan(r), nil
}

// scan answers one page of a scan.
func (cl *testCluster) scan(r *tandempb.ScanRequest) *tandempb.ScanResponse {
	resp := &tandempb.ScanResponse{}
	limit := min(int(r.Limit), cl.pageSize)
	for _, rec := range cl.matching(r.HashKey, r.Partition) {
		k := []byte(key(rec.HashKey, rec.SortKey))
		if len(r.Cursor) > 0 && bytes.Compare(k, r.Cursor) <= 0 {
			continue
		}
		if len(resp.Records) == limit {
			resp.Cursor = []byte(key(resp.Records[limit-1].HashKey, resp.Records[limit-1].SortKey))
			return resp
		}
		resp.Records = append(resp.Records, rec)
	}
	resp.Done = true
	return resp
}

func (n *testNode) Count(_ context.Context, r *tandempb.CountRequest) (*tandempb.CountResponse, error) {
	if err := n.check(r.Table); err != nil {
		return nil, err
	}
	return &tandempb.CountResponse{Count: uint64(len(n.cl.matching(nil, r.Partition)))}, nil
}

func (n *testNode) Route(_ context.Context, r *tandempb.RouteRequest) (*tandempb.RouteResponse, error) {
	n.cl.routeCalls.Add(1)
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	if r.Table != n.cl.table {
		return nil, status.Errorf(codes.NotFound, "table %q not found", r.Table)
	}
	resp := &tandempb.RouteResponse{Table: &tandempb.TableInfo{Name: n.cl.table, Id: 1, Partitions: n.cl.partitions}}
	for p := range n.cl.partitions {
		resp.Partitions = append(resp.Partitions, &tandempb.PartitionRoute{
			Index: p, LeaderAddr: n.cl.routeLead, ReplicaAddrs: slices.Clone(n.cl.replicas),
		})
	}
	return resp, nil
}

func (n *testNode) setRoute(leader string, replicas ...string) {
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	n.cl.routeLead, n.cl.replicas = leader, replicas
}

func (n *testNode) ListTables(context.Context, *tandempb.ListTablesRequest) (*tandempb.ListTablesResponse, error) {
	return &tandempb.ListTablesResponse{Tables: []*tandempb.TableInfo{{Name: n.cl.table, Partitions: n.cl.partitions}}}, nil
}

func (n *testNode) GetConfig(_ context.Context, r *tandempb.GetConfigRequest) (*tandempb.GetConfigResponse, error) {
	if r.Key != "" && r.Key != "checkpoint.interval" {
		return nil, status.Errorf(codes.NotFound, "config key %q not found", r.Key)
	}
	return &tandempb.GetConfigResponse{Entries: []*tandempb.ConfigEntry{{Key: "checkpoint.interval", Value: "30s"}}}, nil
}
