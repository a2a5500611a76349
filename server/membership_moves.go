package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// Replica moves. The meta leader decides them (planMoves, a pure function
// of the meta state) and records each in the meta state; then, every
// round, asks the partition's leader for the next step (MoveStep), which
// reads the group's raft configuration and makes the one change it needs:
// add the target as a non-voter (raft catches it up, by snapshot when the
// log it needs is compacted), promote it once its applied decree is close
// to the leader's, remove the replaced member (after handing leadership
// on, if the leader is the one leaving). A move whose target dies or
// leaves before its promotion is aborted (the target taken back out) and
// planned again elsewhere; once promoted it completes, and the target's
// own replicas are then moved like any dead node's. Every step is idempotent, so a
// move resumes after either leader changes. When the configuration is
// done, the meta leader replaces the member in the placement; the node
// that left destroys its replica.

// moveCatchUpSlack is how many decrees behind the leader a new member may
// be when it is promoted.
const moveCatchUpSlack = 64

// moveStepTimeout bounds one MoveStep call.
const moveStepTimeout = 15 * time.Second

// planMoves decides new moves: every replica on a dead, removed or
// draining node moves to the live node (not already a replica of the
// partition, not suspect) with the fewest replicas, ties by id; no node
// takes part in more than maxPerNode moves at once (a dead node does no
// work: it is not counted). Partitions already moving wait. When nothing
// needs re-replication, replicas move from the fullest to the emptiest
// live node while their counts differ by more than one (planBalance).
func planMoves(s *MetaState, suspect map[string]bool, maxPerNode int, now time.Time) []*MoveMeta {
	load, busy := map[string]int{}, movingCounts(s)
	var live []string
	for _, nm := range s.sortedNodes() {
		if nm.placeable() && !suspect[nm.ID] {
			live = append(live, nm.ID)
			load[nm.ID] = 0
		}
	}
	for _, t := range s.Tables {
		for _, nodes := range t.Placement {
			for _, id := range nodes {
				load[id]++
			}
		}
	}
	for _, mv := range s.Moves {
		load[mv.To]++
	}
	var out []*MoveMeta
	for _, t := range s.sortedTables() {
		for p, nodes := range t.Placement {
			if s.Moves[moveKey(t.Name, uint32(p))] != nil {
				continue
			}
			for _, from := range nodes {
				reason := moveReason(s.Nodes[from])
				if reason == "" || (reason == reasonDraining && int(busy[from]) >= maxPerNode) {
					continue
				}
				to := pickTarget(live, nodes, load, busy, maxPerNode)
				if to == "" {
					continue
				}
				out = append(out, &MoveMeta{Table: t.Name, TableID: t.ID, Partition: uint32(p), From: from, To: to,
					Phase: phaseAdding, Reason: reason, StartedMs: now.UnixMilli()})
				load[to]++
				busy[to]++
				if reason == reasonDraining {
					busy[from]++
				}
				break // one move per partition at a time
			}
		}
	}
	if len(out) == 0 && len(s.Moves) == 0 && len(live) == len(s.aliveNodes()) {
		out = planBalance(s, live, load, busy, maxPerNode, now)
	}
	return out
}

// aliveNodes lists the registered nodes in state alive.
func (s *MetaState) aliveNodes() []string {
	var out []string
	for _, nm := range s.sortedNodes() {
		if nm.State == nodeAlive {
			out = append(out, nm.ID)
		}
	}
	return out
}

