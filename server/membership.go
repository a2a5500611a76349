package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Membership: the node registry in the meta group, --join, the address
// book every raft transport of the node dials through, and the meta
// group's voters. Liveness is in membership_liveness.go, replica moves in
// membership_moves.go.

// addressBook resolves node ids to addresses: this node's --peers first
// (each node may have its own route to a peer), then the registry, which
// is how nodes that joined later are found. Reads are lock-free: raft
// transports ask on every new connection, the heartbeat hub more often.
type addressBook struct {
	peers map[string]string
	reg   atomic.Pointer[map[string]string]
}

var _ raft.ServerAddressProvider = (*addressBook)(nil)

func newAddressBook(peers []Peer) *addressBook {
	b := &addressBook{peers: map[string]string{}}
	for _, p := range peers {
		b.peers[p.ID] = p.Addr
	}
	empty := map[string]string{}
	b.reg.Store(&empty)
	return b
}

// addr returns node id's address, "" when unknown.
func (b *addressBook) addr(id string) string {
	if a, ok := b.peers[id]; ok {
		return a
	}
	return (*b.reg.Load())[id]
}

// ServerAddr implements raft.ServerAddressProvider.
func (b *addressBook) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a := b.addr(string(id)); a != "" {
		return raft.ServerAddress(a), nil
	}
	return "", fmt.Errorf("raft server %q: %w", id, ErrUnknownPeer)
}

// setRegistry replaces the registry's addresses; it reports the ids added
// and removed (state removed) since the last call.
func (b *addressBook) setRegistry(nodes map[string]*NodeMeta) (added, gone []string) {
	old := *b.reg.Load()
	next := make(map[string]string, len(nodes))
	for id, nm := range nodes {
		if nm.State == nodeRemoved {
			if _, was := old[id]; was {
				gone = append(gone, id)
			}
			continue
		}
		next[id] = nm.Addr
		if _, was := old[id]; !was {
			added = append(added, id)
		}
	}
	b.reg.Store(&next)
	return added, gone
}

// onRegistryChange follows the registry: new nodes are dialled through the
// book already; PeerWatch starts or stops watching them.
func (n *Node) onRegistryChange() {
	var nodes map[string]*NodeMeta
	n.meta.fsm.view(func(s *MetaState) {
		nodes = make(map[string]*NodeMeta, len(s.Nodes))
		for id, nm := range s.Nodes {
			c := *nm
			nodes[id] = &c
		}
	})
	if self := nodes[n.cfg.NodeID]; self != nil && self.State == nodeRemoved && !n.removed.Swap(true) {
		n.lg.Error("this node was removed from the cluster: it no longer serves; stop it (its id cannot join again)")
	}
	added, gone := n.book.setRegistry(nodes)
	for _, id := range added {
		if id != n.cfg.NodeID {
			n.watch.Watch(id, n.book.addr(id))
		}
	}
	for _, id := range gone {
		n.watch.Unwatch(id)
	}
}

