package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// archiver uploads one partition's bases and log while this node leads
// it. Everything it needs to resume is in the bucket (the newest base, the
// segments after it), so a new leader goes on where the old one stopped.
type archiver struct {
	cfg *Config
	// uploads bounds the node's concurrent base uploads (shared by its
	// archivers).
	uploads chan struct{}
	lg      *zap.Logger
	info    Info
	r       Replica
	p       uint32
	floor   string

	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	st       tpb.ArchivePartitionStatus
	cursor   uint64    // archived up to here (uploaded, or nothing to upload)
	lastBase time.Time // when the newest base was uploaded
	lastIdle time.Time // when the idle marker was last written
	lastGC   time.Time // when the bucket's retention last ran
	files    FileGC    // partition 0's archiver collects the table's files
}

// gcEvery is how often an archiver applies the bucket's retention besides
// after every base (file deletion needs two passes).
const gcEvery = time.Minute

func newArchiver(cfg *Config, uploads chan struct{}, info Info, r Replica) *archiver {
	p := r.Info().Partition
	a := &archiver{cfg: cfg, uploads: uploads, info: info, r: r, p: p, floor: FloorID(info.ID),
		lg:   cfg.Logger.With(zap.String("archive", info.ID), zap.String("table", info.Table), zap.Uint32("partition", p)),
		stop: make(chan struct{}), done: make(chan struct{})}
	a.st.Partition, a.st.State = p, "BASE"
	return a
}