// planBalance moves replicas from the live node with the most to the one
// with the fewest while they differ by more than one: the end state
// (every count within one of even) is stable, so nothing flaps. It runs
// only when every registered node is alive and nothing else moves.
func planBalance(s *MetaState, live []string, load map[string]int, busy map[string]uint32, maxPerNode int, now time.Time) []*MoveMeta {
	var out []*MoveMeta
	for len(live) > 1 {
		sorted := append([]string(nil), live...)
		sort.SliceStable(sorted, func(i, j int) bool { return load[sorted[i]] < load[sorted[j]] })
		lo, hi := sorted[0], sorted[len(sorted)-1]
		if load[hi]-load[lo] <= 1 || int(busy[lo]) >= maxPerNode || int(busy[hi]) >= maxPerNode {
			return out
		}
		mv := balanceCandidate(s, hi, lo, out)
		if mv == nil {
			return out
		}
		mv.Reason, mv.Phase, mv.StartedMs = reasonBalance, phaseAdding, now.UnixMilli()
		out = append(out, mv)
		load[hi]--
		load[lo]++
		busy[hi]++
		busy[lo]++
	}
	return out
}

// balanceCandidate is a partition with a replica on from and none on to,
// not moving and not in planned.
func balanceCandidate(s *MetaState, from, to string, planned []*MoveMeta) *MoveMeta {
	taken := map[string]bool{}
	for _, mv := range planned {
		taken[moveKey(mv.Table, mv.Partition)] = true
	}
	for _, t := range s.sortedTables() {
		for p, nodes := range t.Placement {
			key := moveKey(t.Name, uint32(p))
			if contains(nodes, from) && !contains(nodes, to) && s.Moves[key] == nil && !taken[key] {
				return &MoveMeta{Table: t.Name, TableID: t.ID, Partition: uint32(p), From: from, To: to}
			}
		}
	}
	return nil
}

// moveReason is why a replica on node nm must move, "" when it stays.
func moveReason(nm *NodeMeta) string {
	if nm == nil {
		return ""
	}
	switch nm.State {
	case nodeDead:
		return reasonDead
	case nodeRemoved:
		return reasonRemoved
	case nodeDraining:
		return reasonDraining
	}
	return ""
}

// pickTarget is the least-loaded live node that is not a replica of the
// partition and has room for another move.
func pickTarget(live, replicas []string, load map[string]int, busy map[string]uint32, maxPerNode int) string {
	best := ""
	for _, id := range live {
		if contains(replicas, id) || int(busy[id]) >= maxPerNode {
			continue
		}
		if best == "" || load[id] < load[best] {
			best = id
		}
	}
	return best
}

// runMoves is the meta leader's part of a round: start the moves the
// state needs, then advance every move in progress.
func (n *Node) runMoves(ctx context.Context) {
	st := n.meta.state()
	for _, mv := range planMoves(st, n.suspects(st), n.limits().MaxMovesPerNode, n.cfg.Now()) {
		if _, _, err := n.meta.apply(ctx, &startMoveCmd{Move: mv}); err != nil {
			n.lg.Warn("start replica move", zap.String("table", mv.Table), zap.Uint32("partition", mv.Partition), zap.Error(err))
			return
		}
		n.lg.Info("replica move started", zap.String("table", mv.Table), zap.Uint32("partition", mv.Partition),
			zap.String("from", mv.From), zap.String("to", mv.To), zap.String("reason", mv.Reason))
	}
	st = n.meta.state()
	var steps []func()
	for _, t := range st.sortedTables() {
		var moves []*MoveMeta
		for _, mv := range st.Moves {
			if mv.Table == t.Name {
				moves = append(moves, mv)
			}
		}
		if len(moves) == 0 {
			continue
		}
		parts := n.partitionsInfo(ctx, t)
		for _, mv := range moves {
			mv, leader := mv, parts[mv.Partition]
			abort := st.Nodes[mv.To] == nil || st.Nodes[mv.To].State != nodeAlive
			steps = append(steps, func() { n.advanceMove(ctx, mv, leader.LeaderId, leader.LeaderAddr, abort) })
		}
	}
	for key, mv := range st.Moves {
		if t, ok := st.Tables[mv.Table]; !ok || t.ID != mv.TableID {
			_, _, _ = n.meta.apply(ctx, &finishMoveCmd{Key: key}) // its table was dropped
		}
	}
	runParallel(steps, 8)
}

