package server

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/duplication"
	"github.com/tandem-kv/tandem/replica"
)

// dupLoop keeps duplication work in step with leadership and metadata:
// pullers on the leaders of follower partitions (checked every 25ms, so a
// remote leader change resumes shipping at once), and every second the
// release of floors and bases of removed duplications, retention caps and
// lag metrics.
func (n *Node) dupLoop() {
	defer n.loops.Done()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		if !n.Ready() {
			continue
		}
		n.syncPullers()
		if i%40 == 0 {
			state := n.meta.fsm.snapshotState()
			n.releaseRemovedDups(state)
			n.observeDups(state)
		}
	}
}

// syncPullers runs a puller for every follower partition this node leads.
func (n *Node) syncPullers() {
	// This runs every tick on every node: with no follower tables (the
	// common case) it costs one look at the metadata, not a walk over every
	// replica.
	followers := map[string]*TableMeta{}
	n.meta.fsm.view(func(s *MetaState) {
		for name, t := range s.Tables {
			if t.Follower != nil {
				c := *t
				followers[name] = &c
			}
		}
	})
	n.pullersMu.Lock()
	defer n.pullersMu.Unlock()
	if len(followers) == 0 && len(n.pullers) == 0 {
		return
	}
	want := map[uint64]*TableMeta{}
	if len(followers) > 0 {
		for g, r := range n.localReplicas() {
			if t, ok := followers[r.Info().Table]; ok && r.IsLeader() {
				want[g] = t
			}
		}
	}
	for g, p := range n.pullers {
		if _, ok := want[g]; !ok {
			p.Stop()
			delete(n.pullers, g)
		}
	}
	for g, t := range want {
		if _, ok := n.pullers[g]; ok {
			continue
		}
		r := n.replica(g)
		if r == nil {
			continue
		}
		n.pullers[g] = duplication.StartPuller(duplication.PullerConfig{
			DupID: t.Follower.DupID, Table: t.Name, Partition: r.Info().Partition, SourceAddrs: t.Follower.SourceAddrs,
			Replica: r, WorkDir: filepath.Join(n.replicaDir(g), "dup-base"), Dial: n.dial, NodeID: n.cfg.NodeID, Logger: n.lg,
		})
	}
}

func (n *Node) dial(addr string) (*grpc.ClientConn, error) { return n.conns.get(addr) }

func (n *Node) stopPullers() {
	n.pullersMu.Lock()
	defer n.pullersMu.Unlock()
	for g, p := range n.pullers {
		p.Stop()
		delete(n.pullers, g)
	}
}

// releaseRemovedDups drops the floors (through raft, on partitions this node
// leads) and base pins (on every local replica) of removed duplications.
func (n *Node) releaseRemovedDups(state *MetaState) {
	for id := range state.RemovedDups {
		n.dupMetrics.Forget(id)
	}
	for _, r := range n.localReplicas() {
		if r.IsLeader() {
			for id := range r.Confirmed() {
				if _, gone := state.RemovedDups[id]; gone {
					n.releaseFloor(r, id)
				}
			}
		}
		for _, v := range r.Catalog().List() {
			for _, owner := range v.PinnedBy {
				id, isDup := strings.CutPrefix(owner, "dup:")
				if _, gone := state.RemovedDups[id]; isDup && gone {
					_ = r.Catalog().Unpin(v.ID, owner)
				}
			}
		}
		r.SetRetentionCap(n.limits().Retention)
	}
}

func (n *Node) releaseFloor(r *replica.Replica, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ProposeDupRelease(ctx, id); err != nil {
		n.lg.Debug("release duplication floor", zap.String("dup", id), zap.Error(err))
		return
	}
	n.dupSource.Forget(id)
	n.lg.Info("duplication floor released", zap.String("dup", id), zap.String("table", r.Info().Table), zap.Uint32("partition", r.Info().Partition))
}

// observeDups refreshes the lag gauges of partitions this node leads.
func (n *Node) observeDups(state *MetaState) {
	n.dupMetrics.ResetGauges()
	for _, d := range state.Dups {
		for _, st := range n.localDupStatus(d.ID) {
			n.dupMetrics.Observe(d.ID, d.Table, st)
		}
	}
}
