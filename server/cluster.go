package server

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// fanoutTimeout bounds how long a cluster-wide view waits for one node.
const fanoutTimeout = 2 * time.Second

// forwardedKey marks an admin call forwarded to the meta leader, so a
// forwarded call is never forwarded again.
const forwardedKey = "x-tandem-forwarded"

// connPool keeps one client connection per peer address.
type connPool struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	creds []grpc.DialOption
}

// newConnPool makes a pool whose connections use creds (transport and
// per-call credentials).
func newConnPool(creds ...grpc.DialOption) *connPool {
	return &connPool{conns: map[string]*grpc.ClientConn{}, creds: creds}
}

func (p *connPool) get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes))}, p.creds...)...)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = map[string]*grpc.ClientConn{}
}

// admin returns an Admin client for the node at addr.
func (n *Node) admin(addr string) (tpb.AdminClient, error) {
	c, err := n.conns.get(addr)
	if err != nil {
		return nil, err
	}
	return tpb.NewAdminClient(c), nil
}

// nodeReplicas is one node's answer to LocalReplicas.
type nodeReplicas struct {
	peer     Peer
	replicas []*tpb.ReplicaStatus
	err      error
}

// gatherReplicas asks every node (itself directly) for its replicas of table.
func (n *Node) gatherReplicas(ctx context.Context, table string) []nodeReplicas {
	members := n.members()
	out := make([]nodeReplicas, len(members))
	var wg sync.WaitGroup
	for i, p := range members {
		out[i].peer = p
		if p.ID == n.cfg.NodeID {
			out[i].replicas = n.localStatus(table)
			continue
		}
		wg.Add(1)
		go func(i int, p Peer) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
			defer cancel()
			c, err := n.admin(p.Addr)
			if err == nil {
				var resp *tpb.LocalReplicasResponse
				if resp, err = c.LocalReplicas(cctx, &tpb.LocalReplicasRequest{Table: table}); err == nil {
					out[i].replicas = resp.Replicas
				}
			}
			out[i].err = err
		}(i, p)
	}
	wg.Wait()
	return out
}

