package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// The archive's sentinels (see ArchiveTable and Restore).
var (
	// ErrArchiveNotFound is returned for a table without an archive, or an
	// archive URL that holds nothing of the table.
	ErrArchiveNotFound = errors.New("client: archive not found")
	// ErrPointUnreachable is returned by Restore for a point the archive
	// cannot reach; the message names the nearest reachable point.
	ErrPointUnreachable = errors.New("client: restore point unreachable")
	// ErrArchiveCorrupt is returned by Restore when an archived object
	// fails its checksum; nothing was installed.
	ErrArchiveCorrupt = errors.New("client: archive object corrupted")
	// ErrArchiveUnavailable is returned when the object store did not
	// answer the node.
	ErrArchiveUnavailable = errors.New("client: archive store unavailable")
)

// restoreTimeout bounds a Restore whose context has no deadline: it moves
// the whole table.
const restoreTimeout = 30 * time.Minute

// RestorePoint is where a restore stops: the newest archived point (zero
// value), a decree of every partition's own log (Decree, or per partition
// PartitionDecrees), or a time.
type RestorePoint struct {
	Decree           uint64
	PartitionDecrees map[uint32]uint64
	Time             time.Time
}

// archiveError maps the archive's answers (by their reason) to the
// sentinels above, and everything else as adminError does.
func (c *Client) archiveError(ctx context.Context, err error, notFound error) error {
	st, ok := status.FromError(err)
	if ok {
		for reason, sentinel := range map[string]error{
			tandempb.ReasonPointUnreachable:   ErrPointUnreachable,
			tandempb.ReasonArchiveCorrupt:     ErrArchiveCorrupt,
			tandempb.ReasonArchiveNotFound:    ErrArchiveNotFound,
			tandempb.ReasonArchiveUnavailable: ErrArchiveUnavailable,
		} {
			if tandempb.HasReason(st, reason) {
				return fmt.Errorf("%w: %s", sentinel, st.Message())
			}
		}
		if st.Code() == codes.DataLoss {
			return fmt.Errorf("%w: %s", ErrArchiveCorrupt, st.Message())
		}
	}
	return c.adminError(ctx, err, notFound)
}

// AddArchive starts archiving table continuously to the archive URL
// (file:///path); ErrAlreadyExists when the table has an archive.
func (c *Client) AddArchive(ctx context.Context, table, url string) (*tandempb.ArchiveInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.AddArchive(withRequestID(ctx), &tandempb.AddArchiveRequest{Table: table, Url: url})
	if err != nil {
		return nil, c.archiveError(ctx, err, ErrTableNotFound)
	}
	return resp.GetArchive(), nil
}

// ListArchives lists archives (of table, or all when empty) with their lag.
func (c *Client) ListArchives(ctx context.Context, table string) ([]*tandempb.ArchiveInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ListArchives(ctx, &tandempb.ListArchivesRequest{Table: table})
	if err != nil {
		return nil, c.archiveError(ctx, err, ErrTableNotFound)
	}
	return resp.GetArchives(), nil
}

// ShowArchive returns table's archive with per-partition progress.
func (c *Client) ShowArchive(ctx context.Context, table string) (*tandempb.ShowArchiveResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ShowArchive(ctx, &tandempb.ArchiveRequest{Table: table})
	if err != nil {
		return nil, c.archiveError(ctx, err, ErrArchiveNotFound)
	}
	return resp, nil
}

// PauseArchive stops uploading (the partitions keep their log, within the
// retention cap).
func (c *Client) PauseArchive(ctx context.Context, table string) (*tandempb.ArchiveInfo, error) {
	return c.archiveOp(ctx, table, c.admin.PauseArchive)
}

// StartArchive resumes a paused archive where it stopped.
func (c *Client) StartArchive(ctx context.Context, table string) (*tandempb.ArchiveInfo, error) {
	return c.archiveOp(ctx, table, c.admin.StartArchive)
}

// RemoveArchive stops archiving table; the bucket keeps what it holds.
func (c *Client) RemoveArchive(ctx context.Context, table string) (*tandempb.ArchiveInfo, error) {
	return c.archiveOp(ctx, table, c.admin.RemoveArchive)
}

func (c *Client) archiveOp(ctx context.Context, table string,
	rpc func(context.Context, *tandempb.ArchiveRequest, ...grpc.CallOption) (*tandempb.ArchiveResponse, error)) (*tandempb.ArchiveInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := rpc(ctx, &tandempb.ArchiveRequest{Table: table})
	if err != nil {
		return nil, c.archiveError(ctx, err, ErrArchiveNotFound)
	}
	return resp.GetArchive(), nil
}

// Restore creates table asTable (table when empty) from table's archive
// at url, at point. It returns once every partition is restored; a
// failed restore leaves no table. ErrPointUnreachable names the nearest
// reachable point; ErrArchiveCorrupt means an object failed its checksum.
func (c *Client) Restore(ctx context.Context, table, url, asTable string, point RestorePoint) (*tandempb.RestoreResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, restoreTimeout)
	defer cancel()
	req := &tandempb.RestoreRequest{Table: table, Url: url, AsTable: asTable, ToDecree: point.Decree, ToPartitionDecrees: point.PartitionDecrees}
	if !point.Time.IsZero() {
		req.ToTimeUnixNanos = point.Time.UnixNano()
	}
	resp, err := c.admin.Restore(withRequestID(ctx), req)
	if err != nil {
		return nil, c.archiveError(ctx, err, ErrArchiveNotFound)
	}
	return resp, nil
}