// advanceMove asks the partition's leader for the move's next step and
// records what it reports.
func (n *Node) advanceMove(ctx context.Context, mv *MoveMeta, leaderID, leaderAddr string, abort bool) {
	if leaderAddr == "" {
		return // no leader now: the next round tries again
	}
	req := &tpb.MoveStepRequest{Table: mv.Table, Partition: mv.Partition, FromNode: mv.From, ToNode: mv.To, ToAddr: n.book.addr(mv.To), Abort: abort}
	sctx, cancel := context.WithTimeout(ctx, moveStepTimeout)
	defer cancel()
	var resp *tpb.MoveStepResponse
	var err error
	if leaderID == n.cfg.NodeID {
		resp, err = n.moveStep(sctx, req)
	} else if c, cerr := n.admin(n.dialAddr(leaderID, leaderAddr)); cerr != nil {
		err = cerr
	} else {
		resp, err = c.MoveStep(sctx, req)
	}
	if err != nil {
		n.lg.Debug("replica move step", zap.String("table", mv.Table), zap.Uint32("partition", mv.Partition), zap.Error(err))
		return
	}
	key := moveKey(mv.Table, mv.Partition)
	switch {
	case resp.Phase == phaseAborted:
		if _, _, err := n.meta.apply(ctx, &abortMoveCmd{Key: key}); err == nil {
			n.lg.Warn("replica move aborted: its target left", zap.String("table", mv.Table), zap.Uint32("partition", mv.Partition),
				zap.String("from", mv.From), zap.String("to", mv.To))
		}
	case resp.Phase == phaseDone:
		if _, _, err := n.meta.apply(ctx, &finishMoveCmd{Key: key}); err == nil {
			n.movesDone.Add(1)
			n.lg.Info("replica move done", zap.String("table", mv.Table), zap.Uint32("partition", mv.Partition),
				zap.String("from", mv.From), zap.String("to", mv.To), zap.String("reason", mv.Reason),
				zap.Duration("took", n.cfg.Now().Sub(time.UnixMilli(mv.StartedMs))))
		}
	case resp.Phase != mv.Phase:
		_, _, _ = n.meta.apply(ctx, &movePhaseCmd{Key: key, Phase: resp.Phase})
	}
}

// moveStep makes the next raft membership change of a move on this node,
// which must lead the partition.
func (n *Node) moveStep(ctx context.Context, req *tpb.MoveStepRequest) (*tpb.MoveStepResponse, error) {
	t, ok := n.table(req.Table)
	if !ok {
		return nil, fmt.Errorf("table %q: %w", req.Table, ErrTableNotFound)
	}
	r := n.replica(groupID(t.ID, req.Partition))
	if r == nil || !r.IsLeader() {
		return nil, &notLeaderError{table: req.Table, partition: req.Partition, cause: replica.ErrNotLeader}
	}
	members, err := r.Members()
	if err != nil {
		return nil, err
	}
	to, hasTo := findMember(members, req.ToNode)
	_, hasFrom := findMember(members, req.FromNode)
	addr := req.ToAddr
	if addr == "" {
		addr = n.book.addr(req.ToNode)
	}
	switch {
	case req.Abort && !hasTo:
		return phase(phaseAborted, nil)
	case req.Abort && !to.Voter:
		// Not promoted yet: the group never counted on it.
		return phase(phaseAborted, r.RemoveMember(req.ToNode))
	case !hasTo:
		return phase(phaseAdding, r.AddNonvoter(req.ToNode, addr))
	case !to.Voter:
		if !n.caughtUp(ctx, r, req.Table, req.Partition, addr) {
			return phase(phaseAdding, nil)
		}
		return phase(phasePromoting, r.Promote(req.ToNode, addr))
	case hasFrom && req.FromNode == n.cfg.NodeID:
		// The leader is the member leaving: hand leadership to the new
		// member (caught up: it was promoted so), which then removes it.
		return phase(phaseRemoving, r.TransferLeadership(req.ToNode))
	case hasFrom:
		if err := r.RemoveMember(req.FromNode); err != nil {
			return phase(phaseRemoving, err)
		}
	}
	return phase(phaseDone, nil)
}