// localStatus reports this node's replicas of table ("" for all).
func (n *Node) localStatus(table string) []*tpb.ReplicaStatus {
	var out []*tpb.ReplicaStatus
	for _, r := range n.localReplicas() {
		info := r.Info()
		if table != "" && info.Table != table {
			continue
		}
		st := r.Status()
		out = append(out, &tpb.ReplicaStatus{
			Table: info.Table, Partition: info.Partition, NodeId: n.cfg.NodeID, Addr: n.Addr(),
			State: st.State, LeaderId: st.LeaderID, AppliedDecree: st.Applied, SizeBytes: st.Size, Term: st.Term,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// table returns a table's metadata from the local meta state.
func (n *Node) table(name string) (*TableMeta, bool) { return n.meta.table(name) }

// partitionsInfo assembles the cluster-wide view of a table's partitions.
func (n *Node) partitionsInfo(ctx context.Context, t *TableMeta) []*tpb.PartitionInfo {
	parts := make([]*tpb.PartitionInfo, t.Partitions)
	for i := range parts {
		parts[i] = &tpb.PartitionInfo{Index: uint32(i)}
	}
	for _, nr := range n.gatherReplicas(ctx, t.Name) {
		for _, rs := range nr.replicas {
			if rs.Partition >= t.Partitions {
				continue
			}
			p := parts[rs.Partition]
			p.Replicas = append(p.Replicas, rs)
			if rs.State == "leader" {
				p.LeaderId, p.LeaderAddr = rs.NodeId, rs.Addr
				p.AppliedDecree, p.SizeBytes = rs.AppliedDecree, rs.SizeBytes
			}
		}
	}
	for _, p := range parts {
		p.Move = n.meta.moveText(t, p.Index)
		if p.LeaderId == "" {
			// No reachable leader: show the most recent follower's view.
			for _, rs := range p.Replicas {
				if rs.AppliedDecree >= p.AppliedDecree {
					p.AppliedDecree, p.SizeBytes = rs.AppliedDecree, rs.SizeBytes
				}
			}
		}
		for _, id := range t.Placement[p.Index] {
			if !hasReplica(p.Replicas, id) {
				p.Replicas = append(p.Replicas, &tpb.ReplicaStatus{Table: t.Name, Partition: p.Index, NodeId: id, Addr: n.peerAddr(id), State: "unreachable"})
			}
		}
	}
	return parts
}

func hasReplica(rs []*tpb.ReplicaStatus, id string) bool {
	for _, r := range rs {
		if r.NodeId == id {
			return true
		}
	}
	return false
}

// routes builds the client routing table of a table.
func (n *Node) routes(ctx context.Context, table string) ([]*tpb.PartitionRoute, error) {
	t, err := n.findTable(ctx, table)
	if err != nil {
		return nil, err
	}
	var out []*tpb.PartitionRoute
	for _, p := range n.partitionsInfo(ctx, t) {
		r := &tpb.PartitionRoute{Index: p.Index, LeaderAddr: p.LeaderAddr}
		for _, id := range t.Placement[p.Index] {
			r.ReplicaAddrs = append(r.ReplicaAddrs, replicaAddr(p.Replicas, id))
		}
		out = append(out, r)
	}
	return out, nil
}

// replicaAddr is the address clients reach node id at: the one the node
// reported itself (as LeaderAddr is), or this node's --peers entry for a
// node that did not answer.
func replicaAddr(rs []*tpb.ReplicaStatus, id string) string {
	for _, r := range rs {
		if r.NodeId == id {
			return r.Addr
		}
	}
	return ""
}

func allLed(routes []*tpb.PartitionRoute) bool {
	for _, r := range routes {
		if r.LeaderAddr == "" {
			return false
		}
	}
	return len(routes) > 0
}

// metaLeaderWait bounds how long an admin call waits for a meta leader:
// a few meta election timeouts.
const metaLeaderWait = 3 * metaElectionTimeout

// metaLeaderAdmin returns a client for the meta leader, or nil when this
// node is the leader.
func (n *Node) metaLeaderAdmin(ctx context.Context) (tpb.AdminClient, context.Context, error) {
	if n.meta.isLeader() {
		return nil, ctx, nil
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(forwardedKey)) > 0 {
		return nil, ctx, fmt.Errorf("%w: this node is not the leader either", ErrNoMetaLeader)
	}
	// A change or lookup that arrives during a meta election waits for its
	// outcome rather than failing a script that just started the cluster.
	id, addr := n.meta.waitLeader(ctx, metaLeaderWait)
	if n.meta.isLeader() {
		return nil, ctx, nil
	}
	if addr == "" {
		return nil, ctx, ErrNoMetaLeader
	}
	c, err := n.admin(n.dialAddr(id, addr))
	if err != nil {
		return nil, ctx, err
	}
	fctx := metadata.AppendToOutgoingContext(ctx, forwardedKey, n.cfg.NodeID)
	if id := requestID(ctx); id != "" {
		fctx = metadata.AppendToOutgoingContext(fctx, tpb.RequestIDHeader, id)
	}
	return c, fctx, nil
}

// maxRequestIDLen bounds the ids kept in the metadata.
const maxRequestIDLen = 64

// requestID is the caller's id for this metadata change
// (tpb.RequestIDHeader), "" when absent or over maxRequestIDLen; it is kept
// with the table or duplication the change makes.
func requestID(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	ids := md.Get(tpb.RequestIDHeader)
	if len(ids) == 0 || len(ids[0]) > maxRequestIDLen {
		return ""
	}
	return ids[0]
}

// metaIndexKey is the response header in which the meta leader returns the
// meta log index of the change it applied, so the node that forwarded the
// call can wait until its own metadata includes it (read-your-writes for
// the operator's next command, whichever node it reaches through).
const metaIndexKey = "x-tandem-meta-index"

// announceMetaIndex tells a forwarding node which meta index to wait for.
func announceMetaIndex(ctx context.Context, index uint64) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(metaIndexKey, strconv.FormatUint(index, 10)))
}

// forward calls the meta leader and then waits until this node's metadata
// has caught up with the change the leader made.
func forward[Req, Resp any](n *Node, ctx context.Context, call func(context.Context, Req, ...grpc.CallOption) (Resp, error), fctx context.Context, req Req) (Resp, error) {
	var md metadata.MD
	resp, err := call(fctx, req, grpc.Header(&md))
	if err != nil {
		return resp, err
	}
	var index uint64
	for _, v := range md.Get(metaIndexKey) {
		if i, perr := strconv.ParseUint(v, 10, 64); perr == nil && i > index {
			index = i
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if werr := n.meta.waitApplied(wctx, index); werr != nil {
		n.lg.Warn("metadata did not catch up after a forwarded change", zap.Uint64("index", index), zap.Error(werr))
	}
	return resp, nil
}

// onMetaLeader runs local when this node leads the meta group, and
// otherwise forwards req to the leader with rpc (a method expression of
// tpb.AdminClient, e.g. tpb.AdminClient.DropTable).
func onMetaLeader[Req, Resp any](n *Node, ctx context.Context, req Req,
	rpc func(tpb.AdminClient, context.Context, Req, ...grpc.CallOption) (Resp, error), local func() (Resp, error)) (Resp, error) {
	leader, fctx, err := n.metaLeaderAdmin(ctx)
	if err != nil {
		var zero Resp
		return zero, toStatus(err)
	}
	if leader != nil {
		call := func(c context.Context, r Req, opts ...grpc.CallOption) (Resp, error) {
			return rpc(leader, c, r, opts...)
		}
		return forward(n, ctx, call, fctx, req)
	}
	return local()
}

// onMetaLeaderOrLocal is onMetaLeader for views: without a reachable meta
// leader it answers from this node's metadata rather than fail.
func onMetaLeaderOrLocal[Req, Resp any](n *Node, ctx context.Context, req Req,
	rpc func(tpb.AdminClient, context.Context, Req, ...grpc.CallOption) (Resp, error), local func() (Resp, error)) (Resp, error) {
	leader, fctx, err := n.metaLeaderAdmin(ctx)
	if err != nil || leader == nil {
		return local()
	}
	resp, err := rpc(leader, fctx, req)
	if status.Code(err) == codes.Unavailable {
		return local()
	}
	return resp, err
}
