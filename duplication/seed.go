package duplication

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/archive"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Seeding a duplication from the table's archive (dup add --from-archive):
// the source plans, per partition, the newest archived point and makes
// sure it still holds its log after it (a first pull from there raises
// the duplication's floor); the remote's pullers take base and log up to
// that point from the bucket and then pull the source's log from there,
// as after any base. The source serves no base file.

// seedHoldTimeout bounds how long the source waits for a partition
// leader that knows the new duplication.
const seedHoldTimeout = 10 * time.Second

// planSeed checks that url holds an archive of table t with a base for
// every partition, and returns each partition's newest archived decree,
// once the source holds its log after it for duplication id. Every
// refusal is ErrRefused (wrapping the archive's sentinel when there is
// one): a plain dup add, base from the source, stays the operator's choice.
func (n *Node) planSeed(ctx context.Context, t Table, id, url string) ([]uint64, error) {
	s, err := archive.Open(ctx, url, t.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot seed from archive %s: %w", ErrRefused, url, err)
	}
	defer s.Close()
	ti, plans, err := archive.Plan(ctx, s, archive.Point{})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot seed table %q from archive %s (dup add without --from-archive pulls the base from the source): %w", ErrRefused, t.Name, url, err)
	}
	if ti.Table != t.Name || ti.Partitions != t.Partitions || (t.ID != 0 && ti.TableID != t.ID) {
		return nil, fmt.Errorf("%w: archive %s is of table %q (id %d, %d partitions), not of table %q (id %d, %d partitions)",
			ErrRefused, url, ti.Table, ti.TableID, ti.Partitions, t.Name, t.ID, t.Partitions)
	}
	decrees := make([]uint64, len(plans))
	for _, pl := range plans {
		if err := n.holdLogAfter(ctx, t.Name, id, pl.Partition, pl.To); err != nil {
			return nil, err
		}
		decrees[pl.Partition] = pl.To
	}
	return decrees, nil
}

// holdLogAfter asks the source leader of a partition for its log after
// decree d as duplication id's first pull: the answer says whether the
// log is still there, and the pull raises the duplication's floor to d,
// so it stays there while the remote seeds.
func (n *Node) holdLogAfter(ctx context.Context, table, id string, p uint32, d uint64) error {
	l := &sourceLeader{table: table, partition: p, addrs: n.sourceAddrs(), dial: n.cfg.Dial}
	hctx, cancel := context.WithTimeout(ctx, seedHoldTimeout)
	defer cancel()
	for {
		resp, err := n.pullOnce(hctx, l, table, id, p, d)
		switch {
		case err == nil && resp.LogGone:
			return fmt.Errorf("%w: partition %d: the source no longer holds its log after archived decree %d (%s); dup add without --from-archive pulls a new base from the source",
				ErrRefused, p, d, resp.GoneReason)
		case err == nil:
			return nil
		case errors.Is(err, ErrRefused):
			return err
		case hctx.Err() != nil:
			return fmt.Errorf("partition %d: source leader did not answer a pull from archived decree %d: %w", p, d, err)
		case !l.follow(err):
			// Not found yet (the leader's metadata lags the new
			// record) or no leader: ask again shortly.
			select {
			case <-hctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// pullOnce is one pull from decree d+1 that confirms d.
func (n *Node) pullOnce(ctx context.Context, l *sourceLeader, table, id string, p uint32, d uint64) (*tpb.PullResponse, error) {
	src, _, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := src.Pull(ctx, &tpb.PullRequest{DupId: id, Table: table, Partition: p, From: d + 1, Confirmed: d, WaitMs: 0})
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
		return nil, fmt.Errorf("%w: partition %d: %s", ErrRefused, p, st.Message())
	}
	return resp, err
}

// seed takes the partition's base and log up to the seed decree from the
// archive, through the replica's group; the puller then ships the
// source's log after it.
func (p *Puller) seed(ctx context.Context) error {
	p.setState(PartitionApp)
	s, err := archive.Open(ctx, p.cfg.SeedURL, p.cfg.Table)
	if err != nil {
		return err
	}
	defer s.Close()
	pl, err := archive.PlanSeed(ctx, s, p.cfg.Partition, p.cfg.SeedDecree)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.bytesDone, p.bytesTotal = 0, uint64(pl.BaseBytes)
	p.baseDecree, p.baseID = pl.Base, fmt.Sprintf("archive:%d", pl.Base)
	p.mu.Unlock()
	dir := filepath.Join(p.cfg.WorkDir, fmt.Sprintf("archive-%d", pl.Base))
	res, err := archive.Seed(ctx, s, p.cfg.Replica, p.cfg.Table, pl, dir, p.lg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.bytesDone = uint64(pl.BaseBytes)
	p.upTo = max(p.upTo, pl.To)
	p.clearTransientLocked()
	p.mu.Unlock()
	p.lg.Info("duplication seeded from the archive", zap.Uint64("base_decree", pl.Base), zap.Uint64("source_decree", pl.To),
		zap.Int64("base_bytes", pl.BaseBytes), zap.Uint64("replayed_entries", res.Entries))
	return nil
}

// seedable reports whether the puller should take its base from the
// archive: a seeded duplication whose partition holds nothing yet. After
// a re-bootstrap (the source's log gone later) the base comes from the
// source, the one recovery path.
func (p *Puller) seedable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.SeedURL != "" && p.cfg.SeedDecree > 0 && p.rebootstraps == 0
}