func phase(p string, err error) (*tpb.MoveStepResponse, error) {
	if err != nil {
		return nil, err
	}
	return &tpb.MoveStepResponse{Phase: p}, nil
}

func findMember(ms []replica.Member, id string) (replica.Member, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return replica.Member{}, false
}

// caughtUp reports whether the new member at addr has applied the
// partition's log to within moveCatchUpSlack of the leader r.
func (n *Node) caughtUp(ctx context.Context, r *replica.Replica, table string, partition uint32, addr string) bool {
	c, err := n.admin(addr)
	if err != nil {
		return false
	}
	resp, err := c.LocalReplicas(ctx, &tpb.LocalReplicasRequest{Table: table})
	if err != nil {
		return false
	}
	for _, rs := range resp.Replicas {
		if rs.Partition == partition {
			return rs.AppliedDecree+moveCatchUpSlack >= r.Applied()
		}
	}
	return false
}

// moveTargets lists the groups this node is the target of a move of.
func (n *Node) moveTargets(s *MetaState) map[uint64]*MoveMeta {
	out := map[uint64]*MoveMeta{}
	for _, mv := range s.Moves {
		if mv.To == n.cfg.NodeID {
			out[groupID(mv.TableID, mv.Partition)] = mv
		}
	}
	return out
}

// dropMovedAway destroys hosted replicas of live tables that neither the
// placement nor a move puts on this node any more: the move that took
// them away has removed them from their group.
func (n *Node) dropMovedAway(s *MetaState, wanted map[uint64]bool) {
	for g, r := range n.localReplicas() {
		if wanted[g] || s.isDropped(tableOfGroup(g)) || !tableExists(s, tableOfGroup(g)) {
			continue
		}
		n.mu.Lock()
		delete(n.replicas, g)
		n.mu.Unlock()
		if err := r.Destroy(); err != nil {
			n.lg.Warn("destroy moved replica", zap.Uint64("group", g), zap.Error(err))
			continue
		}
		n.lg.Info("replica moved away destroyed", zap.String("table", r.Info().Table), zap.Uint32("partition", r.Info().Partition))
	}
}

func tableExists(s *MetaState, id uint64) bool {
	for _, t := range s.Tables {
		if t.ID == id {
			return true
		}
	}
	return false
}

// moveText describes a partition's move for `partitions`.
func moveText(mv *MoveMeta) string {
	if mv == nil {
		return ""
	}
	return fmt.Sprintf("%s->%s %s (%s)", mv.From, mv.To, mv.Phase, mv.Reason)
}

// rebalanceView lists the moves in progress and the partitions short of
// live replicas.
func (n *Node) rebalanceView() *tpb.RebalanceResponse {
	st := n.meta.state()
	resp := &tpb.RebalanceResponse{}
	keys := make([]string, 0, len(st.Moves))
	for k := range st.Moves {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mv := st.Moves[k]
		resp.Moves = append(resp.Moves, &tpb.ReplicaMove{Table: mv.Table, Partition: mv.Partition, FromNode: mv.From, ToNode: mv.To,
			Phase: mv.Phase, Reason: mv.Reason, StartedUnixMs: mv.StartedMs})
	}
	for _, t := range st.Tables {
		for _, nodes := range t.Placement {
			live := 0
			for _, id := range nodes {
				if nm := st.Nodes[id]; nm == nil || nm.State == nodeAlive || nm.State == nodeDraining {
					live++
				}
			}
			if live < int(t.Replicas) {
				resp.UnderReplicated++
			}
		}
	}
	return resp
}

// suspects lists the nodes the leader has not heard from lately: no new
// replica goes to them.
func (n *Node) suspects(st *MetaState) map[string]bool {
	out := map[string]bool{}
	now, dead := n.cfg.Now(), n.limits().DeadNodeTimeout
	for _, nm := range st.Nodes {
		if n.live.verdict(nm, now, dead) == nodeSuspect {
			out[nm.ID] = true
		}
	}
	return out
}
