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

// Move phases and reasons.
const (
	phaseAdding    = "adding"
	phasePromoting = "promoting"
	phaseRemoving  = "removing"
	phaseDone      = "done"
	phaseAborted   = "aborted"

	reasonDead     = "dead"
	reasonRemoved  = "removed"
	reasonDraining = "draining"
	reasonBalance  = "balance"
)

// MoveMeta is one replica of a partition moving from one node to another.
type MoveMeta struct {
	Table     string `json:"table"`
	TableID   uint64 `json:"table_id"`
	Partition uint32 `json:"partition"`
	From      string `json:"from"`
	To        string `json:"to"`
	Phase     string `json:"phase"`
	Reason    string `json:"reason"`
	StartedMs int64  `json:"started_ms"`
}

// moveKey names a partition's move: one move per partition at a time.
func moveKey(table string, partition uint32) string { return fmt.Sprintf("%s/%d", table, partition) }

// movingCounts counts the moves each node takes part in.
func movingCounts(s *MetaState) map[string]uint32 {
	out := map[string]uint32{}
	for _, mv := range s.Moves {
		out[mv.From]++
		out[mv.To]++
	}
	return out
}

// Meta log operations of replica moves.
const (
	opStartMove  = "start_move"
	opMovePhase  = "move_phase"
	opFinishMove = "finish_move"
	opAbortMove  = "abort_move"
)

func init() {
	metaCommands[opStartMove] = func() metaCommand { return &startMoveCmd{} }
	metaCommands[opMovePhase] = func() metaCommand { return &movePhaseCmd{} }
	metaCommands[opFinishMove] = func() metaCommand { return &finishMoveCmd{} }
	metaCommands[opAbortMove] = func() metaCommand { return &abortMoveCmd{} }
	for _, op := range []string{opStartMove, opMovePhase, opFinishMove, opAbortMove} {
		membershipOps[op] = true
	}
}

// startMoveCmd records a move: From is a replica of the partition, To is
// not, and the partition has no other move.
type startMoveCmd struct {
	Move *MoveMeta `json:"move"`
}

func (*startMoveCmd) op() string { return opStartMove }

func (c *startMoveCmd) check() error {
	if c.Move == nil || c.Move.Table == "" || c.Move.From == "" || c.Move.To == "" {
		return fmt.Errorf("%w: %s without a table, from and to", errMalformedMeta, opStartMove)
	}
	return nil
}

func (c *startMoveCmd) apply(s *MetaState) metaResult {
	mv := *c.Move
	t, ok := s.Tables[mv.Table]
	switch {
	case !ok || t.ID != mv.TableID:
		return metaResult{Err: fmt.Errorf("move of %s/%d: table %q: %w", mv.Table, mv.Partition, mv.Table, ErrTableNotFound)}
	case mv.Partition >= t.Partitions:
		return metaResult{Err: fmt.Errorf("%w: move of %s/%d: no such partition", ErrInvalidArgument, mv.Table, mv.Partition)}
	case s.Moves[moveKey(mv.Table, mv.Partition)] != nil:
		return metaResult{Err: fmt.Errorf("%w: %s/%d is moving already", ErrInvalidArgument, mv.Table, mv.Partition)}
	case !contains(t.Placement[mv.Partition], mv.From) || contains(t.Placement[mv.Partition], mv.To):
		return metaResult{Err: fmt.Errorf("%w: move of %s/%d from %s to %s does not fit placement %v", ErrInvalidArgument, mv.Table, mv.Partition, mv.From, mv.To, t.Placement[mv.Partition])}
	}
	if mv.Phase == "" {
		mv.Phase = phaseAdding
	}
	s.Moves[moveKey(mv.Table, mv.Partition)] = &mv
	s.Reconfigured[groupID(t.ID, mv.Partition)] = true
	return metaResult{}
}

// movePhaseCmd records the phase a move reached (for people: the phase
// itself is the partition's raft configuration).
type movePhaseCmd struct {
	Key   string `json:"key"`
	Phase string `json:"phase"`
}

func (*movePhaseCmd) op() string   { return opMovePhase }
func (*movePhaseCmd) check() error { return nil }

func (c *movePhaseCmd) apply(s *MetaState) metaResult {
	if mv := s.Moves[c.Key]; mv != nil {
		mv.Phase = c.Phase
	}
	return metaResult{}
}

// finishMoveCmd ends a move whose raft changes are done: To replaces From
// in the placement.
type finishMoveCmd struct {
	Key string `json:"key"`
}

func (*finishMoveCmd) op() string   { return opFinishMove }
func (*finishMoveCmd) check() error { return nil }

func (c *finishMoveCmd) apply(s *MetaState) metaResult {
	mv := s.Moves[c.Key]
	if mv == nil {
		return metaResult{}
	}
	delete(s.Moves, c.Key)
	t, ok := s.Tables[mv.Table]
	if !ok || t.ID != mv.TableID {
		return metaResult{}
	}
	nodes := append([]string(nil), t.Placement[mv.Partition]...)
	for i, id := range nodes {
		if id == mv.From {
			nodes[i] = mv.To
		}
	}
	t.Placement[mv.Partition] = nodes
	return metaResult{}
}

// abortMoveCmd drops a move whose target left before it was promoted (the
// partition's leader has taken it back out of the group); the placement
// is unchanged, and the planner starts another move.
type abortMoveCmd struct {
	Key string `json:"key"`
}

func (*abortMoveCmd) op() string   { return opAbortMove }
func (*abortMoveCmd) check() error { return nil }

func (c *abortMoveCmd) apply(s *MetaState) metaResult {
	delete(s.Moves, c.Key)
	return metaResult{}
}
