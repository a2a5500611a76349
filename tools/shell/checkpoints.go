package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

func runCheckpointLs(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.ListCheckpoints(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return checkpointsResult{list: list, now: time.Now()}, nil
}

func runCheckpointCreate(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	var parts []uint32
	if p, err := a.intFlag("partition", -1); err != nil {
		return nil, err
	} else if p >= 0 {
		parts = append(parts, uint32(p))
	} else if p < -1 {
		return nil, fmt.Errorf("%w: --partition must be >= 0", errUsage)
	}
	start := time.Now()
	var results []*tandempb.CheckpointResult
	if view := s.progressView(); view != nil {
		if parts, err = checkpointParts(ctx, s, a.arg(0), parts); err != nil {
			return nil, err
		}
		results, err = createCheckpointsProgress(ctx, c, a.arg(0), parts, view)
	} else {
		results, err = c.CreateCheckpoint(ctx, a.arg(0), parts...)
	}
	if err != nil {
		return nil, err
	}
	res := checkpointCreateResult{results: results, total: time.Since(start)}
	for _, r := range results {
		if r.GetError() != "" {
			return res, fmt.Errorf("checkpoint of partition %d failed: %s", r.GetPartition(), r.GetError())
		}
	}
	return res, nil
}

// checkpointParts returns parts, or every partition of table when empty.
func checkpointParts(ctx context.Context, s *session, table string, parts []uint32) ([]uint32, error) {
	if len(parts) > 0 {
		return parts, nil
	}
	tbl, err := s.table(ctx, table)
	if err != nil {
		return nil, err
	}
	for p := 0; p < tbl.Partitions(); p++ {
		parts = append(parts, uint32(p))
	}
	return parts, nil
}

// checkpointsResult is checkpoint ls's answer.
type checkpointsResult struct {
	list []*tandempb.CheckpointInfo
	now  time.Time
}

func (r checkpointsResult) human(w io.Writer) error {
	rows := [][]string{{"PARTITION", "NODE", "ID", "DECREE", "SIZE", "AGE", "PURPOSE", "PINNED"}}
	for _, c := range r.list {
		age := r.now.Sub(time.UnixMilli(c.GetCreatedAtUnixMs())).Round(time.Second)
		rows = append(rows, []string{strconv.Itoa(int(c.GetPartition())), c.GetNodeId(), c.GetId(),
			strconv.FormatUint(c.GetDecree(), 10), humanBytes(c.GetSizeBytes()), age.String(), c.GetPurpose(), pinnedText(c)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, "("+plural(len(r.list), "checkpoint")+")")
}

func pinnedText(c *tandempb.CheckpointInfo) string {
	var parts []string
	parts = append(parts, c.GetPinnedBy()...)
	if c.GetInFlight() > 0 {
		parts = append(parts, fmt.Sprintf("%d transfer(s)", c.GetInFlight()))
	}
	if len(parts) == 0 {
		return "no"
	}
	return strings.Join(parts, ",")
}

func checkpointDoc(c *tandempb.CheckpointInfo) map[string]any {
	return map[string]any{"partition": c.GetPartition(), "node_id": c.GetNodeId(), "id": c.GetId(), "decree": c.GetDecree(),
		"size_bytes": c.GetSizeBytes(), "created_at_unix_ms": c.GetCreatedAtUnixMs(), "purpose": c.GetPurpose(),
		"pinned_by": c.GetPinnedBy(), "in_flight": c.GetInFlight(), "empty": c.GetEmpty(), "files": c.GetFiles()}
}

func (r checkpointsResult) json() any {
	docs := make([]map[string]any, len(r.list))
	for i, c := range r.list {
		docs[i] = checkpointDoc(c)
	}
	return docs
}

// checkpointCreateResult is checkpoint create's answer.
type checkpointCreateResult struct {
	results []*tandempb.CheckpointResult
	total   time.Duration
}

func (r checkpointCreateResult) human(w io.Writer) error {
	rows := [][]string{{"PARTITION", "NODE", "DECREE", "SIZE", "TOOK", "ID"}}
	for _, res := range r.results {
		c := res.GetCheckpoint()
		took := (time.Duration(res.GetSeconds() * float64(time.Second))).Round(time.Microsecond).String()
		if res.GetError() != "" {
			rows = append(rows, []string{strconv.Itoa(int(res.GetPartition())), "-", "-", "-", took, "error: " + res.GetError()})
			continue
		}
		rows = append(rows, []string{strconv.Itoa(int(res.GetPartition())), c.GetNodeId(), strconv.FormatUint(c.GetDecree(), 10),
			humanBytes(c.GetSizeBytes()), took, c.GetId()})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("(%s in %s)", plural(len(r.results), "checkpoint"), r.total.Round(time.Microsecond)))
}

func (r checkpointCreateResult) json() any {
	docs := make([]map[string]any, len(r.results))
	for i, res := range r.results {
		docs[i] = map[string]any{"partition": res.GetPartition(), "seconds": res.GetSeconds(), "error": res.GetError()}
		if res.GetCheckpoint() != nil {
			docs[i]["checkpoint"] = checkpointDoc(res.GetCheckpoint())
		}
	}
	return map[string]any{"results": docs, "total_seconds": r.total.Seconds()}
}
