package archive

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// maxReplayBytes bounds the commands of one replayed raft entry.
const maxReplayBytes = 4 << 20

// RestorePartition restores partition req.Partition of table req.Table,
// which this node leads, from the archive of req.SourceTable: base
// req.BaseDecree installed through the partition's raft group (its
// followers receive it as a snapshot), then the archived log replayed up
// to req.ToDecree. Every object is checked before it is used. It is
// idempotent: a partition that already holds the base or part of the log
// (a retried call) goes on from its stored source decree.
func (n *Node) RestorePartition(ctx context.Context, req *tpb.RestorePartitionRequest) (*tpb.RestorePartitionResult, error) {
	r, err := n.cfg.Replicas.Leader(req.Table, req.Partition)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, req.Url, req.SourceTable)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res := &tpb.RestorePartitionResult{Partition: req.Partition, BaseDecree: req.BaseDecree, RestoredDecree: req.ToDecree}
	if r.SourceDecree() < req.BaseDecree {
		if err := n.installBase(ctx, s, r, req); err != nil {
			return nil, err
		}
	}
	if err := replay(ctx, s, r, req, res); err != nil {
		return nil, err
	}
	return res, nil
}

// installBase downloads and checks the base's files, then installs them.
func (n *Node) installBase(ctx context.Context, s *Store, r Replica, req *tpb.RestorePartitionRequest) error {
	dir := filepath.Join(n.cfg.Replicas.Dir(r.Info().Group), fmt.Sprintf("archive-restore-%d", req.BaseDecree))
	return installBaseIn(ctx, s, r, req, dir, n.lg)
}

// BaseReplica is what installing an archived base and replaying the
// archived log need of a partition replica (a restore's, or a duplication
// seeded from the archive).
type BaseReplica interface {
	SourceDecree() uint64
	InstallBase(dir string, m *checkpoint.Manifest) error
	ProposeDuplicated(ctx context.Context, entries []replica.DupEntry, upTo uint64) (uint64, error)
}

// installBaseIn downloads and checks the base's files into dir (removed
// after), then installs them through r's group.
func installBaseIn(ctx context.Context, s *Store, r BaseReplica, req *tpb.RestorePartitionRequest, dir string, lg *zap.Logger) error {
	b, err := s.readBase(ctx, req.Partition, req.BaseDecree)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range b.Checkpoint.Files {
		if err := download(ctx, s, f, filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("base %d of partition %d: %w", req.BaseDecree, req.Partition, err)
		}
	}
	m := *b.Checkpoint
	m.Table, m.Partition = req.Table, req.Partition
	// raft refuses a restore until the group's first configuration entry
	// is applied (a table created a moment ago): an entry proposed and
	// applied first orders the restore after it. It changes nothing.
	if _, err := r.ProposeDuplicated(ctx, nil, r.SourceDecree()); err != nil {
		return err
	}
	if err := r.InstallBase(dir, &m); err != nil {
		return err
	}
	// One entry through the group records the base's decree as applied on
	// every replica, so the replay goes on after it.
	if _, err := r.ProposeDuplicated(ctx, nil, req.BaseDecree); err != nil {
		return err
	}
	lg.Info("archive base restored", zap.String("table", req.Table), zap.Uint32("partition", req.Partition),
		zap.Uint64("decree", req.BaseDecree), zap.Int64("bytes", m.TotalBytes))
	return nil
}

// download fetches one base file and checks it against the manifest.
func download(ctx context.Context, s *Store, f checkpoint.FileInfo, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	h := crc32.New(castagnoli)
	cw := &countingWriter{w: io.MultiWriter(out, h)}
	err = s.Download(ctx, fileKey(f), cw)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("file %s: %w", f.Name, err)
	}
	if cw.n != f.Size || h.Sum32() != f.CRC32C {
		return fmt.Errorf("%w: file %s: %d bytes crc %08x, manifest says %d %08x", ErrCorrupt, f.Name, cw.n, h.Sum32(), f.Size, f.CRC32C)
	}
	return nil
}

// replay applies the archived log after the partition's source decree up
// to req.ToDecree, segment by segment, each checked before any of it is
// proposed.
func replay(ctx context.Context, s *Store, r BaseReplica, req *tpb.RestorePartitionRequest, res *tpb.RestorePartitionResult) error {
	c, err := s.catalog(ctx, req.Partition)
	if err != nil {
		return err
	}
	cur := r.SourceDecree()
	for _, sr := range c.chain(req.BaseDecree) {
		if cur >= req.ToDecree {
			break
		}
		if sr.to <= cur {
			continue
		}
		seg, err := s.readSegment(ctx, req.Partition, sr.from, sr.to)
		if err != nil {
			return err
		}
		upTo := min(seg.To, req.ToDecree)
		if err := proposeEntries(ctx, r, seg.Entries, cur, upTo, res); err != nil {
			return err
		}
		cur = upTo
		if upTo == seg.To && !seg.LastTime.IsZero() {
			res.RestoredTimeUnixMs = seg.LastTime.UnixMilli()
		}
	}
	if cur < req.ToDecree {
		return fmt.Errorf("%w: partition %d: archived log ends at decree %d, restore wants %d", ErrPointUnreachable, req.Partition, cur, req.ToDecree)
	}
	return nil
}

// proposeEntries proposes the entries in (after, upTo] in batches, the
// last batch recording upTo as the partition's source decree.
func proposeEntries(ctx context.Context, r BaseReplica, entries []Entry, after, upTo uint64, res *tpb.RestorePartitionResult) error {
	var batch []replica.DupEntry
	size := 0
	flush := func(to uint64) error {
		if _, err := r.ProposeDuplicated(ctx, batch, to); err != nil {
			return err
		}
		batch, size = nil, 0
		return nil
	}
	for _, e := range entries {
		if e.Decree <= after || e.Decree > upTo {
			continue
		}
		if size+len(e.Command) > maxReplayBytes && len(batch) > 0 {
			if err := flush(batch[len(batch)-1].SourceDecree); err != nil {
				return err
			}
		}
		batch = append(batch, replica.DupEntry{SourceDecree: e.Decree, Command: e.Command})
		size += len(e.Command)
		res.Entries++
		res.Bytes += uint64(len(e.Command))
		res.RestoredTimeUnixMs = e.AppendedAt.UnixMilli()
	}
	return flush(upTo)
}
