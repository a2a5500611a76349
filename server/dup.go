package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

const remoteCallTimeout = 15 * time.Second

func dupInfo(d *DupMeta) *tpb.DuplicationInfo {
	return duplication.Info{ID: d.ID, Table: d.Table, RemoteAddr: d.RemoteAddr, RemoteCluster: d.RemoteCluster,
		State: d.State, CreatedAtMs: d.CreatedAtMs}.Proto()
}

// findDup returns duplication id of table.
func (n *Node) findDup(table, id string) (*DupMeta, error) {
	if d, ok := n.meta.dup(id); ok && d.Table == table {
		return d, nil
	}
	return nil, fmt.Errorf("duplication %s of table %q: %w", id, table, ErrDupNotFound)
}

// AddDuplication records the duplication, then asks the remote cluster to
// create the follower table; if the remote refuses, the record is undone.
func (a *adminService) AddDuplication(ctx context.Context, req *tpb.AddDuplicationRequest) (*tpb.AddDuplicationResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	if t.Follower != nil {
		return nil, toStatus(fmt.Errorf("%w: table %q is itself the follower of duplication %s; chained duplication is not supported", ErrInvalidArgument, t.Name, t.Follower.DupID))
	}
	if err := checkRemoteAddr(req.RemoteAddr); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.AddDuplication, func() (*tpb.AddDuplicationResponse, error) {
		return a.addDuplicationHere(ctx, req, t)
	})
}

// addDuplicationHere records the duplication and creates the remote's
// follower table; it runs on the meta leader. The record says "adding"
// until the remote has its follower table; when the remote refuses or
// cannot be reached in time the record is removed again, so a failed
// `dup add` leaves nothing behind.
func (a *adminService) addDuplicationHere(ctx context.Context, req *tpb.AddDuplicationRequest, t *TableMeta) (*tpb.AddDuplicationResponse, error) {
	d := &DupMeta{ID: fmt.Sprintf("%d", a.n.cfg.Now().UnixMilli()), Table: t.Name, RemoteAddr: req.RemoteAddr, State: duplication.StateAdding,
		CreatedAtMs: a.n.cfg.Now().UnixMilli(), RequestID: requestID(ctx)}
	res, _, err := a.n.meta.apply(ctx, &addDupCmd{Dup: d})
	if err != nil {
		return nil, toStatus(err)
	}
	c := *res.Dup // a retried call gets the duplication its first attempt added
	d = &c
	cluster, err := a.n.createFollower(ctx, t, d)
	if err == nil && d.State == duplication.StateAdding {
		_, _, err = a.n.meta.apply(ctx, &setDupStateCmd{ID: d.ID, State: duplication.StateActive})
		d.State = duplication.StateActive
	}
	if err != nil {
		// The caller may have given up already: clean up regardless.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, rerr := a.n.meta.apply(cctx, &removeDupCmd{ID: d.ID})
		cancel()
		if rerr != nil {
			a.n.lg.Warn("could not remove the record of a failed dup add", zap.String("dup", d.ID), zap.Error(rerr))
		}
		return nil, toStatus(err)
	}
	d.RemoteCluster = cluster
	a.n.lg.Info("duplication added", zap.String("dup", d.ID), zap.String("table", t.Name), zap.String("remote", req.RemoteAddr), zap.String("remote_cluster", cluster))
	return &tpb.AddDuplicationResponse{Duplication: dupInfo(d)}, nil
}

// remoteTimeout bounds a call to a remote cluster: remoteCallTimeout, and
// short of the caller's own deadline, so the caller hears why rather than
// a bare deadline and the node still has time to clean up.
func remoteTimeout(ctx context.Context) time.Duration {
	d := remoteCallTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(dl)-time.Second, time.Second))
	}
	return d
}

func checkRemoteAddr(addr string) error {
	if addr == "" || !strings.Contains(addr, ":") {
		return fmt.Errorf("%w: remote address %q: want HOST:PORT of a node of the remote cluster", ErrInvalidArgument, addr)
	}
	return nil
}