// run archives until stopped, retrying after any failure (the store down,
// leadership lost) with a pause, so nothing is skipped.
func (a *archiver) run() {
	defer close(a.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		err := a.session(ctx)
		if ctx.Err() != nil {
			return
		}
		a.setErr(err)
		a.lg.Warn("archive upload failed; retrying", zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// session opens the bucket, finds where the archive stands and uploads
// until an error.
func (a *archiver) session(ctx context.Context) error {
	s, err := Open(ctx, a.info.URL, a.info.Table)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := a.resume(ctx, s); err != nil {
		return err
	}
	return a.upload(ctx, s)
}

// resume sets the cursor from the bucket: the end of the log archived
// contiguously after the newest base; no base means one is taken first.
func (a *archiver) resume(ctx context.Context, s *Store) error {
	c, err := s.catalog(ctx, a.p)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.st.Bases, a.st.Segments = uint64(len(c.bases)), uint64(len(c.segments))
	a.mu.Unlock()
	if len(c.bases) == 0 {
		return a.takeBase(ctx, s, true)
	}
	newest := c.bases[len(c.bases)-1]
	b, err := s.readBase(ctx, a.p, newest)
	if err != nil {
		return err
	}
	end, endTime := c.chainEnd(newest)
	a.mu.Lock()
	a.cursor, a.lastBase = end, b.UploadedAt
	a.st.BaseDecree, a.st.ArchivedDecree = newest, end
	if !endTime.IsZero() {
		a.st.ArchivedTimeUnixMs = endTime.UnixMilli()
	} else {
		a.st.ArchivedTimeUnixMs = b.DecreeTime.UnixMilli()
	}
	a.st.State = "LOG"
	a.mu.Unlock()
	return a.raiseFloor(ctx, end)
}

// takeBase checkpoints the partition and uploads it as a base. jump moves
// the cursor to the base (no base yet, or the log after the cursor is
// gone); otherwise the log goes on from the cursor, so every older base
// keeps a contiguous log.
func (a *archiver) takeBase(ctx context.Context, s *Store, jump bool) error {
	a.setState("BASE")
	m, err := a.r.Checkpoint(ctx, checkpoint.PurposeDuplication)
	if err != nil {
		return fmt.Errorf("base checkpoint: %w", err)
	}
	release, err := a.r.Catalog().Acquire(m.ID)
	if err != nil {
		return fmt.Errorf("base checkpoint %s: %w", m.ID, err)
	}
	defer release()
	at, ok := a.r.EntryTime(m.Decree)
	if !ok {
		at = m.CreatedAt
	}
	select {
	case a.uploads <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	st, err := s.UploadBase(ctx, a.p, a.r.Catalog().Dir(m.ID), m, at, a.cfg.Now())
	<-a.uploads
	if err != nil {
		return err
	}
	took := time.Since(start)
	a.lg.Info("archive base uploaded", zap.Uint64("decree", m.Decree), zap.Int64("uploaded_bytes", st.UploadedBytes),
		zap.Int64("reused_bytes", st.ReusedBytes), zap.Int("files", st.Files), zap.Int("reused_files", st.ReusedFiles), zap.Duration("took", took))
	a.mu.Lock()
	a.lastBase = a.cfg.Now()
	a.st.Bases++
	a.st.BaseDecree = m.Decree
	a.st.UploadedBytes += uint64(st.UploadedBytes)
	a.st.BaseBytesUploaded += uint64(st.UploadedBytes)
	a.st.BaseBytesReused += uint64(st.ReusedBytes)
	a.st.LastBaseUploadSeconds = took.Seconds()
	if jump {
		a.cursor = m.Decree
		a.st.ArchivedDecree, a.st.ArchivedTimeUnixMs = m.Decree, at.UnixMilli()
	}
	cursor := a.cursor
	a.st.State = "LOG"
	a.mu.Unlock()
	return a.raiseFloor(ctx, cursor)
}

// raiseFloor makes the partition keep its log after decree (through raft,
// so every replica and the next leader keep it).
func (a *archiver) raiseFloor(ctx context.Context, decree uint64) error {
	if c, ok := a.r.Confirmed()[a.floor]; ok && c >= decree {
		return nil
	}
	return a.r.ProposeDupConfirm(ctx, a.floor, decree)
}

// upload ships the log in segments and a new base every BaseInterval.
func (a *archiver) upload(ctx context.Context, s *Store) error {
	var pend pending
	for ctx.Err() == nil {
		set := a.cfg.Settings()
		if a.baseDue(set) {
			if err := a.flush(ctx, s, &pend); err != nil {
				return err
			}
			if err := a.takeBase(ctx, s, false); err != nil {
				return err
			}
			a.gc(ctx, s, set)
		} else if a.cfg.Now().Sub(a.lastGC) >= gcEvery {
			a.gc(ctx, s, set)
		}
		from := a.next(&pend)
		// Every entry appended before readAt has an index <= last: if the
		// read reaches last, nothing appended before readAt is unread.
		readAt := a.cfg.Now()
		last := a.r.LastIndex()
		entries, upTo, err := a.r.ReadLog(from, set.SegmentBytes)
		if errors.Is(err, replica.ErrLogGone) {
			if err := a.gap(ctx, s, &pend, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		pend.add(entries, upTo, a.cfg.Now())
		a.notePending(&pend)
		if pend.full(set, a.cfg.Now()) {
			if err := a.flush(ctx, s, &pend); err != nil {
				return err
			}
			continue
		}
		if upTo < from {
			if len(pend.entries) == 0 && max(upTo, pend.to) >= last {
				a.markIdle(ctx, s, &pend, set, readAt)
			}
			a.r.WaitDecree(ctx, from, min(set.SegmentAge, time.Second))
		}
	}
	return ctx.Err()
}

// next is the first decree not yet read.
func (a *archiver) next(pend *pending) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if pend.to > 0 {
		return pend.to + 1
	}
	return a.cursor + 1
}

func (a *archiver) baseDue(set Settings) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return set.BaseInterval > 0 && a.cfg.Now().Sub(a.lastBase) >= set.BaseInterval
}

// gap handles a log that is gone before it was archived: it is counted
// and reported, and a new base starts a new contiguous run.
func (a *archiver) gap(ctx context.Context, s *Store, pend *pending, cause error) error {
	if err := a.flush(ctx, s, pend); err != nil {
		return err
	}
	a.mu.Lock()
	a.st.Gaps++
	a.st.LastError = fmt.Sprintf("gap after decree %d (%v); new base taken", a.cursor, cause)
	a.mu.Unlock()
	a.lg.Warn("archive gap: log gone before it was archived; taking a new base", zap.Error(cause))
	return a.takeBase(ctx, s, true)
}

// flush uploads the pending entries as one segment and raises the floor.
// A range with no mutations is not uploaded: the next segment covers it.
func (a *archiver) flush(ctx context.Context, s *Store, pend *pending) error {
	if len(pend.entries) == 0 {
		return nil
	}
	a.mu.Lock()
	seg := &Segment{Partition: a.p, From: a.cursor + 1, To: pend.to, Entries: pend.entries}
	a.mu.Unlock()
	seg.LastTime = pend.lastTime
	if t, ok := a.r.EntryTime(seg.To); ok {
		seg.LastTime = t
	}
	n, err := s.putSegment(ctx, seg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cursor = seg.To
	a.st.Segments++
	a.st.UploadedBytes += uint64(n)
	a.st.ArchivedDecree, a.st.ArchivedTimeUnixMs = seg.To, seg.LastTime.UnixMilli()
	a.st.LastError = ""
	a.mu.Unlock()
	*pend = pending{}
	return a.raiseFloor(ctx, seg.To)
}

// notePending shows a pending range without mutations as archived: there
// is nothing in it to lose.
func (a *archiver) notePending(pend *pending) {
	if len(pend.entries) > 0 || pend.to == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.ArchivedDecree = pend.to
	if t, ok := a.r.EntryTime(pend.to); ok {
		a.st.ArchivedTimeUnixMs = t.UnixMilli()
	}
}

func (a *archiver) setState(s string) {
	a.mu.Lock()
	a.st.State = s
	a.mu.Unlock()
}

func (a *archiver) setErr(err error) {
	a.mu.Lock()
	a.st.LastError = err.Error()
	a.mu.Unlock()
}

// status is the partition's progress.
func (a *archiver) status() *tpb.ArchivePartitionStatus {
	a.mu.Lock()
	st := tpb.ArchivePartitionStatus{Partition: a.st.Partition, State: a.st.State, BaseDecree: a.st.BaseDecree,
		ArchivedDecree: a.st.ArchivedDecree, ArchivedTimeUnixMs: a.st.ArchivedTimeUnixMs, UploadedBytes: a.st.UploadedBytes,
		Segments: a.st.Segments, Bases: a.st.Bases, Gaps: a.st.Gaps, LastError: a.st.LastError,
		BaseBytesUploaded: a.st.BaseBytesUploaded, BaseBytesReused: a.st.BaseBytesReused, LastBaseUploadSeconds: a.st.LastBaseUploadSeconds}
	a.mu.Unlock()
	fillLag(&st, a.r, a.cfg.Now())
	return &st
}

// fillLag adds the leader's applied decree and how far the archive is
// behind it, in decrees and in seconds (age of the oldest unarchived entry).
func fillLag(st *tpb.ArchivePartitionStatus, r Replica, now time.Time) {
	st.Leader, _ = r.Leader()
	st.AppliedDecree = r.Applied()
	if st.ArchivedDecree >= st.AppliedDecree {
		// Caught up: every write appended until now is archived.
		st.ArchivedTimeUnixMs = now.UnixMilli()
	} else {
		st.LagDecrees = st.AppliedDecree - st.ArchivedDecree
		if t, ok := r.EntryTime(st.ArchivedDecree + 1); ok {
			st.LagSeconds = now.Sub(t).Seconds()
		}
	}
}

// pending is the log read but not uploaded yet.
type pending struct {
	entries  []Entry
	bytes    int
	to       uint64
	since    time.Time // when the first entry was read
	lastTime time.Time
}

func (p *pending) add(entries []replica.WalEntry, upTo uint64, now time.Time) {
	if upTo > p.to {
		p.to = upTo
	}
	for _, e := range entries {
		if len(p.entries) == 0 {
			p.since = now
		}
		p.entries = append(p.entries, Entry{Decree: e.Decree, AppendedAt: e.AppendedAt, Command: e.Command})
		p.bytes += len(e.Command)
		p.lastTime = e.AppendedAt
	}
}

// full reports whether the pending entries make a segment now.
func (p *pending) full(set Settings, now time.Time) bool {
	return len(p.entries) > 0 && (p.bytes >= set.SegmentBytes || now.Sub(p.since) >= set.SegmentAge)
}

// markIdle records, at most every SegmentAge, that the partition has
// nothing unarchived as of now (when the read began), so a time restore may stop later than its
// last archived write. A failure only delays the marker.
func (a *archiver) markIdle(ctx context.Context, s *Store, pend *pending, set Settings, now time.Time) {
	if now.Sub(a.lastIdle) < set.SegmentAge {
		return
	}
	a.mu.Lock()
	d := max(a.cursor, pend.to)
	a.mu.Unlock()
	b, _ := json.Marshal(progress{Decree: d, AsOf: now})
	if err := s.Put(ctx, progressKey(a.p), b); err == nil {
		a.lastIdle = now
	}
}

// gc applies the bucket's retention to this partition (and, on partition
// 0, to the table's files). A failure is logged; the next pass retries.
func (a *archiver) gc(ctx context.Context, s *Store, set Settings) {
	a.lastGC = a.cfg.Now()
	if set.RetainBases <= 0 {
		return
	}
	st, err := s.gcPartition(ctx, a.p, set.RetainBases)
	if err == nil && a.p == 0 && a.info.Partitions > 0 {
		st.Files, err = a.files.Pass(ctx, s, a.info.Partitions, a.cfg.Now())
	}
	if err != nil {
		a.lg.Warn("archive retention failed", zap.Error(err))
		return
	}
	if st.Bases+st.Segments+st.Files > 0 {
		a.lg.Info("archive retention", zap.Int("bases_deleted", st.Bases), zap.Int("segments_deleted", st.Segments), zap.Int("files_deleted", st.Files))
	}
}
