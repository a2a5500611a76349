package server

import (
	"fmt"
	"sort"
)

// Node states in the registry. alive and dead are the meta leader's
// liveness verdicts (suspect is only ever its in-memory view, never
// written); draining and removed are the operator's.
const (
	nodeAlive    = "alive"
	nodeSuspect  = "suspect"
	nodeDead     = "dead"
	nodeDraining = "draining"
	nodeRemoved  = "removed"
)

// NodeMeta is one node of the cluster as the meta group records it.
type NodeMeta struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	// State is alive, dead, draining or removed.
	State      string `json:"state"`
	JoinedAtMs int64  `json:"joined_at_ms"`
	// Joined is set for nodes that came with --join rather than --peers.
	Joined bool `json:"joined,omitempty"`
}

// placeable reports whether placement may put new replicas on the node.
func (m *NodeMeta) placeable() bool { return m.State == nodeAlive }

// Meta log operations of the node registry.
const (
	opRegisterNode = "register_node"
	opSetNodeState = "set_node_state"
)

// membershipOps are the membership operations. They are newer than the
// legacy encoding: nodes that predate typed commands stop at them (a
// cluster is upgraded before its membership changes).
var membershipOps = map[string]bool{opRegisterNode: true, opSetNodeState: true}

func init() {
	metaCommands[opRegisterNode] = func() metaCommand { return &registerNodeCmd{} }
	metaCommands[opSetNodeState] = func() metaCommand { return &setNodeStateCmd{} }
}

// registerNodeCmd adds a node to the registry, or updates the address of
// a registered one (a node restarted elsewhere); a removed node stays
// removed.
type registerNodeCmd struct {
	Node *NodeMeta `json:"node"`
}

func (*registerNodeCmd) op() string { return opRegisterNode }

func (c *registerNodeCmd) check() error {
	if c.Node == nil || c.Node.ID == "" || c.Node.Addr == "" {
		return fmt.Errorf("%w: %s without a node id and address", errMalformedMeta, opRegisterNode)
	}
	return nil
}

func (c *registerNodeCmd) apply(s *MetaState) metaResult {
	if have, ok := s.Nodes[c.Node.ID]; ok {
		if have.State == nodeRemoved {
			return metaResult{Err: fmt.Errorf("node %s: %w", c.Node.ID, ErrNodeRemoved)}
		}
		have.Addr = c.Node.Addr
		return metaResult{}
	}
	n := *c.Node
	if n.State == "" {
		n.State = nodeAlive
	}
	s.Nodes[n.ID] = &n
	return metaResult{}
}

// setNodeStateCmd changes a registered node's state. From, when set, makes
// the change conditional (the liveness verdict of a leader that may be
// stale must not undo an operator's drain).
type setNodeStateCmd struct {
	ID    string `json:"id"`
	State string `json:"state"`
	From  string `json:"from,omitempty"`
}

func (*setNodeStateCmd) op() string { return opSetNodeState }

func (c *setNodeStateCmd) check() error {
	switch c.State {
	case nodeAlive, nodeDead, nodeDraining, nodeRemoved:
		return nil
	}
	return fmt.Errorf("%w: %s: state %q", errMalformedMeta, opSetNodeState, c.State)
}

func (c *setNodeStateCmd) apply(s *MetaState) metaResult {
	n, ok := s.Nodes[c.ID]
	if !ok {
		return metaResult{Err: fmt.Errorf("node %q: %w", c.ID, ErrUnknownNode)}
	}
	if c.From != "" && n.State != c.From {
		return metaResult{}
	}
	if n.State == nodeRemoved {
		return metaResult{Err: fmt.Errorf("node %s: %w", c.ID, ErrNodeRemoved)}
	}
	n.State = c.State
	return metaResult{}
}

// sortedNodes lists the registry by id.
func (s *MetaState) sortedNodes() []*NodeMeta {
	out := make([]*NodeMeta, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
