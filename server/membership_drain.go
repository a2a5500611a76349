package server

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// node drain and node rm, on the meta leader. A drain marks the node
// draining: the planner moves every replica off it (leadership goes with
// the move, handed on before the leader leaves its group) and the meta
// group replaces its vote. node rm marks a drained or dead node removed:
// it leaves the meta group and the address book, and anything still placed
// on it moves.

// stateWithPeer returns the meta state, first registering the --peers
// nodes when id is one the registry lacks: right after a start, before the
// leader's membership round ran, a --peers node is not unknown.
func (n *Node) stateWithPeer(ctx context.Context, id string) *MetaState {
	st := n.meta.state()
	if _, ok := st.Nodes[id]; ok {
		return st
	}
	for _, p := range n.peers {
		if p.ID == id {
			n.registerPeers(ctx)
			return n.meta.state()
		}
	}
	return st
}

// drainNode marks node id draining.
func (n *Node) drainNode(ctx context.Context, id string) (*tpb.NodeInfo, error) {
	st := n.stateWithPeer(ctx, id)
	nm, ok := st.Nodes[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("node %q (known: %v): %w", id, nodeIDs(st), ErrUnknownNode)
	case nm.State == nodeRemoved:
		return nil, fmt.Errorf("node %s: %w", id, ErrNodeRemoved)
	}
	if others, need := otherLiveNodes(st, id), maxReplicas(st); others < need {
		return nil, fmt.Errorf("%w: draining %s leaves %d live nodes for tables of %d replicas", ErrLastVoter, id, others, need)
	}
	if err := n.checkMetaQuorumWithout(st, id); err != nil {
		return nil, err
	}
	if nm.State != nodeDraining {
		if _, _, err := n.meta.apply(ctx, &setNodeStateCmd{ID: id, State: nodeDraining}); err != nil {
			return nil, err
		}
		n.lg.Info("node draining", zap.String("peer", id), zap.Int("replicas", placedOn(st, id)))
	}
	return n.nodeInfo(id), nil
}

// removeNode marks a drained or dead node removed.
func (n *Node) removeNode(ctx context.Context, id string) (*tpb.NodeInfo, error) {
	st := n.stateWithPeer(ctx, id)
	nm, ok := st.Nodes[id]
	if !ok {
		return nil, fmt.Errorf("node %q (known: %v): %w", id, nodeIDs(st), ErrUnknownNode)
	}
	if nm.State == nodeRemoved {
		return n.nodeInfo(id), nil
	}
	verdict := n.live.verdict(nm, n.cfg.Now(), n.limits().DeadNodeTimeout)
	if verdict != nodeDead && nm.State != nodeDraining {
		return nil, fmt.Errorf("%w: %s is %s; drain it first (node drain %s), or wait until it is dead", ErrNotDrained, id, verdict, id)
	}
	if where := onlyCopies(st, id); where != "" {
		return nil, fmt.Errorf("%w: %s holds the only live replica of %s; wait for its moves (rebalance) or bring it back", ErrLastCopy, id, where)
	}
	if err := n.checkMetaQuorumWithout(st, id); err != nil {
		return nil, err
	}
	if _, _, err := n.meta.apply(ctx, &setNodeStateCmd{ID: id, State: nodeRemoved}); err != nil {
		return nil, err
	}
	n.lg.Warn("node removed from the cluster", zap.String("peer", id), zap.String("was", verdict), zap.Int("replicas", placedOn(st, id)))
	return n.nodeInfo(id), nil
}

// nodeInfo is one node's line of the nodes view.
func (n *Node) nodeInfo(id string) *tpb.NodeInfo {
	for _, ni := range n.nodesView().Nodes {
		if ni.Id == id {
			return ni
		}
	}
	return &tpb.NodeInfo{Id: id}
}

// checkMetaQuorumWithout refuses losing node id's meta vote when the
// other alive voters would not be a quorum of the voters left.
func (n *Node) checkMetaQuorumWithout(st *MetaState, id string) error {
	servers, err := n.meta.metaServers()
	if err != nil {
		return err
	}
	voters, alive, isVoter := 0, 0, false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if string(s.ID) == id {
			isVoter = true
			continue
		}
		voters++
		if nm := st.Nodes[string(s.ID)]; nm == nil || nm.State == nodeAlive || string(s.ID) == n.cfg.NodeID {
			alive++
		}
	}
	if isVoter && (voters == 0 || alive < voters/2+1) {
		return fmt.Errorf("%w: %s is a meta voter and only %d of the %d other voters are alive", ErrLastVoter, id, alive, voters)
	}
	return nil
}

// onlyCopies names a partition whose only live replica is on node id ("":
// none).
func onlyCopies(st *MetaState, id string) string {
	for _, t := range st.sortedTables() {
		for p, nodes := range t.Placement {
			if !contains(nodes, id) {
				continue
			}
			live := 0
			for _, other := range nodes {
				if nm := st.Nodes[other]; other != id && (nm == nil || nm.State == nodeAlive || nm.State == nodeDraining) {
					live++
				}
			}
			if live == 0 {
				return fmt.Sprintf("%s partition %d", t.Name, p)
			}
		}
	}
	return ""
}

func otherLiveNodes(st *MetaState, id string) int {
	count := 0
	for _, nm := range st.Nodes {
		if nm.ID != id && nm.State == nodeAlive {
			count++
		}
	}
	return count
}

func maxReplicas(st *MetaState) int {
	most := 0
	for _, t := range st.Tables {
		most = max(most, int(t.Replicas))
	}
	return most
}

func placedOn(st *MetaState, id string) int {
	count := 0
	for _, t := range st.Tables {
		for _, nodes := range t.Placement {
			if contains(nodes, id) {
				count++
			}
		}
	}
	return count
}

func nodeIDs(st *MetaState) []string {
	var ids []string
	for _, nm := range st.sortedNodes() {
		ids = append(ids, nm.ID)
	}
	return ids
}

// handOffMetaLeadership makes a draining or removed meta leader hand the
// meta group to another voter, which then takes its vote away.
func (n *Node) handOffMetaLeadership() {
	st := n.meta.state()
	nm := st.Nodes[n.cfg.NodeID]
	if nm == nil || (nm.State != nodeDraining && nm.State != nodeRemoved) {
		return
	}
	if err := n.meta.raft.LeadershipTransfer().Error(); err != nil {
		n.lg.Warn("hand off meta leadership", zap.Error(err))
		return
	}
	n.lg.Info("meta leadership handed off: this node is " + nm.State)
	time.Sleep(heartbeatInterval)
}
