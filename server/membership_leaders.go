package server

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// Leader balancing: when no replica moves, the meta leader moves one
// partition's leadership at a time from the node leading the most
// partitions to the one leading the fewest (among the partition's
// followers), while the counts differ by more than one. The end state is
// stable, so leaders do not flap; a round runs every leaderBalanceRounds
// membership rounds, and transfers start only once the leaders have been
// uneven for cluster.leader_balance_after: a transfer makes the writes in
// flight at the old leader ambiguous, which is worth it for a lasting
// imbalance, not for one a failover made a moment ago.

// leaderBalanceRounds is how many membership rounds pass between two
// leader balancing rounds (each looks at every partition).
const leaderBalanceRounds = 3

// partLeaders is one partition's leader and live followers.
type partLeaders struct {
	table     string
	partition uint32
	leader    string
	followers []string
}

// planLeaderTransfer picks a partition whose leadership should move, and
// to which node; ok is false when leaders are within one of even.
func planLeaderTransfer(parts []partLeaders, eligible []string) (index int, to string, ok bool) {
	count := map[string]int{}
	for _, id := range eligible {
		count[id] = 0
	}
	for _, pl := range parts {
		if _, in := count[pl.leader]; in {
			count[pl.leader]++
		}
	}
	ids := append([]string(nil), eligible...)
	sort.Strings(ids)
	sort.SliceStable(ids, func(i, j int) bool { return count[ids[i]] > count[ids[j]] })
	for _, hi := range ids {
		for i := len(ids) - 1; i >= 0 && count[hi]-count[ids[i]] > 1; i-- {
			lo := ids[i]
			for i, pl := range parts {
				if pl.leader == hi && contains(pl.followers, lo) {
					return i, lo, true
				}
			}
		}
	}
	return 0, "", false
}

// balanceLeaders runs one leader balancing round on the meta leader.
func (n *Node) balanceLeaders(ctx context.Context, st *MetaState) {
	if len(st.Moves) > 0 || len(n.suspects(st)) > 0 {
		return
	}
	eligible := st.aliveNodes()
	var parts []partLeaders
	for _, t := range st.sortedTables() {
		for _, p := range n.partitionsInfo(ctx, t) {
			pl := partLeaders{table: t.Name, partition: p.Index, leader: p.LeaderId}
			if pl.leader == "" {
				return // an election is running: look again later
			}
			for _, rs := range p.Replicas {
				if rs.State == "follower" {
					pl.followers = append(pl.followers, rs.NodeId)
				}
			}
			parts = append(parts, pl)
		}
	}
	if _, _, ok := planLeaderTransfer(parts, eligible); !ok {
		n.unevenSince = time.Time{}
		return
	}
	now, term := n.cfg.Now(), n.meta.raft.CurrentTerm()
	if n.unevenSince.IsZero() || n.unevenTerm != term { // a new leader looks afresh
		n.unevenSince, n.unevenTerm = now, term
	}
	if now.Sub(n.unevenSince) < n.limits().LeaderBalance {
		return
	}
	for range maxTransfersPerRound {
		i, to, ok := planLeaderTransfer(parts, eligible)
		if !ok || !n.transferOne(ctx, parts[i], to) {
			return
		}
		pl := &parts[i]
		pl.followers = append(slices.DeleteFunc(pl.followers, func(id string) bool { return id == to }), pl.leader)
		pl.leader = to
	}
}

// leaderBalanceTimeout bounds one leader balancing round.
const leaderBalanceTimeout = 30 * time.Second

// maxTransfersPerRound bounds the leaderships one round moves.
const maxTransfersPerRound = 4

// transferOne asks partition pl's leader to hand leadership to node to.
func (n *Node) transferOne(ctx context.Context, pl partLeaders, to string) bool {
	req := &tpb.TransferLeaderRequest{Table: pl.table, Partition: pl.partition, ToNode: to}
	var err error
	if pl.leader == n.cfg.NodeID {
		err = n.transferLeader(req)
	} else if c, cerr := n.admin(n.peerAddr(pl.leader)); cerr != nil {
		err = cerr
	} else {
		_, err = c.TransferLeader(ctx, req)
	}
	if err != nil {
		n.lg.Info("leader balancing: transfer failed", zap.String("table", pl.table), zap.Uint32("partition", pl.partition), zap.Error(err))
		return false
	}
	n.lg.Info("leader balancing: leadership moved", zap.String("table", pl.table), zap.Uint32("partition", pl.partition),
		zap.String("from", pl.leader), zap.String("to", to))
	return true
}

// transferLeader hands a partition this node leads to another member.
func (n *Node) transferLeader(req *tpb.TransferLeaderRequest) error {
	t, ok := n.table(req.Table)
	if !ok {
		return fmt.Errorf("table %q: %w", req.Table, ErrTableNotFound)
	}
	r := n.replica(groupID(t.ID, req.Partition))
	if r == nil || !r.IsLeader() {
		return &notLeaderError{table: req.Table, partition: req.Partition, cause: replica.ErrNotLeader}
	}
	return r.TransferLeadership(req.ToNode)
}
