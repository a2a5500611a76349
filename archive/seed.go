package archive

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Seeding a duplication from the archive: the remote takes each
// partition's base and the archived log up to a decree from the bucket,
// as a restore does, and the source only ships the log after it.

// PlanSeed plans and verifies partition p's seed up to decree to: the
// newest base at or before it whose archived log reaches it.
func PlanSeed(ctx context.Context, s *Store, p uint32, to uint64) (PartitionPlan, error) {
	return planPartition(ctx, s, p, Point{PartitionDecrees: map[uint32]uint64{p: to}})
}

// Seed installs base pl.Base of partition pl.Partition through r's group
// (downloading into dir, removed after) and replays the archived log up
// to pl.To, as RestorePartition does; like it, it is idempotent and goes
// on from r's stored source decree.
func Seed(ctx context.Context, s *Store, r BaseReplica, table string, pl PartitionPlan, dir string, lg *zap.Logger) (*tpb.RestorePartitionResult, error) {
	req := &tpb.RestorePartitionRequest{Table: table, Partition: pl.Partition, BaseDecree: pl.Base, ToDecree: pl.To}
	res := &tpb.RestorePartitionResult{Partition: pl.Partition, BaseDecree: pl.Base, RestoredDecree: pl.To}
	if r.SourceDecree() < pl.Base {
		if err := installBaseIn(ctx, s, r, req, dir, lg); err != nil {
			return nil, fmt.Errorf("seed partition %d from archived base %d: %w", pl.Partition, pl.Base, err)
		}
	}
	if err := replay(ctx, s, r, req, res); err != nil {
		return nil, err
	}
	return res, nil
}
