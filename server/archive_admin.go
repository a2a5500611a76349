package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/archive"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The Admin service's archive calls. Changes run on the meta leader (the
// archive package makes them); views answer from the meta leader's
// metadata; a restore is coordinated by the node that takes the call.

// AddArchive starts archiving a table to an archive URL.
func (a *adminService) AddArchive(ctx context.Context, req *tpb.AddArchiveRequest) (*tpb.ArchiveResponse, error) {
	t, err := a.n.findTable(ctx, req.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	if t.Follower != nil {
		// A follower's log holds the source's batches, not its own writes:
		// archive the source table instead.
		return nil, toStatus(fmt.Errorf("%w: table %q is the follower of duplication %s; archive its source table", ErrInvalidArgument, t.Name, t.Follower.DupID))
	}
	if err := archive.CheckURL(req.Url); err != nil {
		return nil, archiveStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.AddArchive, func() (*tpb.ArchiveResponse, error) {
		info, err := a.n.archive.Add(ctx, t.Name, t.ID, t.Partitions, req.Url)
		if err != nil {
			return nil, archiveStatus(err)
		}
		a.n.lg.Info("archive added", zap.String("table", t.Name), zap.String("url", req.Url), zap.String("archive", info.Id))
		return &tpb.ArchiveResponse{Archive: info}, nil
	})
}

// ListArchives and ShowArchive answer from the meta leader's metadata.
func (a *adminService) ListArchives(ctx context.Context, req *tpb.ListArchivesRequest) (*tpb.ListArchivesResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ListArchives, func() (*tpb.ListArchivesResponse, error) {
		if req.Table != "" {
			if _, err := a.n.findTable(ctx, req.Table); err != nil {
				return nil, toStatus(err)
			}
		}
		return &tpb.ListArchivesResponse{Archives: a.n.archive.List(ctx, req.Table)}, nil
	})
}

func (a *adminService) ShowArchive(ctx context.Context, req *tpb.ArchiveRequest) (*tpb.ShowArchiveResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.ShowArchive, func() (*tpb.ShowArchiveResponse, error) {
		resp, err := a.n.archive.Show(ctx, req.Table)
		return resp, archiveStatus(err)
	})
}

func (a *adminService) setArchiveState(ctx context.Context, req *tpb.ArchiveRequest, s archive.State,
	rpc func(tpb.AdminClient, context.Context, *tpb.ArchiveRequest, ...grpc.CallOption) (*tpb.ArchiveResponse, error)) (*tpb.ArchiveResponse, error) {
	return onMetaLeader(a.n, ctx, req, rpc, func() (*tpb.ArchiveResponse, error) {
		info, err := a.n.archive.SetState(ctx, req.Table, s)
		if err != nil {
			return nil, archiveStatus(err)
		}
		return &tpb.ArchiveResponse{Archive: info}, nil
	})
}

func (a *adminService) PauseArchive(ctx context.Context, req *tpb.ArchiveRequest) (*tpb.ArchiveResponse, error) {
	return a.setArchiveState(ctx, req, archive.StatePaused, tpb.AdminClient.PauseArchive)
}

func (a *adminService) StartArchive(ctx context.Context, req *tpb.ArchiveRequest) (*tpb.ArchiveResponse, error) {
	return a.setArchiveState(ctx, req, archive.StateActive, tpb.AdminClient.StartArchive)
}

// RemoveArchive stops archiving; leaders release the archive's floor. The
// bucket keeps what it holds.
func (a *adminService) RemoveArchive(ctx context.Context, req *tpb.ArchiveRequest) (*tpb.ArchiveResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.RemoveArchive, func() (*tpb.ArchiveResponse, error) {
		info, err := a.n.archive.Remove(ctx, req.Table)
		if err != nil {
			return nil, archiveStatus(err)
		}
		return &tpb.ArchiveResponse{Archive: info}, nil
	})
}

func (a *adminService) LocalArchiveStatus(_ context.Context, req *tpb.LocalArchiveStatusRequest) (*tpb.LocalArchiveStatusResponse, error) {
	return &tpb.LocalArchiveStatusResponse{Partitions: a.n.archive.LocalStatus(req.ArchiveId)}, nil
}

func (a *adminService) RestorePartition(ctx context.Context, req *tpb.RestorePartitionRequest) (*tpb.RestorePartitionResult, error) {
	res, err := a.n.archive.RestorePartition(ctx, req)
	return res, archiveStatus(err)
}

