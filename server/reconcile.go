package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/replica"
)

// groupID numbers a partition's raft group: table id in the high bits,
// partition index in the low 20 bits. Table ids start at 1, so no partition
// group collides with the meta group (0).
func groupID(tableID uint64, partition uint32) uint64 { return tableID<<20 | uint64(partition) }

func tableOfGroup(g uint64) uint64 { return g >> 20 }

// reconcileLoop makes the node's replicas match the metadata: it opens the
// replicas placed here, destroys those of dropped tables, and pushes runtime
// config, whenever the meta state changes (and every second, to retry).
func (n *Node) reconcileLoop() {
	defer n.loops.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		n.reconcile()
		// Until the node is ready, look again soon: what readiness waits
		// for (a leader's commit index) changes without a meta change.
		var soon <-chan time.Time
		if !n.Ready() {
			soon = time.After(10 * time.Millisecond)
		}
		select {
		case <-n.stop:
			return
		case <-n.meta.changes():
		case <-tick.C:
		case <-soon:
		}
	}
}

func (n *Node) reconcile() {
	if !n.ready.Load() && !n.checkReady() {
		return
	}
	state := n.meta.state()
	rc := effectiveConfig(state.Config)
	if old := n.runtime.Swap(&rc); *old != rc {
		n.lg.Info("runtime config changed", zap.Any("config", rc))
	}
	n.sched.Update(rc.Checkpoint)
	wanted := map[uint64]bool{}
	var open []func()
	targets := n.moveTargets(state)
	for _, t := range state.sortedTables() {
		for p, nodes := range t.Placement {
			mv := targets[groupID(t.ID, uint32(p))]
			if !contains(nodes, n.cfg.NodeID) && mv == nil {
				continue
			}
			g := groupID(t.ID, uint32(p))
			wanted[g] = true
			if r := n.replica(g); r != nil {
				n.applyRuntime(r, rc)
				continue
			}
			t, p, nodes := t, uint32(p), nodes
			// A group a move has changed is never bootstrapped: its members
			// learn the configuration from its leader.
			bootstrap := mv == nil && !state.Reconfigured[g]
			open = append(open, func() {
				if err := n.openReplica(t, p, nodes, bootstrap, rc); err != nil {
					n.lg.Warn("open replica", zap.String("table", t.Name), zap.Uint32("partition", p), zap.Error(err))
				}
			})
		}
	}
	runParallel(open, openConcurrency)
	n.dropReplicas(state, wanted)
	n.dropMovedAway(state, wanted)
}

// openConcurrency bounds replicas opened at once: opening is mostly
// waiting for fsyncs of new files, so a new table of many partitions opens
// several times faster in parallel than one after the other.
const openConcurrency = 8

// runParallel runs fns, at most limit at a time, and waits for them.
func runParallel(fns []func(), limit int) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn()
		}()
	}
	wg.Wait()
}

// checkReady marks the node ready once the meta group has a leader and this
// node has applied the meta log as far as it knows it is committed.
func (n *Node) checkReady() bool {
	if id, _ := n.meta.leader(); id == "" {
		return false
	}
	if !n.meta.isLeader() && !n.meta.learnedCommit() {
		return false
	}
	if !n.meta.caughtUp() {
		return false
	}
	if n.meta.isLeader() {
		if err := n.meta.barrier(5 * time.Second); err != nil {
			return false
		}
	}
	n.ready.Store(true)
	n.markServing()
	n.lg.Info("node ready", zap.String("addr", n.Addr()))
	return true
}

// openReplica opens this node's replica of partition p of table t.
func (n *Node) openReplica(t *TableMeta, p uint32, nodes []string, bootstrap bool, rc runtimeConfig) error {
	g := groupID(t.ID, p)
	var servers []raft.Server
	for _, id := range nodes {
		if bootstrap {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(n.peerAddr(id))})
		}
	}
	timing := n.cfg.Raft
	timing.SnapshotInterval, timing.SnapshotThreshold, timing.TrailingLogs = rc.Checkpoint.Interval, rc.SnapshotThreshold, rc.TrailingLogs
	r, err := replica.Open(replica.Config{
		NodeID: n.cfg.NodeID, Group: g, Table: t.Name, Partition: p,
		Dir:     n.replicaDir(g),
		Servers: servers, Addresses: n.book, Raft: timing,
		Shared: n.shared, LogDB: n.logDB, Mux: n.mux, Scheduler: n.sched, Now: n.cfg.Now, Logger: n.lg,
		Heartbeats: n.hub,
		Metrics:    n.met.ops.raft,
		// Pullers of follower partitions start and stop with leadership.
		OnLeaderChange: func(string) { n.dup.LeaderChanged(); n.archive.Changed() },
		// One member starts the first election as soon as a majority has the
		// group open; the first in the placement list spreads leaders.
		Campaign: bootstrap && nodes[0] == n.cfg.NodeID,
	})
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.replicas[g] = r
	n.mu.Unlock()
	return nil
}

// applyRuntime pushes raft snapshot and log settings to a replica when they
// differ.
func (n *Node) applyRuntime(r *replica.Replica, rc runtimeConfig) {
	cur := r.RaftSettings()
	if cur.SnapshotInterval == rc.Checkpoint.Interval && cur.SnapshotThreshold == rc.SnapshotThreshold && cur.TrailingLogs == rc.TrailingLogs {
		return
	}
	err := r.UpdateRaft(func(c *raft.ReloadableConfig) {
		c.SnapshotInterval, c.SnapshotThreshold, c.TrailingLogs = rc.Checkpoint.Interval, rc.SnapshotThreshold, rc.TrailingLogs
	})
	if err != nil {
		n.lg.Warn("reload raft config", zap.Error(err))
	}
}

func (n *Node) replicaDir(g uint64) string {
	return filepath.Join(n.cfg.DataDir, "replicas", fmt.Sprintf("g%d", g))
}

// dropReplicas destroys hosted replicas and leftover directories of tables
// the metadata says were dropped.
func (n *Node) dropReplicas(state *MetaState, wanted map[uint64]bool) {
	for g, r := range n.localReplicas() {
		if wanted[g] || !state.isDropped(tableOfGroup(g)) {
			continue
		}
		n.mu.Lock()
		delete(n.replicas, g)
		n.mu.Unlock()
		if err := r.Destroy(); err != nil {
			n.lg.Warn("destroy replica", zap.Uint64("group", g), zap.Error(err))
		}
		n.lg.Info("replica of dropped table destroyed", zap.Uint64("group", g))
	}
	n.sweepDroppedDirs(state, wanted)
}

// sweepDroppedDirs removes replica directories of tables dropped while this
// node was down.
func (n *Node) sweepDroppedDirs(state *MetaState, wanted map[uint64]bool) {
	entries, err := os.ReadDir(filepath.Join(n.cfg.DataDir, "replicas"))
	if err != nil {
		return
	}
	for _, e := range entries {
		g, err := strconv.ParseUint(strings.TrimPrefix(e.Name(), "g"), 10, 64)
		if err != nil || wanted[g] || n.replica(g) != nil || !state.isDropped(tableOfGroup(g)) {
			continue
		}
		if err := n.logDB.DeleteGroup(g); err == nil {
			os.RemoveAll(filepath.Join(n.cfg.DataDir, "replicas", e.Name()))
			n.lg.Info("swept replica of dropped table", zap.Uint64("group", g))
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// waitTableLeaders polls until every partition of table has a leader.
func (n *Node) waitTableLeaders(ctx context.Context, table string) error {
	for {
		routes, err := n.routes(ctx, table)
		if err == nil && allLed(routes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leaders of %s: %w", table, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
