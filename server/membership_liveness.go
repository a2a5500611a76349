package server

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Liveness: every node reports to the meta leader every heartbeatInterval;
// the leader keeps the last contact in memory and writes a verdict through
// the meta log only when it changes (alive -> dead after
// cluster.dead_node_timeout, dead -> alive when the node reports again).
// suspect is the leader's in-memory view in between. A new leader counts
// every node as heard at its election, so nobody is declared dead on a
// fresh leader's ignorance.

// heartbeatInterval is how often a node reports to the meta leader.
const heartbeatInterval = time.Second

// suspectAfter is the silence after which the leader shows a node as
// suspect: a few missed reports, and never more than half the dead timeout.
func suspectAfter(dead time.Duration) time.Duration {
	return min(3*heartbeatInterval, dead/2)
}

// liveness is the meta leader's memory of nodes' reports.
type liveness struct {
	mu sync.Mutex
	// term is the meta term the contacts were collected in.
	term  uint64
	since time.Time
	seen  map[string]contact
}

// contact is a node's last report.
type contact struct {
	at     time.Time
	report *tpb.NodeHeartbeatRequest
}

func newLiveness() *liveness { return &liveness{seen: map[string]contact{}} }

// lead starts a new leadership term's view: contacts of an earlier term
// are forgotten and everyone counts as heard now.
func (l *liveness) lead(term uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term != term {
		l.term, l.since, l.seen = term, now, map[string]contact{}
	}
}

// record keeps a report.
func (l *liveness) record(r *tpb.NodeHeartbeatRequest, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[r.NodeId] = contact{at: now, report: r}
}

// last returns node id's last contact (the term's start when it has not
// reported yet) and its last report (nil then).
func (l *liveness) last(id string) (time.Time, *tpb.NodeHeartbeatRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.seen[id]; ok {
		return c.at, c.report
	}
	return l.since, nil
}

// verdict is node nm's state as the leader sees it at now.
func (l *liveness) verdict(nm *NodeMeta, now time.Time, dead time.Duration) string {
	at, _ := l.last(nm.ID)
	age := now.Sub(at)
	if at.IsZero() {
		// No term's view started yet (this node has not led a membership
		// round): nobody is declared dead on that ignorance either.
		age = 0
	}
	switch {
	case nm.State == nodeRemoved || nm.State == nodeDraining:
		return nm.State
	case age >= dead:
		return nodeDead
	case nm.State == nodeDead && age < suspectAfter(dead):
		return nodeAlive // reports again: written back as alive
	case nm.State == nodeDead:
		return nodeDead
	case age >= suspectAfter(dead):
		return nodeSuspect
	}
	return nodeAlive
}

// membershipLoop reports this node's liveness to the meta leader and, on
// the leader, runs the membership decisions, every heartbeatInterval.
func (n *Node) membershipLoop() {
	defer n.loops.Done()
	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		if !n.Ready() {
			continue
		}
		n.sendHeartbeat()
		if n.meta.isLeader() {
			n.leaderMembership()
		}
	}
}

// heartbeatReport is this node's report.
func (n *Node) heartbeatReport() *tpb.NodeHeartbeatRequest {
	r := &tpb.NodeHeartbeatRequest{NodeId: n.cfg.NodeID, Addr: n.Addr(), MetaApplied: n.meta.raft.AppliedIndex()}
	for _, rep := range n.localReplicas() {
		r.Replicas++
		if rep.IsLeader() {
			r.Leaders++
		}
	}
	return r
}

// sendHeartbeat reports to the meta leader (itself: recorded directly).
func (n *Node) sendHeartbeat() {
	report := n.heartbeatReport()
	if n.meta.isLeader() {
		n.live.lead(n.meta.raft.CurrentTerm(), n.cfg.Now())
		n.live.record(report, n.cfg.Now())
		return
	}
	id, addr := n.meta.leader()
	if addr == "" {
		return
	}
	c, err := n.admin(n.dialAddr(id, addr))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), heartbeatInterval)
	defer cancel()
	if _, err := c.NodeHeartbeat(ctx, report); err != nil {
		n.lg.Debug("heartbeat to meta leader", zap.String("leader", id), zap.Error(err))
	}
}

// nodeHeartbeat records a report on the meta leader.
func (n *Node) nodeHeartbeat(req *tpb.NodeHeartbeatRequest) error {
	if !n.meta.isLeader() {
		return ErrNoMetaLeader
	}
	n.live.lead(n.meta.raft.CurrentTerm(), n.cfg.Now())
	n.live.record(req, n.cfg.Now())
	return nil
}

