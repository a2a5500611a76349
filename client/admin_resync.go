package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Failback on the admin API (dup resync). Kept apart from admin.go and
// admin_dr.go, which other areas extend.

// ErrRemoteUnreachable is returned when a command needs the remote cluster
// (for Resync: the new primary) and none of its nodes answered; nothing
// changed here. It also matches ErrUnavailable.
var ErrRemoteUnreachable = errors.New("client: remote cluster unreachable")

// Resync makes this (the old source) cluster's table the follower of the
// cluster that was promoted from duplication id (dup promote) and gives
// up the table's own state, run on the old source once it is back. The
// writes this cluster acknowledged that the new primary never applied are
// written first to the divergence file the answer names (JSON lines on
// node DivergenceNode); then the table loads a full base from the new
// primary and follows it (NewDupId), read-only. Refusals are
// ErrDupRefused with the reason (the new primary's table is not failed
// over from id, the table has other remotes, the divergent log is gone);
// an unknown table ErrTableNotFound, an unknown duplication ErrNotFound;
// a new primary that does not answer ErrRemoteUnreachable. Run again after
// an error, it resumes. Without a deadline on ctx it waits a minute.
func (c *Client) Resync(ctx context.Context, table, id string) (*tandempb.ResyncResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, switchoverTimeout)
	defer cancel()
	resp, err := c.admin.ResyncDuplication(ctx, &tandempb.ResyncRequest{Table: table, DupId: id})
	if err != nil {
		return nil, c.resyncError(ctx, err)
	}
	return resp, nil
}

// ResyncFrom is Resync run on the other side: on the cluster whose table
// was promoted (dup promote), it makes the old source at oldSourceAddr
// (any of its nodes) fail back, as dup resync TABLE OLD_SOURCE_ADDR. The
// duplication is the one the table was promoted from; the answer and the
// errors are Resync's, plus ErrDupRefused when this cluster's table was
// not promoted and ErrRemoteUnreachable when the old source does not
// answer (nothing changed).
func (c *Client) ResyncFrom(ctx context.Context, table, oldSourceAddr string) (*tandempb.ResyncResponse, error) {
	if oldSourceAddr == "" {
		return nil, fmt.Errorf("%w: the old source's address is empty", ErrInvalidArgument)
	}
	ctx, cancel := withDefaultTimeout(ctx, switchoverTimeout)
	defer cancel()
	resp, err := c.admin.ResyncDuplication(ctx, &tandempb.ResyncRequest{Table: table, OldSourceAddr: oldSourceAddr})
	if err != nil {
		return nil, c.resyncError(ctx, err)
	}
	return resp, nil
}

// resyncError maps a resync's status to the SDK's errors.
func (c *Client) resyncError(ctx context.Context, err error) error {
	if st, ok := status.FromError(err); ok && tandempb.HasReason(st, tandempb.ReasonRemoteUnreachable) {
		return fmt.Errorf("%w: %w: %s", ErrRemoteUnreachable, ErrUnavailable, st.Message())
	}
	notFound := ErrNotFound
	if st, ok := status.FromError(err); ok && strings.Contains(st.Message(), serverTableNotFound) {
		notFound = ErrTableNotFound
	}
	return c.adminError(ctx, err, notFound)
}

// serverTableNotFound is the text of the server's unknown-table error: a
// resync's NotFound is either the table's or the duplication's.
const serverTableNotFound = "table not found"