// Restore plans the restore (every object it needs read and checked, the
// point resolved per partition), creates the table, and has each
// partition's leader install its base and replay the log. A restore that
// fails after the table was created drops it: a table is either restored
// whole or not there.
func (a *adminService) Restore(ctx context.Context, req *tpb.RestoreRequest) (*tpb.RestoreResponse, error) {
	name := req.AsTable
	if name == "" {
		name = req.Table
	}
	pt, err := restorePoint(req)
	if err != nil {
		return nil, toStatus(err)
	}
	if _, ok := a.n.table(name); ok {
		return nil, toStatus(fmt.Errorf("table %q: %w (restore --as NEWTABLE)", name, ErrTableExists))
	}
	s, err := archive.Open(ctx, req.Url, req.Table)
	if err != nil {
		return nil, archiveStatus(err)
	}
	defer s.Close()
	info, plans, err := archive.Plan(ctx, s, pt)
	if err != nil {
		return nil, archiveStatus(err)
	}
	t, _, err := a.n.createTable(ctx, &tpb.CreateTableRequest{Name: name, Partitions: info.Partitions})
	if err != nil {
		return nil, toStatus(err)
	}
	results, err := a.restorePartitions(ctx, name, req, plans)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, derr := a.DropTable(dctx, &tpb.DropTableRequest{Name: name}); derr != nil {
			a.n.lg.Warn("drop of a failed restore's table", zap.String("table", name), zap.Error(derr))
		}
		return nil, archiveStatus(fmt.Errorf("restore %q from %s: %w", name, req.Url, err))
	}
	a.n.lg.Info("table restored", zap.String("table", name), zap.String("from", req.Table), zap.String("url", req.Url))
	return &tpb.RestoreResponse{Table: t, Partitions: results}, nil
}

// restorePoint reads the request's point.
func restorePoint(req *tpb.RestoreRequest) (archive.Point, error) {
	pt := archive.Point{Decree: req.ToDecree, PartitionDecrees: req.ToPartitionDecrees}
	if req.ToTimeUnixNanos != 0 {
		pt.Time = time.Unix(0, req.ToTimeUnixNanos)
	}
	if !pt.Time.IsZero() && (pt.Decree > 0 || len(pt.PartitionDecrees) > 0) {
		return pt, fmt.Errorf("%w: restore to a decree or to a time, not both", ErrInvalidArgument)
	}
	if req.Url == "" || req.Table == "" {
		return pt, fmt.Errorf("%w: restore needs a table and an archive url", ErrInvalidArgument)
	}
	return pt, nil
}

// restorePartitions runs every partition's restore on its leader, a few
// at a time.
func (a *adminService) restorePartitions(ctx context.Context, table string, req *tpb.RestoreRequest, plans []archive.PartitionPlan) ([]*tpb.RestorePartitionResult, error) {
	results := make([]*tpb.RestorePartitionResult, len(plans))
	errs := make([]error, len(plans))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, pl := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			preq := &tpb.RestorePartitionRequest{Table: table, Partition: pl.Partition, Url: req.Url, SourceTable: req.Table,
				BaseDecree: pl.Base, ToDecree: pl.To}
			results[i], errs[i] = a.restoreOnLeader(ctx, preq)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", i, err)
		}
	}
	return results, nil
}

// restoreOnLeader runs one partition's restore here when this node leads
// it, else at the leader, following redirects until ctx ends.
func (a *adminService) restoreOnLeader(ctx context.Context, req *tpb.RestorePartitionRequest) (*tpb.RestorePartitionResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	addr := ""
	for {
		var res *tpb.RestorePartitionResult
		var err error
		if addr == "" || addr == a.n.Addr() {
			res, err = a.n.archive.RestorePartition(ctx, req)
			err = archiveStatus(err)
		} else if conn, derr := a.n.dial(addr); derr != nil {
			err = derr
		} else {
			res, err = tpb.NewAdminClient(conn).RestorePartition(ctx, req)
		}
		if err == nil {
			return res, nil
		}
		kind, next := tpb.ClassifyLeaderError(err)
		if kind == tpb.LeaderFinal {
			return nil, err
		}
		addr = next
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader of partition %d took the restore: %w", req.Partition, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
