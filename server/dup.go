package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The Admin service's duplication calls. Changes are forwarded to the meta
// leader and made there by the duplication package; views answer from the
// meta leader's metadata. The remote side (a follower table created,
// detached) is table metadata, made here.

// AddDuplication records the duplication, then asks the remote cluster to
// create the follower table; if the remote refuses, the record is undone.
func (a *adminService) AddDuplication(ctx context.Context, req *tpb.AddDuplicationRequest) (*tpb.AddDuplicationResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	// A follower table may duplicate onward (a chain): its source side
	// ships what it applied of the shipped entries (duplication/chain.go).
	if err := duplication.CheckRemoteAddr(req.RemoteAddr); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.AddDuplication, func() (*tpb.AddDuplicationResponse, error) {
		info, err := a.n.dup.AddFromArchive(ctx, duplication.Table{Name: t.Name, Partitions: t.Partitions, ID: t.ID}, req.RemoteAddr, req.FromArchive)
		if err != nil {
			return nil, toStatus(err)
		}
		return &tpb.AddDuplicationResponse{Duplication: info}, nil
	})
}

// CreateFollowerTable runs on the remote cluster: it creates the follower
// table, or confirms it exists as this duplication's follower.
func (a *adminService) CreateFollowerTable(ctx context.Context, spec *tpb.FollowerSpec) (*tpb.CreateFollowerTableResponse, error) {
	if spec.DupId == "" || len(spec.SourceAddrs) == 0 {
		return nil, toStatus(fmt.Errorf("%w: follower spec needs a duplication id and source addresses", ErrInvalidArgument))
	}
	if t, ok := a.n.table(spec.Table); ok {
		if t.Follower != nil && t.Follower.DupID == spec.DupId {
			return &tpb.CreateFollowerTableResponse{Table: tableInfo(t), Cluster: a.n.cfg.Cluster}, nil
		}
		if err := a.n.cycleRefusal(ctx, t, spec); err != nil {
			return nil, err
		}
		if t.Follower == nil || t.Follower.DupID != spec.DupId {
			return nil, status.Errorf(codes.AlreadyExists, "cluster %s already has a table %q that is not the follower of duplication %s", a.n.cfg.Cluster, spec.Table, spec.DupId)
		}
		return &tpb.CreateFollowerTableResponse{Table: tableInfo(t), Cluster: a.n.cfg.Cluster}, nil
	}
	return onMetaLeader(a.n, ctx, spec, tpb.AdminClient.CreateFollowerTable, func() (*tpb.CreateFollowerTableResponse, error) {
		return a.createFollowerHere(ctx, spec)
	})
}

// createFollowerHere creates the follower table; it runs on the meta leader.
func (a *adminService) createFollowerHere(ctx context.Context, spec *tpb.FollowerSpec) (*tpb.CreateFollowerTableResponse, error) {
	follower := &FollowerMeta{DupID: spec.DupId, SourceCluster: spec.SourceCluster, SourceAddrs: spec.SourceAddrs,
		SeedURL: spec.ArchiveUrl, SeedDecrees: spec.ArchiveDecrees}
	t, index, err := a.n.createTableMeta(ctx, &tpb.CreateTableRequest{Name: spec.Table, Partitions: spec.Partitions}, follower)
	if err != nil {
		if errors.Is(err, ErrTableExists) {
			return nil, status.Errorf(codes.AlreadyExists, "cluster %s already has a table %q", a.n.cfg.Cluster, spec.Table)
		}
		return nil, toStatus(err)
	}
	// No wait for partition leaders: the pullers start as each partition
	// elects one, and `dup show` shows the progress meanwhile.
	wctx, cancel := context.WithTimeout(ctx, tableReadyTimeout)
	defer cancel()
	_ = a.n.meta.waitApplied(wctx, index)
	return &tpb.CreateFollowerTableResponse{Table: t, Cluster: a.n.cfg.Cluster}, nil
}

// DetachFollower runs on the remote cluster when the duplication is removed:
// the table becomes an ordinary, writable table.
func (a *adminService) DetachFollower(ctx context.Context, req *tpb.DetachFollowerRequest) (*tpb.DetachFollowerResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.DetachFollower, func() (*tpb.DetachFollowerResponse, error) {
		if t, ok := a.n.table(req.Table); !ok || t.Follower == nil || t.Follower.DupID != req.DupId {
			return &tpb.DetachFollowerResponse{}, nil // nothing of this duplication's to detach
		}
		if _, _, err := a.n.meta.apply(ctx, &detachFollowerCmd{Table: req.Table, DupID: req.DupId}); err != nil {
			return nil, toStatus(err)
		}
		return &tpb.DetachFollowerResponse{}, nil
	})
}

func (a *adminService) setDupState(ctx context.Context, req *tpb.DuplicationRequest, state duplication.State,
	rpc func(tpb.AdminClient, context.Context, *tpb.DuplicationRequest, ...grpc.CallOption) (*tpb.DuplicationResponse, error)) (*tpb.DuplicationResponse, error) {
	if _, err := a.n.dup.Find(req.Table, req.DupId); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, rpc, func() (*tpb.DuplicationResponse, error) {
		info, err := a.n.dup.SetState(ctx, req.DupId, state)
		if err != nil {
			return nil, toStatus(err)
		}
		return &tpb.DuplicationResponse{Duplication: info}, nil
	})
}

func (a *adminService) PauseDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.DuplicationResponse, error) {
	return a.setDupState(ctx, req, duplication.StatePaused, tpb.AdminClient.PauseDuplication)
}

func (a *adminService) StartDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.DuplicationResponse, error) {
	return a.setDupState(ctx, req, duplication.StateActive, tpb.AdminClient.StartDuplication)
}

// RemoveDuplication drops the duplication (partition leaders then release
// its floor and base) and makes the remote table writable again.
func (a *adminService) RemoveDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.DuplicationResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.RemoveDuplication, func() (*tpb.DuplicationResponse, error) {
		info, err := a.n.dup.Remove(ctx, req.Table, req.DupId)
		if err != nil {
			return nil, toStatus(err)
		}
		return &tpb.DuplicationResponse{Duplication: info}, nil
	})
}

// ListDuplications and ShowDuplication answer from the meta leader's
// metadata (forwarded when this node is not it), so an operator never sees
// a state this node has not caught up with; without a meta leader they
// answer from this node's metadata.
func (a *adminService) ListDuplications(ctx context.Context, req *tpb.ListDuplicationsRequest) (*tpb.ListDuplicationsResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ListDuplications, func() (*tpb.ListDuplicationsResponse, error) {
		if req.Table != "" {
			if _, err := a.n.findTable(ctx, req.Table); err != nil {
				return nil, toStatus(err)
			}
		}
		return &tpb.ListDuplicationsResponse{Duplications: a.n.dup.List(ctx, req.Table)}, nil
	})
}

func (a *adminService) ShowDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.ShowDuplicationResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ShowDuplication, func() (*tpb.ShowDuplicationResponse, error) {
		resp, err := a.n.dup.Show(ctx, req.Table, req.DupId)
		return resp, toStatus(err)
	})
}

func (a *adminService) LocalDupStatus(ctx context.Context, req *tpb.LocalDupStatusRequest) (*tpb.LocalDupStatusResponse, error) {
	return &tpb.LocalDupStatusResponse{Partitions: a.n.dup.LocalStatus(req.DupId)}, nil
}
