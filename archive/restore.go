package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Point is where a restore stops: the newest archived point (zero
// value), a decree of every partition's own log, or a time.
type Point struct {
	// Decree applies to every partition not in PartitionDecrees.
	Decree           uint64
	PartitionDecrees map[uint32]uint64
	Time             time.Time
}

// decree is the decree asked of partition p (0: not by decree).
func (pt Point) decree(p uint32) uint64 {
	if d, ok := pt.PartitionDecrees[p]; ok {
		return d
	}
	return pt.Decree
}

// PartitionPlan is one partition's restore: the base it starts from and
// the decree the archived log is replayed to.
type PartitionPlan struct {
	Partition  uint32
	Base       uint64
	To         uint64
	ToTime     time.Time
	Entries    int
	Bytes      int64
	BaseBytes  int64
	Segments   int
	BaseFiles  int
	TableShape TableInfo
}

// progress is the archive's record of how far a partition was archived
// as of a time, written while the partition is idle: a time restore may
// stop after the last archived write if the partition was caught up then.
type progress struct {
	Decree uint64    `json:"decree"`
	AsOf   time.Time `json:"as_of"`
}

func progressKey(p uint32) string { return partitionPrefix(p) + "progress.json" }

// Plan finds every partition's newest base at or before the point and the
// archived log up to it, and reads every object that restore needs,
// checking its checksum: a missing or corrupted object, or a point the
// archive cannot reach, is found before anything is created.
func Plan(ctx context.Context, s *Store, pt Point) (TableInfo, []PartitionPlan, error) {
	t, err := s.ReadTableInfo(ctx)
	if err != nil {
		return t, nil, err
	}
	plans := make([]PartitionPlan, t.Partitions)
	for p := range t.Partitions {
		pl, err := planPartition(ctx, s, p, pt)
		if err != nil {
			return t, nil, err
		}
		pl.TableShape = t
		plans[p] = pl
	}
	return t, plans, nil
}

// planPartition plans and verifies partition p's restore.
func planPartition(ctx context.Context, s *Store, p uint32, pt Point) (PartitionPlan, error) {
	c, err := s.catalog(ctx, p)
	if err != nil {
		return PartitionPlan{}, err
	}
	if len(c.bases) == 0 {
		return PartitionPlan{}, fmt.Errorf("partition %d has no base yet: %w", p, ErrArchiveNotFound)
	}
	runs, err := readRuns(ctx, s, c)
	if err != nil {
		return PartitionPlan{}, err
	}
	pl, err := pick(p, runs, pt, readProgress(ctx, s, p))
	if err != nil {
		return pl, err
	}
	return pl, verifyPlan(ctx, s, &pl, runs)
}

// run is one base and the log archived contiguously after it.
type run struct {
	base     *Base
	segments []*Segment
	end      uint64
	endTime  time.Time
}

// readRuns reads every base manifest and every segment that continues
// one, checking each.
func readRuns(ctx context.Context, s *Store, c *partCatalog) ([]run, error) {
	cache := map[segRange]*Segment{}
	var runs []run
	for _, d := range c.bases {
		b, err := s.readBase(ctx, c.p, d)
		if err != nil {
			return nil, err
		}
		r := run{base: b, end: d, endTime: b.DecreeTime}
		for _, sr := range c.chain(d) {
			key := segRange{from: sr.from, to: sr.to}
			seg, ok := cache[key]
			if !ok {
				if seg, err = s.readSegment(ctx, c.p, sr.from, sr.to); err != nil {
					return nil, err
				}
				cache[key] = seg
			}
			r.segments = append(r.segments, seg)
			r.end = seg.To
			if !seg.LastTime.IsZero() {
				r.endTime = seg.LastTime
			}
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// readProgress reads the partition's idle marker (zero when absent or
// unreadable: it only ever extends how late a time restore may go).
func readProgress(ctx context.Context, s *Store, p uint32) progress {
	var pr progress
	if b, err := s.Get(ctx, progressKey(p)); err == nil {
		_ = json.Unmarshal(b, &pr)
	}
	return pr
}

// pick chooses the run and the decree for the point, or says which
// reachable points are nearest.
func pick(p uint32, runs []run, pt Point, pr progress) (PartitionPlan, error) {
	switch {
	case !pt.Time.IsZero():
		return pickTime(p, runs, pt.Time, pr)
	case pt.decree(p) > 0:
		return pickDecree(p, runs, pt.decree(p))
	}
	best := 0
	for i, r := range runs {
		if r.end >= runs[best].end {
			best = i
		}
	}
	r := runs[best]
	return PartitionPlan{Partition: p, Base: r.base.Decree, To: r.end, ToTime: r.endTime}, nil
}

// pickDecree takes the newest base at or before d whose log reaches d.
func pickDecree(p uint32, runs []run, d uint64) (PartitionPlan, error) {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.base.Decree <= d && r.end >= d {
			return PartitionPlan{Partition: p, Base: r.base.Decree, To: d, ToTime: timeAt(r, d)}, nil
		}
	}
	e := &PointError{Partition: p, WantedDecree: d, Reason: "not archived (before the first base, in a gap, or not yet uploaded)"}
	for _, r := range runs {
		if r.base.Decree > d && (e.Above == 0 || r.base.Decree < e.Above) {
			e.Above, e.AboveTime = r.base.Decree, r.base.DecreeTime
		}
		if r.end < d && r.end > e.Below {
			e.Below, e.BelowTime = r.end, r.endTime
		}
	}
	return PartitionPlan{}, e
}

// pickTime takes the newest base written at or before t whose log reaches
// t, and replays every entry appended at or before t.
func pickTime(p uint32, runs []run, t time.Time, pr progress) (PartitionPlan, error) {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.base.DecreeTime.After(t) {
			continue
		}
		reach := r.endTime
		if pr.Decree >= r.end && pr.AsOf.After(reach) {
			reach = pr.AsOf // idle since the run's end, as of the marker
		}
		if t.After(reach) {
			continue
		}
		d := r.base.Decree
		for _, seg := range r.segments {
			for _, e := range seg.Entries {
				if !e.AppendedAt.After(t) {
					d = e.Decree
				}
			}
			if !seg.LastTime.IsZero() && !seg.LastTime.After(t) {
				d = seg.To
			}
		}
		return PartitionPlan{Partition: p, Base: r.base.Decree, To: d, ToTime: t}, nil
	}
	e := &PointError{Partition: p, WantedTime: t, Reason: "not archived (before the first base, in a gap, or not yet uploaded)"}
	for _, r := range runs {
		if r.base.DecreeTime.After(t) && (e.Above == 0 || r.base.DecreeTime.Before(e.AboveTime)) {
			e.Above, e.AboveTime = r.base.Decree, r.base.DecreeTime
		}
		if !r.endTime.After(t) && r.endTime.After(e.BelowTime) {
			e.Below, e.BelowTime = r.end, r.endTime
		}
	}
	return PartitionPlan{}, e
}

// timeAt is when decree d of run r was appended, as far as the archive
// knows (the last entry at or before d).
func timeAt(r run, d uint64) time.Time {
	t := r.base.DecreeTime
	for _, seg := range r.segments {
		for _, e := range seg.Entries {
			if e.Decree <= d {
				t = e.AppendedAt
			}
		}
	}
	return t
}

// verifyPlan checks that every file of the chosen base is stored at its
// size (its content is checked against its checksum as the partition's
// leader downloads it, before anything is installed: reading it here too
// would halve restore throughput) and counts what the replay applies.
func verifyPlan(ctx context.Context, s *Store, pl *PartitionPlan, runs []run) error {
	var r run
	for _, x := range runs {
		if x.base.Decree == pl.Base {
			r = x
		}
	}
	stored, err := s.List(ctx, "files/")
	if err != nil {
		return err
	}
	sizes := make(map[string]int64, len(stored))
	for _, o := range stored {
		sizes[o.Key] = o.Size
	}
	for _, f := range r.base.Checkpoint.Files {
		if size, ok := sizes[fileKey(f)]; !ok || size != f.Size {
			return fmt.Errorf("%w: base %d of partition %d, file %s: stored %v with %d bytes, manifest says %d", ErrCorrupt, pl.Base, pl.Partition, f.Name, ok, size, f.Size)
		}
		pl.BaseBytes += f.Size
		pl.BaseFiles++
	}
	for _, seg := range r.segments {
		if seg.From > pl.To {
			break
		}
		pl.Segments++
		for _, e := range seg.Entries {
			if e.Decree > pl.Base && e.Decree <= pl.To {
				pl.Entries++
				pl.Bytes += int64(len(e.Command))
			}
		}
	}
	return nil
}

// countingWriter counts bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