// leaderMembership is the meta leader's round: register --peers nodes,
// write liveness verdicts, converge the meta group's voters.
func (n *Node) leaderMembership() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.meta.leaderCaughtUp(5 * time.Second); err != nil {
		return
	}
	n.registerPeers(ctx)
	n.writeVerdicts(ctx)
	n.convergeMetaVoters()
	n.runMoves(ctx)
	if n.rounds.Add(1)%leaderBalanceRounds == 0 {
		bctx, bcancel := context.WithTimeout(context.Background(), leaderBalanceTimeout)
		n.balanceLeaders(bctx, n.meta.state())
		bcancel()
	}
	n.handOffMetaLeadership()
}

// writeVerdicts writes alive <-> dead changes of registered nodes.
func (n *Node) writeVerdicts(ctx context.Context) {
	dead := n.limits().DeadNodeTimeout
	now := n.cfg.Now()
	for _, nm := range n.meta.state().sortedNodes() {
		v := n.live.verdict(nm, now, dead)
		if v == nodeSuspect || v == nm.State || nm.ID == n.cfg.NodeID {
			continue
		}
		at, _ := n.live.last(nm.ID)
		if _, _, err := n.meta.apply(ctx, &setNodeStateCmd{ID: nm.ID, State: v, From: nm.State}); err != nil {
			n.lg.Warn("write node state", zap.String("peer", nm.ID), zap.String("state", v), zap.Error(err))
			return
		}
		n.lg.Warn("node state changed", zap.String("peer", nm.ID), zap.String("from", nm.State), zap.String("to", v),
			zap.Duration("silent", now.Sub(at)))
	}
}

// convergeMetaVoters makes one step towards the wanted meta membership.
func (n *Node) convergeMetaVoters() {
	servers, err := n.meta.metaServers()
	if err != nil {
		return
	}
	states := map[string]string{}
	for _, nm := range n.meta.state().sortedNodes() {
		states[nm.ID] = nm.State
	}
	applied := n.meta.raft.AppliedIndex()
	caughtUp := func(id string) bool {
		_, r := n.live.last(id)
		return r != nil && r.MetaApplied+metaCatchUpSlack >= applied
	}
	p := planMetaVoters(servers, states, n.cfg.NodeID, n.limits().MetaVoters, caughtUp)
	if err := n.meta.applyMetaPlan(p, n.book.addr); err != nil {
		n.lg.Warn("change meta group membership", zap.Any("plan", p), zap.Error(err))
	}
}

// metaCatchUpSlack is how far behind the leader's applied index a meta
// non-voter may be and still be promoted.
const metaCatchUpSlack = 16

// nodesView is the meta leader's answer to Nodes.
func (n *Node) nodesView() *tpb.NodesResponse {
	st := n.meta.state()
	dead := n.limits().DeadNodeTimeout
	now := n.cfg.Now()
	placed := map[string]uint32{}
	for _, t := range st.Tables {
		for _, nodes := range t.Placement {
			for _, id := range nodes {
				placed[id]++
			}
		}
	}
	moving := movingCounts(st)
	resp := &tpb.NodesResponse{Cluster: n.cfg.Cluster}
	for _, p := range n.members() {
		info := &tpb.NodeInfo{Id: p.ID, Addr: p.Addr, State: nodeAlive, MetaRole: n.meta.role(p.ID), Replicas: placed[p.ID], Moving: moving[p.ID]}
		nm, ok := st.Nodes[p.ID]
		if !ok { // a --peers node the leader has not registered yet
			nm = &NodeMeta{ID: p.ID, State: nodeAlive}
		}
		info.State, info.JoinedAtUnixMs = n.live.verdict(nm, now, dead), nm.JoinedAtMs
		at, r := n.live.last(p.ID)
		if r != nil {
			info.LastContactUnixMs, info.Leaders = at.UnixMilli(), r.Leaders
		}
		resp.Nodes = append(resp.Nodes, info)
	}
	for _, nm := range st.sortedNodes() {
		if nm.State == nodeRemoved {
			resp.Nodes = append(resp.Nodes, &tpb.NodeInfo{Id: nm.ID, Addr: nm.Addr, State: nodeRemoved, MetaRole: n.meta.role(nm.ID), JoinedAtUnixMs: nm.JoinedAtMs})
		}
	}
	return resp
}