// members lists the cluster's nodes by id: the registry's (removed ones
// excepted) and this node's --peers (the registry of a cluster that
// predates it is filled in by the meta leader shortly after start).
func (n *Node) members() []Peer {
	seen := map[string]bool{}
	var out []Peer
	n.meta.fsm.view(func(s *MetaState) {
		for id, nm := range s.Nodes {
			seen[id] = true
			if nm.State != nodeRemoved {
				out = append(out, Peer{ID: id, Addr: n.book.addr(id)})
			}
		}
	})
	for _, p := range n.peers {
		if !seen[p.ID] {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// placeableNodes lists the ids of nodes new replicas may go to: alive
// registered nodes, and --peers nodes not registered yet.
func (n *Node) placeableNodes() []string {
	var out []string
	seen := map[string]bool{}
	n.meta.fsm.view(func(s *MetaState) {
		for id, nm := range s.Nodes {
			seen[id] = true
			if nm.placeable() {
				out = append(out, id)
			}
		}
	})
	for _, p := range n.peers {
		if !seen[p.ID] {
			out = append(out, p.ID)
		}
	}
	sort.Strings(out)
	return out
}

// joinTimeout bounds how long a node started with --join keeps asking.
const joinTimeout = 60 * time.Second

// join asks the cluster at cfg.Join to register this node. A node that
// has joined before (meta state on disk) goes on without an answer: its
// meta group knows the members.
func (n *Node) join(restart bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	if restart {
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	req := &tpb.JoinClusterRequest{NodeId: n.cfg.NodeID, Addr: n.Addr(), Cluster: n.cfg.Cluster}
	for {
		resp, err := n.callJoin(ctx, req)
		if err == nil {
			if resp.Cluster != n.cfg.Cluster {
				return fmt.Errorf("%w: %s is cluster %q, this node is started with --cluster %q", ErrWrongCluster, n.cfg.Join, resp.Cluster, n.cfg.Cluster)
			}
			n.lg.Info("joined cluster", zap.String("via", n.cfg.Join), zap.Int("members", len(resp.Members)))
			return nil
		}
		if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
			return fmt.Errorf("join cluster via %s: %w", n.cfg.Join, fromStatus(err))
		}
		if restart && ctx.Err() != nil {
			n.lg.Warn("rejoin not confirmed; going on with the members on disk", zap.Error(err))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("join cluster via %s: %w (last error: %v)", n.cfg.Join, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) callJoin(ctx context.Context, req *tpb.JoinClusterRequest) (*tpb.JoinClusterResponse, error) {
	c, err := n.admin(n.cfg.Join)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.JoinCluster(cctx, req)
}

// fromStatus turns a refusal of the cluster back into this package's
// sentinels, so a node that may not join says why in its own terms.
func fromStatus(err error) error {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			switch info.GetReason() {
			case tpb.ReasonNodeRemoved:
				return fmt.Errorf("%w: %s", ErrNodeRemoved, st.Message())
			case tpb.ReasonWrongCluster:
				return fmt.Errorf("%w: %s", ErrWrongCluster, st.Message())
			}
		}
	}
	return err
}

// joinCluster registers a joining node and adds it to the meta group as a
// non-voter; it runs on the meta leader. Joining again is harmless.
func (n *Node) joinCluster(ctx context.Context, req *tpb.JoinClusterRequest) (*tpb.JoinClusterResponse, error) {
	switch {
	case req.Cluster != n.cfg.Cluster:
		return nil, fmt.Errorf("%w: this is cluster %q, the joining node %s says %q", ErrWrongCluster, n.cfg.Cluster, req.NodeId, req.Cluster)
	case !validName(req.NodeId):
		return nil, fmt.Errorf("node id %q: %w", req.NodeId, ErrInvalidName)
	case !validHostPort(req.Addr):
		return nil, fmt.Errorf("%w: node %s address %q: want HOST:PORT", ErrInvalidArgument, req.NodeId, req.Addr)
	}
	nm := &NodeMeta{ID: req.NodeId, Addr: req.Addr, State: nodeAlive, JoinedAtMs: n.cfg.Now().UnixMilli(), Joined: true}
	if _, _, err := n.meta.apply(ctx, &registerNodeCmd{Node: nm}); err != nil {
		return nil, err
	}
	if err := n.meta.addNonvoter(req.NodeId, n.book.addr(req.NodeId)); err != nil {
		return nil, err
	}
	n.lg.Info("node joined", zap.String("joining", req.NodeId), zap.String("addr", req.Addr))
	resp := &tpb.JoinClusterResponse{Cluster: n.cfg.Cluster}
	for _, p := range n.members() {
		resp.Members = append(resp.Members, &tpb.NodeInfo{Id: p.ID, Addr: p.Addr})
	}
	return resp, nil
}

// registerPeers records the leader's --peers nodes that the registry lacks
// (clusters created before it, and the first start of a new one).
func (n *Node) registerPeers(ctx context.Context) {
	var missing []Peer
	n.meta.fsm.view(func(s *MetaState) {
		for _, p := range n.peers {
			if _, ok := s.Nodes[p.ID]; !ok {
				missing = append(missing, p)
			}
		}
	})
	for _, p := range missing {
		nm := &NodeMeta{ID: p.ID, Addr: p.Addr, State: nodeAlive, JoinedAtMs: n.cfg.Now().UnixMilli()}
		if _, _, err := n.meta.apply(ctx, &registerNodeCmd{Node: nm}); err != nil {
			n.lg.Warn("register peer", zap.String("peer", p.ID), zap.Error(err))
			return
		}
	}
}

// membershipStatus translates membership refusals at the gRPC edge, with
// a reason the SDK turns into its own sentinel.
func membershipStatus(err error) (error, bool) {
	for _, m := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{ErrUnknownNode, codes.NotFound, tpb.ReasonUnknownNode},
		{ErrNodeRemoved, codes.FailedPrecondition, tpb.ReasonNodeRemoved},
		{ErrLastCopy, codes.FailedPrecondition, tpb.ReasonLastCopy},
		{ErrLastVoter, codes.FailedPrecondition, tpb.ReasonLastVoter},
		{ErrWrongCluster, codes.FailedPrecondition, tpb.ReasonWrongCluster},
		{ErrNotDrained, codes.FailedPrecondition, tpb.ReasonNotDrained},
	} {
		if errors.Is(err, m.err) {
			return withReason(m.code, err.Error(), m.reason), true
		}
	}
	return nil, false
}

// refuseIfRemoved answers every call to a removed node with Unavailable
// and an empty NotLeader detail: nothing was done, ask another node (its
// metadata no longer follows the cluster's, so it must not answer).
func (n *Node) refuseIfRemoved(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !n.removed.Load() {
		return h(ctx, req)
	}
	st := status.New(codes.Unavailable, fmt.Sprintf("node %s was removed from the cluster; ask another node", n.cfg.NodeID))
	if d, err := st.WithDetails(&tpb.NotLeader{}); err == nil {
		st = d
	}
	return nil, st.Err()
}
