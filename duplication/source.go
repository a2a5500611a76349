package duplication

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

const (
	chunkBytes = 1 << 20
	// persistEvery bounds how often a confirmed decree is written through
	// raft; persistAfter forces it after that many decrees.
	persistEvery = time.Second
	persistAfter = 10000
	maxPullBytes = 4 << 20
	maxWait      = 5 * time.Second
	// staleContact is how long a remote may stay silent before `dup show`
	// says so (a pull long-polls for at most maxWait).
	staleContact = 3 * maxWait
)

// Source serves the pull API on source partition leaders: bases, their
// files, and the WAL from a decree on. It remembers each remote partition's
// last report for `dup show`.
type Source struct {
	tpb.UnimplementedDuplicationServer
	cfg *Config
	lg  *zap.Logger
	met *Metrics

	mu       sync.Mutex
	progress map[progressKey]*progress
}

type progressKey struct {
	id        string
	partition uint32
}

// progress is what the source knows of one remote partition.
type progress struct {
	report      *tpb.FollowerReport
	lastContact time.Time
	baseID      string
	baseDecree  uint64
	confirmed   uint64
	persisted   uint64
	persisting  bool
	lastPersist time.Time
	shipped     uint64
}

func newSource(cfg *Config, met *Metrics) *Source {
	return &Source{cfg: cfg, lg: cfg.Logger, met: met, progress: map[progressKey]*progress{}}
}

func (s *Source) check(id, table string) (Info, error) {
	info, ok := s.cfg.Meta.Duplication(id)
	if !ok {
		return Info{}, status.Errorf(codes.NotFound, "duplication %q does not exist on cluster %s", id, s.cfg.Cluster)
	}
	if info.Table != table {
		return Info{}, status.Errorf(codes.InvalidArgument, "duplication %q is of table %q, not %q", id, info.Table, table)
	}
	return info, nil
}

// touch records a remote's report and returns the partition's progress.
func (s *Source) touch(id string, p uint32, report *tpb.FollowerReport) *progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := progressKey{id, p}
	pr := s.progress[k]
	if pr == nil {
		pr = &progress{}
		s.progress[k] = pr
	}
	if report != nil {
		pr.report = report
	}
	pr.lastContact = s.cfg.Now()
	return pr
}

// Prepare gives the remote a base: a duplication-priority checkpoint (at
// once for a small partition), pinned for this duplication, and raises the
// retention floor to its decree so the log after it is kept.
func (s *Source) Prepare(ctx context.Context, req *tpb.PrepareRequest) (*tpb.PrepareResponse, error) {
	info, err := s.check(req.DupId, req.Table)
	if err != nil {
		return nil, err
	}
	r, err := s.cfg.Replicas.Leader(req.Table, req.Partition)
	if err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	m, err := r.Checkpoint(ctx, basePurpose(info))
	if err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	if err := pinBase(r.Catalog(), m.ID, req.DupId); err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	if err := raiseFloor(ctx, r, req.DupId, m.Decree); err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	raw, err := os.ReadFile(filepath.Join(r.Catalog().Dir(m.ID), checkpoint.ManifestFile))
	if err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	pr := s.touch(req.DupId, req.Partition, req.Report)
	s.mu.Lock()
	pr.baseID, pr.baseDecree, pr.confirmed, pr.persisted = m.ID, m.Decree, m.Decree, m.Decree
	s.mu.Unlock()
	s.lg.Info("duplication base prepared", zap.String("dup", req.DupId), zap.String("table", req.Table),
		zap.Uint32("partition", req.Partition), zap.String("checkpoint", m.ID), zap.Uint64("decree", m.Decree))
	return &tpb.PrepareResponse{CheckpointId: m.ID, Decree: m.Decree, Manifest: raw, SourceCluster: s.cfg.Cluster}, nil
}

// FetchFile streams one file of a base from offset on. Any replica on this
// node holding the checkpoint serves it, so a leader change on the source
// does not restart a transfer.
func (s *Source) FetchFile(req *tpb.FetchFileRequest, stream tpb.Duplication_FetchFileServer) error {
	if _, err := s.check(req.DupId, req.Table); err != nil {
		return err
	}
	r, ok := s.cfg.Replicas.Local(req.Table, req.Partition)
	if !ok {
		return status.Errorf(codes.NotFound, "checkpoint %s is not on this node", req.CheckpointId)
	}
	m, ok := r.Catalog().Get(req.CheckpointId)
	if !ok {
		return status.Errorf(codes.NotFound, "checkpoint %s is not on this node", req.CheckpointId)
	}
	var size int64 = -1
	for _, f := range m.Files {
		if f.Name == req.Name {
			size = f.Size
		}
	}
	if size < 0 || int64(req.Offset) > size {
		return status.Errorf(codes.InvalidArgument, "checkpoint %s has no file %q at offset %d", req.CheckpointId, req.Name, req.Offset)
	}
	release, err := r.Catalog().Acquire(req.CheckpointId)
	if err != nil {
		return s.cfg.ToStatus(err)
	}
	defer release()
	s.touch(req.DupId, req.Partition, req.Report)
	sent, err := sendFile(filepath.Join(r.Catalog().Dir(req.CheckpointId), req.Name), int64(req.Offset), size, stream)
	s.met.baseServed.WithLabelValues(req.DupId, req.Table).Add(float64(sent))
	return err
}

// sendFile streams path from offset to size and returns the bytes sent.
func sendFile(path string, offset, size int64, stream tpb.Duplication_FetchFileServer) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, status.Errorf(codes.Internal, "open %s: %v", filepath.Base(path), err)
	}
	defer f.Close()
	return sendOpen(f, offset, size, stream)
}