// createFollower asks the remote cluster for the follower table and
// returns the remote cluster's name.
func (n *Node) createFollower(ctx context.Context, t *TableMeta, d *DupMeta) (string, error) {
	c, err := n.admin(d.RemoteAddr)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrRemoteUnreachable, d.RemoteAddr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
	defer cancel()
	spec := &tpb.FollowerSpec{Table: t.Name, Partitions: t.Partitions, DupId: d.ID, SourceCluster: n.cfg.Cluster, SourceAddrs: n.peerAddrs()}
	resp, err := c.CreateFollowerTable(cctx, spec)
	if err != nil {
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.AlreadyExists:
			return "", fmt.Errorf("%w: %s", ErrRemoteConflict, st.Message())
		case codes.Unavailable, codes.DeadlineExceeded:
			return "", fmt.Errorf("%w: no answer from %s within %s: %s", ErrRemoteUnreachable, d.RemoteAddr, remoteTimeout(ctx).Round(time.Second), st.Message())
		}
		return "", fmt.Errorf("remote %s: %s", d.RemoteAddr, st.Message())
	}
	if resp.Cluster == n.cfg.Cluster {
		n.lg.Warn("duplicating to a cluster with the same name", zap.String("cluster", resp.Cluster))
	}
	_, _, err = n.meta.apply(ctx, &setDupRemoteCmd{ID: d.ID, Cluster: resp.Cluster})
	return resp.Cluster, err
}

// peerAddrs lists the cluster's nodes for another cluster: this node at
// the address it advertises, the others as --peers names them.
func (n *Node) peerAddrs() []string {
	out := make([]string, len(n.peers))
	for i, p := range n.peers {
		out[i] = p.Addr
		if p.ID == n.cfg.NodeID {
			out[i] = n.Addr()
		}
	}
	return out
}

// CreateFollowerTable runs on the remote cluster: it creates the follower
// table, or confirms it exists as this duplication's follower.
func (a *adminService) CreateFollowerTable(ctx context.Context, spec *tpb.FollowerSpec) (*tpb.CreateFollowerTableResponse, error) {
	if spec.DupId == "" || len(spec.SourceAddrs) == 0 {
		return nil, toStatus(fmt.Errorf("%w: follower spec needs a duplication id and source addresses", ErrInvalidArgument))
	}
	if t, ok := a.n.table(spec.Table); ok {
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
	follower := &FollowerMeta{DupID: spec.DupId, SourceCluster: spec.SourceCluster, SourceAddrs: spec.SourceAddrs}
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
	if _, err := a.n.findDup(req.Table, req.DupId); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, rpc, func() (*tpb.DuplicationResponse, error) {
		res, _, err := a.n.meta.apply(ctx, &setDupStateCmd{ID: req.DupId, State: state})
		if err != nil {
			return nil, toStatus(err)
		}
		a.n.lg.Info("duplication state set", zap.String("dup", req.DupId), zap.String("state", string(state)))
		return &tpb.DuplicationResponse{Duplication: dupInfo(res.Dup)}, nil
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
		d, err := a.n.findDup(req.Table, req.DupId)
		if remote, removed := a.n.meta.removedDup(req.DupId); errors.Is(err, ErrDupNotFound) && removed {
			// A retry of a removal whose answer was lost, or a second dup
			// rm after the remote was not reachable: the record is gone,
			// so only the remote's table may still need detaching.
			d = &DupMeta{ID: req.DupId, Table: req.Table, State: duplication.StateRemoved}
			return a.detachRemote(ctx, d, remote)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return a.removeDuplicationHere(ctx, d)
	})
}

// removeDuplicationHere drops the record and detaches the remote table; it
// runs on the meta leader.
func (a *adminService) removeDuplicationHere(ctx context.Context, d *DupMeta) (*tpb.DuplicationResponse, error) {
	if _, _, err := a.n.meta.apply(ctx, &removeDupCmd{ID: d.ID}); err != nil {
		return nil, toStatus(err)
	}
	a.n.lg.Info("duplication removed", zap.String("dup", d.ID))
	d.State = duplication.StateRemoved
	return a.detachRemote(ctx, d, d.RemoteAddr)
}

// detachRemote tells the remote cluster to make the follower table of a
// removed duplication writable.
func (a *adminService) detachRemote(ctx context.Context, d *DupMeta, remote string) (*tpb.DuplicationResponse, error) {
	if remote == "" {
		return &tpb.DuplicationResponse{Duplication: dupInfo(d)}, nil
	}
	c, err := a.n.admin(remote)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
		_, err = c.DetachFollower(cctx, &tpb.DetachFollowerRequest{Table: d.Table, DupId: d.ID})
		cancel()
	}
	if err != nil {
		a.n.lg.Warn("remote did not detach its follower table; it stays read-only until it is told", zap.String("dup", d.ID), zap.Error(err))
		return nil, status.Errorf(codes.Unavailable, "duplication %s is removed here, but the remote %s did not make its table writable: %v (run dup rm again when it is back)", d.ID, remote, err)
	}
	return &tpb.DuplicationResponse{Duplication: dupInfo(d)}, nil
}

