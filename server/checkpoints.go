package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func checkpointInfo(nodeID string, v checkpoint.View) *tpb.CheckpointInfo {
	return &tpb.CheckpointInfo{
		Id: v.ID, Table: v.Table, Partition: v.Partition, NodeId: nodeID, Decree: v.Decree,
		SizeBytes: uint64(v.TotalBytes), CreatedAtUnixMs: v.CreatedAt.UnixMilli(), Purpose: string(v.Purpose),
		PinnedBy: v.PinnedBy, InFlight: uint32(v.InFlight), Empty: v.Empty, Files: uint32(len(v.Files)),
	}
}

// localCheckpoints lists this node's checkpoints of a table.
func (n *Node) localCheckpoints(table string) []*tpb.CheckpointInfo {
	var out []*tpb.CheckpointInfo
	for _, r := range n.localReplicas() {
		if r.Info().Table != table {
			continue
		}
		for _, v := range r.Catalog().List() {
			out = append(out, checkpointInfo(n.cfg.NodeID, v))
		}
	}
	return out
}

func (a *adminService) LocalCheckpoints(ctx context.Context, req *tpb.LocalCheckpointsRequest) (*tpb.ListCheckpointsResponse, error) {
	return &tpb.ListCheckpointsResponse{Checkpoints: a.n.localCheckpoints(req.Table)}, nil
}

func (a *adminService) LocalCreateCheckpoint(ctx context.Context, req *tpb.LocalCreateCheckpointRequest) (*tpb.LocalCreateCheckpointResponse, error) {
	purpose, err := checkpoint.ParsePurpose(req.Purpose)
	if err != nil {
		return nil, toStatus(fmt.Errorf("%w: %v", ErrInvalidArgument, err))
	}
	r, _, _, err := a.n.leaderFor(ctx, req.Table, req.Partition, true, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	m, err := r.Checkpoint(ctx, purpose)
	if err != nil {
		return nil, toStatus(err)
	}
	var view checkpoint.View
	for _, v := range r.Catalog().List() {
		if v.ID == m.ID {
			view = v
		}
	}
	if view.ID == "" {
		view = checkpoint.View{Manifest: *m}
	}
	return &tpb.LocalCreateCheckpointResponse{Checkpoint: checkpointInfo(a.n.cfg.NodeID, view)}, nil
}

func (a *adminService) ListCheckpoints(ctx context.Context, req *tpb.ListCheckpointsRequest) (*tpb.ListCheckpointsResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	leaders := map[uint32]string{}
	for _, p := range a.n.partitionsInfo(ctx, t) {
		leaders[p.Index] = p.LeaderId
	}
	resp := &tpb.ListCheckpointsResponse{Checkpoints: leadersCheckpoints(a.n.gatherCheckpoints(ctx, t.Name), leaders)}
	sort.Slice(resp.Checkpoints, func(i, j int) bool {
		ci, cj := resp.Checkpoints[i], resp.Checkpoints[j]
		if ci.Partition != cj.Partition {
			return ci.Partition < cj.Partition
		}
		return ci.Id < cj.Id
	})
	return resp, nil
}

// leadersCheckpoints picks, per partition, the checkpoints its leader's node
// holds; a partition whose leader holds none (leadership moved after a
// checkpoint was taken, or no leader now) shows those of its other replicas,
// so a checkpoint that exists is never hidden. NodeId says where each is.
func leadersCheckpoints(perNode [][]*tpb.CheckpointInfo, leaders map[uint32]string) []*tpb.CheckpointInfo {
	atLeader := map[uint32][]*tpb.CheckpointInfo{}
	elsewhere := map[uint32][]*tpb.CheckpointInfo{}
	for _, nr := range perNode {
		for _, c := range nr {
			if leaders[c.Partition] == c.NodeId {
				atLeader[c.Partition] = append(atLeader[c.Partition], c)
			} else {
				elsewhere[c.Partition] = append(elsewhere[c.Partition], c)
			}
		}
	}
	var out []*tpb.CheckpointInfo
	for _, cs := range atLeader {
		out = append(out, cs...)
	}
	for p, cs := range elsewhere {
		if len(atLeader[p]) == 0 {
			out = append(out, cs...)
		}
	}
	return out
}

// gatherCheckpoints asks every node for its checkpoints of table.
func (n *Node) gatherCheckpoints(ctx context.Context, table string) [][]*tpb.CheckpointInfo {
	members := n.members()
	out := make([][]*tpb.CheckpointInfo, len(members))
	var wg sync.WaitGroup
	for i, p := range members {
		if p.ID == n.cfg.NodeID {
			out[i] = n.localCheckpoints(table)
			continue
		}
		wg.Add(1)
		go func(i int, p Peer) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
			defer cancel()
			if c, err := n.admin(p.Addr); err == nil {
				if resp, err := c.LocalCheckpoints(cctx, &tpb.LocalCheckpointsRequest{Table: table}); err == nil {
					out[i] = resp.Checkpoints
				}
			}
		}(i, p)
	}
	wg.Wait()
	return out
}

