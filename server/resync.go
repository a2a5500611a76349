package server

import (
	"context"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Failback's Admin calls (issue 13, dup resync): made by the duplication
// package (duplication/resync.go), wired here. ResyncDuplication runs on
// the old source's meta leader; AcceptResync is its call to the new
// primary's.

// ResyncDuplication runs dup resync on the old source cluster, or, given
// the old source's address, on the promoted table's cluster.
func (a *adminService) ResyncDuplication(ctx context.Context, req *tpb.ResyncRequest) (*tpb.ResyncResponse, error) {
	if _, err := a.n.findTable(ctx, req.Table); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.ResyncDuplication, func() (*tpb.ResyncResponse, error) {
		if req.OldSourceAddr != "" {
			resp, err := a.n.dup.ResyncFrom(ctx, req.Table, req.OldSourceAddr)
			return resp, toStatus(err)
		}
		resp, err := a.n.dup.Resync(ctx, req.Table, req.DupId)
		return resp, toStatus(err)
	})
}

// AcceptResync runs on the new primary, called by the old source.
func (a *adminService) AcceptResync(ctx context.Context, req *tpb.AcceptResyncRequest) (*tpb.AcceptResyncResponse, error) {
	if _, err := a.n.findTable(ctx, req.Table); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.AcceptResync, func() (*tpb.AcceptResyncResponse, error) {
		resp, err := a.n.dup.AcceptResync(ctx, req)
		return resp, toStatus(err)
	})
}