// ListDuplications and ShowDuplication answer from the meta leader's
// metadata (forwarded when this node is not it), so an operator never sees
// a state this node has not caught up with; without a meta leader they
// answer from this node's metadata.
func (a *adminService) ListDuplications(ctx context.Context, req *tpb.ListDuplicationsRequest) (*tpb.ListDuplicationsResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ListDuplications, func() (*tpb.ListDuplicationsResponse, error) {
		return a.listDuplicationsHere(ctx, req)
	})
}

func (a *adminService) listDuplicationsHere(ctx context.Context, req *tpb.ListDuplicationsRequest) (*tpb.ListDuplicationsResponse, error) {
	if req.Table != "" {
		if _, err := a.n.findTable(ctx, req.Table); err != nil {
			return nil, toStatus(err)
		}
	}
	resp := &tpb.ListDuplicationsResponse{}
	for _, d := range a.n.meta.dups(req.Table) {
		info := dupInfo(d)
		summarize(info, a.n.dupStatus(ctx, d))
		resp.Duplications = append(resp.Duplications, info)
	}
	return resp, nil
}

func (a *adminService) ShowDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.ShowDuplicationResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ShowDuplication, func() (*tpb.ShowDuplicationResponse, error) {
		return a.showDuplicationHere(ctx, req)
	})
}

func (a *adminService) showDuplicationHere(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.ShowDuplicationResponse, error) {
	d, err := a.n.findDup(req.Table, req.DupId)
	if err != nil {
		return nil, toStatus(err)
	}
	parts := a.n.dupStatus(ctx, d)
	info := dupInfo(d)
	summarize(info, parts)
	return &tpb.ShowDuplicationResponse{Duplication: info, Partitions: parts}, nil
}

// summarize fills the duplication's progress line and its worst lag.
func summarize(info *tpb.DuplicationInfo, parts []*tpb.DupPartitionStatus) {
	duplication.Summarize(info, parts)
}

// dupStatus gathers every partition's status from the source leaders.
func (n *Node) dupStatus(ctx context.Context, d *DupMeta) []*tpb.DupPartitionStatus {
	info, ok := dupMeta{n}.Duplication(d.ID)
	if !ok {
		info = duplication.Info{ID: d.ID, Table: d.Table}
		if t, found := n.table(d.Table); found {
			info.Partitions = t.Partitions
		}
	}
	return n.dup.Status(ctx, info)
}

func (a *adminService) LocalDupStatus(ctx context.Context, req *tpb.LocalDupStatusRequest) (*tpb.LocalDupStatusResponse, error) {
	return &tpb.LocalDupStatusResponse{Partitions: a.n.dup.LocalStatus(req.DupId)}, nil
}
