package server

import (
	"context"
	"fmt"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// LocalChecksum digests this node's replica of one partition.
func (a *adminService) LocalChecksum(_ context.Context, req *tpb.LocalChecksumRequest) (*tpb.LocalChecksumResponse, error) {
	t, ok := a.n.table(req.Table)
	if !ok {
		return nil, toStatus(fmt.Errorf("table %q: %w", req.Table, ErrTableNotFound))
	}
	r := a.n.replica(groupID(t.ID, req.Partition))
	if r == nil {
		return nil, toStatus(fmt.Errorf("table %q partition %d on node %s: %w", req.Table, req.Partition, a.n.cfg.NodeID, ErrNoLocalReplica))
	}
	c, err := r.LocalChecksum()
	if err != nil {
		return nil, toStatus(err)
	}
	return &tpb.LocalChecksumResponse{NodeId: a.n.cfg.NodeID, AppliedDecree: c.Decree, Records: c.Records, Checksum: c.Sum}, nil
}
