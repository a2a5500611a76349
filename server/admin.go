package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

const (
	maxPartitions     = 4096
	tableReadyTimeout = 10 * time.Second
)

// adminService serves operators. Metadata changes go to the meta leader
// (forwarded when this node is not it); views are assembled from every node.
type adminService struct {
	tpb.UnimplementedAdminServer
	n *Node
}

func tableInfo(t *TableMeta) *tpb.TableInfo {
	ti := &tpb.TableInfo{Name: t.Name, Id: t.ID, Partitions: t.Partitions, Replicas: t.Replicas, CreatedAtUnixMs: t.CreatedAtMs}
	for i, nodes := range t.Placement {
		ti.Placement = append(ti.Placement, &tpb.PartitionPlacement{Index: uint32(i), NodeIds: nodes})
	}
	return ti
}

func (a *adminService) Nodes(ctx context.Context, req *tpb.NodesRequest) (*tpb.NodesResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.Nodes, func() (*tpb.NodesResponse, error) {
		if a.n.meta.isLeader() {
			return a.n.nodesView(), nil
		}
		return a.nodesByFanout(ctx), nil
	})
}

// nodesByFanout is Nodes without a meta leader: every node asked directly.
func (a *adminService) nodesByFanout(ctx context.Context) *tpb.NodesResponse {
	resp := &tpb.NodesResponse{Cluster: a.n.cfg.Cluster}
	for _, nr := range a.n.gatherReplicas(ctx, "") {
		state := "alive"
		if nr.err != nil {
			state = "unreachable"
		}
		resp.Nodes = append(resp.Nodes, &tpb.NodeInfo{
			Id: nr.peer.ID, Addr: nr.peer.Addr, State: state,
			MetaRole: a.n.meta.role(nr.peer.ID), Replicas: uint32(len(nr.replicas)),
		})
	}
	return resp
}

func (a *adminService) CreateTable(ctx context.Context, req *tpb.CreateTableRequest) (*tpb.CreateTableResponse, error) {
	t, index, err := a.n.createTable(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	// Return once this node can route the table and every partition leads,
	// so the caller's next command works without retries.
	wctx, cancel := context.WithTimeout(ctx, tableReadyTimeout)
	defer cancel()
	if err := a.n.meta.waitApplied(wctx, index); err != nil {
		return nil, toStatus(err)
	}
	if err := a.n.waitTableLeaders(wctx, t.Name); err != nil {
		a.n.lg.Warn("table created but not every partition has a leader yet", zap.String("table", t.Name), zap.Error(err))
	}
	return &tpb.CreateTableResponse{Table: t}, nil
}

// createTable validates, then applies on (or forwards to) the meta leader.
// It returns the table and the meta log index that created it.
func (n *Node) createTable(ctx context.Context, req *tpb.CreateTableRequest) (*tpb.TableInfo, uint64, error) {
	if !validName(req.Name) {
		return nil, 0, fmt.Errorf("table name %q must match [A-Za-z0-9_.-]{1,128}: %w", req.Name, ErrInvalidName)
	}
	parts, reps := req.Partitions, req.Replicas
	if parts == 0 {
		parts = n.cfg.DefaultPartitions
	}
	if reps == 0 {
		reps = uint32(min(3, len(n.placeableNodes())))
	}
	if parts > maxPartitions {
		return nil, 0, fmt.Errorf("%w: %d partitions; limit is %d", ErrInvalidArgument, parts, maxPartitions)
	}
	if nodes := len(n.placeableNodes()); int(reps) > nodes {
		return nil, 0, fmt.Errorf("%w: %d replicas but the cluster has %d live nodes", ErrInvalidArgument, reps, nodes)
	}
	leader, fctx, err := n.metaLeaderAdmin(ctx)
	if err != nil {
		return nil, 0, err
	}
	if leader != nil {
		resp, err := forward(n, ctx, leader.CreateTable, fctx, &tpb.CreateTableRequest{Name: req.Name, Partitions: parts, Replicas: reps})
		if err != nil {
			return nil, 0, err
		}
		return resp.Table, 0, nil
	}
	return n.createTableMeta(ctx, &tpb.CreateTableRequest{Name: req.Name, Partitions: parts, Replicas: reps}, nil)
}

// createTableMeta places and records a table; it runs on the meta leader.
func (n *Node) createTableMeta(ctx context.Context, req *tpb.CreateTableRequest, follower *FollowerMeta) (*tpb.TableInfo, uint64, error) {
	parts, reps := req.Partitions, req.Replicas
	if parts == 0 || parts > maxPartitions {
		return nil, 0, fmt.Errorf("%w: %d partitions; want 1 to %d", ErrInvalidArgument, parts, maxPartitions)
	}
	if reps == 0 {
		reps = uint32(min(3, len(n.placeableNodes())))
	}
	tm := &TableMeta{Name: req.Name, Partitions: parts, Replicas: reps, CreatedAtMs: n.cfg.Now().UnixMilli(),
		Placement: place(n.peerIDs(), n.meta.replicaLoad(), parts, reps), Follower: follower, RequestID: requestID(ctx)}
	res, index, err := n.meta.apply(ctx, &createTableCmd{Table: tm})
	if err != nil {
		return nil, 0, err
	}
	n.lg.Info("table created", zap.String("table", tm.Name), zap.Uint64("id", res.Table.ID), zap.Uint32("partitions", parts),
		zap.Uint32("replicas", reps), zap.Bool("follower", follower != nil))
	return tableInfo(res.Table), index, nil
}

func (n *Node) peerIDs() []string { return n.placeableNodes() }

func (a *adminService) DropTable(ctx context.Context, req *tpb.DropTableRequest) (*tpb.DropTableResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.DropTable, func() (*tpb.DropTableResponse, error) {
		if t, ok := a.n.table(req.Name); ok && t.Follower != nil {
			// Dropping it would leave the source shipping into nothing, its
			// duplication active and its lag growing.
			return nil, toStatus(fmt.Errorf("%w: table %q is the follower of duplication %s from cluster %s; remove that duplication on the source first (dup rm %s %s)",
				ErrFollowerBusy, req.Name, t.Follower.DupID, t.Follower.SourceCluster, req.Name, t.Follower.DupID))
		}
		if _, _, err := a.n.meta.apply(ctx, &dropTableCmd{Name: req.Name}); err != nil {
			return nil, toStatus(err)
		}
		a.n.lg.Info("table dropped", zap.String("table", req.Name))
		return &tpb.DropTableResponse{}, nil
	})
}