func (a *adminService) CreateCheckpoint(ctx context.Context, req *tpb.CreateCheckpointRequest) (*tpb.CreateCheckpointResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	purpose := req.Purpose
	if purpose == "" {
		purpose = string(checkpoint.PurposeManual)
	}
	if _, err := checkpoint.ParsePurpose(purpose); err != nil {
		return nil, toStatus(fmt.Errorf("%w: %v", ErrInvalidArgument, err))
	}
	parts := req.Partitions
	if len(parts) == 0 {
		for p := uint32(0); p < t.Partitions; p++ {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		if p >= t.Partitions {
			return nil, toStatus(fmt.Errorf("%w: partition %d out of range: table %q has %d partitions", ErrInvalidArgument, p, t.Name, t.Partitions))
		}
	}
	resp := &tpb.CreateCheckpointResponse{Results: make([]*tpb.CheckpointResult, len(parts))}
	routes, _ := a.n.routes(ctx, t.Name)
	var wg sync.WaitGroup
	for i, p := range parts {
		hint := ""
		if int(p) < len(routes) {
			hint = routes[p].LeaderAddr
		}
		wg.Add(1)
		go func(i int, p uint32) {
			defer wg.Done()
			resp.Results[i] = a.n.checkpointPartition(ctx, t, p, purpose, hint)
		}(i, p)
	}
	wg.Wait()
	return resp, nil
}

// checkpointPartition asks the partition's leader (first at hint) for a
// checkpoint, looking the leader up again after a failure.
func (n *Node) checkpointPartition(ctx context.Context, t *TableMeta, p uint32, purpose, hint string) *tpb.CheckpointResult {
	res := &tpb.CheckpointResult{Partition: p}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	req := &tpb.LocalCreateCheckpointRequest{Table: t.Name, Partition: p, Purpose: purpose}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		addr := hint
		if attempt > 0 || addr == "" {
			addr = n.partitionLeaderAddr(ctx, t, p)
		}
		if addr != "" {
			c, err := n.admin(addr)
			if err == nil {
				var out *tpb.LocalCreateCheckpointResponse
				if out, err = c.LocalCreateCheckpoint(ctx, req); err == nil {
					res.Checkpoint = out.Checkpoint
					return res
				}
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			res.Error = ctx.Err().Error()
			return res
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.Error = fmt.Sprintf("no leader answered: %v", lastErr)
	return res
}

// partitionLeaderAddr finds a partition's leader, locally if this node
// hosts a replica, else by asking the cluster.
func (n *Node) partitionLeaderAddr(ctx context.Context, t *TableMeta, p uint32) string {
	if r := n.replica(groupID(t.ID, p)); r != nil {
		if id, addr := r.Leader(); addr != "" {
			return n.dialAddr(id, addr)
		}
	}
	parts := n.partitionsInfo(ctx, t)
	if int(p) >= len(parts) {
		return ""
	}
	return n.dialAddr(parts[p].LeaderId, parts[p].LeaderAddr)
}

// CheckpointPolicy returns the checkpoint policy in force on this node.
func (n *Node) CheckpointPolicy() checkpoint.Policy { return n.sched.CurrentPolicy() }