// sendOpen streams the open file f from offset to size and returns the
// bytes sent.
func sendOpen(f *os.File, offset, size int64, stream tpb.Duplication_FetchFileServer) (int64, error) {
	buf := make([]byte, chunkBytes)
	for off := offset; off < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			if serr := stream.Send(&tpb.FileChunk{Offset: uint64(off), Data: buf[:n]}); serr != nil {
				return off - offset, serr
			}
			off += int64(n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return off - offset, status.Errorf(codes.Internal, "read %s: %v", filepath.Base(f.Name()), err)
		}
		if n == 0 {
			return off - offset, status.Errorf(codes.Internal, "%s is shorter than its manifest says", filepath.Base(f.Name()))
		}
	}
	return size - offset, nil
}

// Pull returns applied mutation entries from req.From on, long-polling up
// to req.WaitMs when there are none yet, and records the remote's
// confirmed decree (persisted through raft now and then).
func (s *Source) Pull(ctx context.Context, req *tpb.PullRequest) (*tpb.PullResponse, error) {
	info, err := s.check(req.DupId, req.Table)
	if err != nil {
		return nil, err
	}
	if req.From == 0 {
		return nil, status.Error(codes.InvalidArgument, "pull from decree 0: a remote starts after its base decree")
	}
	r, err := s.cfg.Replicas.Leader(req.Table, req.Partition)
	if err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	if req.Confirmed > r.Applied() {
		return nil, status.Errorf(codes.InvalidArgument, "confirmed decree %d is in the future (source applied %d)", req.Confirmed, r.Applied())
	}
	pr := s.touch(req.DupId, req.Partition, req.Report)
	s.recordConfirmed(r, req.DupId, pr, req.Confirmed)
	if info.Paused() {
		return &tpb.PullResponse{Paused: true, SourceDecree: r.Applied(), UpTo: req.From - 1}, nil
	}
	wait := min(time.Duration(req.WaitMs)*time.Millisecond, maxWait)
	r.WaitDecree(ctx, req.From, wait)
	// A pause that came during the long poll holds this batch back too.
	if info, ok := s.cfg.Meta.Duplication(req.DupId); !ok || info.Paused() {
		return &tpb.PullResponse{Paused: true, SourceDecree: r.Applied(), UpTo: req.From - 1}, nil
	}
	return s.readLog(r, req, pr, stampNow(ctx, r, s.cfg.Now))
}

// stamp is a moment on the source leader's clock and its applied decree
// after the read barrier: every write acknowledged before at has a decree
// <= applied. A zero at means the barrier failed (not leading any more).
type stamp struct {
	at      time.Time
	applied uint64
}

// stampNow takes the time first and the applied decree after the barrier,
// in that order: a write acknowledged before the time is then applied.
func stampNow(ctx context.Context, r SourceReplica, now func() time.Time) stamp {
	at := now()
	if _, err := r.Read(ctx); err != nil {
		return stamp{}
	}
	return stamp{at: at, applied: r.Applied()}
}

// sourceTime is the replicated time an answer reaching upTo establishes
// (unix ms, 0 for none): the stamp when it reaches the stamp's decree,
// else just before the next entry was appended (writes acknowledged
// before that came earlier in the log).
func sourceTime(r SourceReplica, st stamp, upTo uint64) int64 {
	if st.at.IsZero() {
		return 0
	}
	if upTo >= st.applied {
		return st.at.UnixMilli()
	}
	if t, ok := r.EntryTime(upTo + 1); ok {
		return min(t.UnixMilli()-1, st.at.UnixMilli())
	}
	return 0
}

// readLog answers a pull with the entries from req.From on, or says the
// log the remote needs is gone.
func (s *Source) readLog(r SourceReplica, req *tpb.PullRequest, pr *progress, st stamp) (*tpb.PullResponse, error) {
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || maxBytes > maxPullBytes {
		maxBytes = maxPullBytes
	}
	lb, err := r.ReadLogBatch(req.From, maxBytes)
	if errors.Is(err, replica.ErrLogGone) {
		s.lg.Warn("duplication needs log that is gone", zap.String("dup", req.DupId), zap.Uint32("partition", req.Partition), zap.Error(err))
		return &tpb.PullResponse{LogGone: true, GoneReason: err.Error(), SourceDecree: r.Applied()}, nil
	}
	if err != nil {
		return nil, s.cfg.ToStatus(err)
	}
	resp := &tpb.PullResponse{SourceDecree: r.Applied(), UpTo: lb.UpTo, SourceTimeUnixMs: s.answerTime(r, req.Table, st, lb)}
	for _, e := range lb.Entries {
		resp.Entries = append(resp.Entries, &tpb.WalEntry{Decree: e.Decree, Command: e.Command, AppendedAtUnixMs: e.AppendedAt.UnixMilli()})
	}
	s.mu.Lock()
	pr.shipped += uint64(len(lb.Entries))
	s.mu.Unlock()
	s.met.shipped.WithLabelValues(req.DupId, req.Table).Add(float64(len(lb.Entries)))
	return resp, nil
}

// answerTime is the replicated time an answer establishes. A table that
// follows another cluster's (the middle of a chain) takes no writes of its
// own: what its remote can claim is its own source's time, carried by the
// shipped entries in the range (sound: every write acknowledged on the
// head before it is applied here through the entry, so at the remote once
// it applied through UpTo). A primary's is its stamp.
func (s *Source) answerTime(r SourceReplica, table string, st stamp, lb replica.LogBatch) int64 {
	if s.following(table) {
		return int64(lb.ReplicatedMs)
	}
	return sourceTime(r, st, lb.UpTo)
}

// following reports whether this cluster's table follows a duplication
// from another cluster.
func (s *Source) following(table string) bool {
	for _, f := range s.cfg.Meta.Followers() {
		if f.Table == table {
			return true
		}
	}
	return false
}