func (a *adminService) ListTables(ctx context.Context, _ *tpb.ListTablesRequest) (*tpb.ListTablesResponse, error) {
	resp := &tpb.ListTablesResponse{}
	for _, t := range a.n.meta.tables() {
		resp.Tables = append(resp.Tables, tableInfo(t))
	}
	return resp, nil
}

func (a *adminService) Partitions(ctx context.Context, req *tpb.PartitionsRequest) (*tpb.PartitionsResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.PartitionsResponse{Table: tableInfo(t), Partitions: a.n.partitionsInfo(ctx, t)}, nil
}

func (a *adminService) Route(ctx context.Context, req *tpb.RouteRequest) (*tpb.RouteResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	routes, err := a.n.routes(ctx, t.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.RouteResponse{Table: tableInfo(t), Partitions: routes}, nil
}

func (a *adminService) GetConfig(ctx context.Context, req *tpb.GetConfigRequest) (*tpb.GetConfigResponse, error) {
	if req.Key != "" {
		if _, ok := configKeys[req.Key]; !ok {
			return nil, toStatus(fmt.Errorf("%q (known keys: %v): %w", req.Key, configKeyNames(), ErrUnknownConfigKey))
		}
	}
	overrides := a.n.meta.configOverrides()
	resp := &tpb.GetConfigResponse{}
	for _, name := range configKeyNames() {
		if req.Key != "" && req.Key != name {
			continue
		}
		k := configKeys[name]
		v, ok := overrides[name]
		if !ok {
			v = k.def
		}
		resp.Entries = append(resp.Entries, &tpb.ConfigEntry{Key: name, Value: v, Help: k.help})
	}
	return resp, nil
}

func (a *adminService) SetConfig(ctx context.Context, req *tpb.SetConfigRequest) (*tpb.SetConfigResponse, error) {
	v, err := normalizeConfig(req.Key, req.Value)
	if err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.SetConfig, func() (*tpb.SetConfigResponse, error) {
		if _, _, err := a.n.meta.apply(ctx, &setConfigCmd{Key: req.Key, Value: v}); err != nil {
			return nil, toStatus(err)
		}
		a.n.lg.Info("config set", zap.String("key", req.Key), zap.String("value", v))
		return &tpb.SetConfigResponse{Entry: &tpb.ConfigEntry{Key: req.Key, Value: v, Help: configKeys[req.Key].help}}, nil
	})
}

func (a *adminService) LocalReplicas(ctx context.Context, req *tpb.LocalReplicasRequest) (*tpb.LocalReplicasResponse, error) {
	rs := a.n.localStatus(req.Table)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Table < rs[j].Table })
	return &tpb.LocalReplicasResponse{Replicas: rs}, nil
}

// CreateTable creates a table through this node, as the Admin service
// would, and waits until its partitions have leaders.
func (n *Node) CreateTable(ctx context.Context, req *tpb.CreateTableRequest) (*tpb.TableInfo, error) {
	if _, ok := n.table(req.Name); ok {
		return nil, fmt.Errorf("table %q: %w", req.Name, ErrTableExists)
	}
	resp, err := (&adminService{n: n}).CreateTable(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Table, nil
}
