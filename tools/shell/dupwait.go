package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// dupWaitPoll is how often dup add --wait asks for the duplication's
// progress.
const dupWaitPoll = 500 * time.Millisecond

// dupWaitListedRows is how many partitions a frame lists one per line;
// beyond it, partitions already in LOG are summed up in one line.
const dupWaitListedRows = 16

// waitDupLog polls duplication id of table until every partition is in
// LOG, drawing each answer on view. It gives up when the duplication is
// paused or removed (it would never get there) and when ctx ends
// (Ctrl-C): errWaitStopped, the duplication going on without the shell.
// An answer that fails for want of a meta leader is asked again.
func waitDupLog(ctx context.Context, c *client.Client, table, id string, view *progressView) (*tandempb.ShowDuplicationResponse, error) {
	tick := time.NewTicker(dupWaitPoll)
	defer tick.Stop()
	var last []string // the last frame drawn from an answer
	for {
		resp, err := c.ShowDuplication(ctx, table, id)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: duplication %s goes on; see dup show %s %s", errWaitStopped, id, table, id)
		case err != nil && !errors.Is(err, client.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded):
			return nil, err
		case err != nil:
			view.draw(append(slices.Clip(last), "  (no answer, asking again: "+err.Error()+")"))
		default:
			last = dupWaitFrame(resp)
			view.draw(last)
			if allInLog(resp.GetPartitions()) {
				return resp, nil
			}
			if st := resp.GetDuplication().GetState(); st == "paused" || st == "removed" {
				return resp, fmt.Errorf("%w: duplication %s is %s, so its partitions will not reach LOG", errWaitStopped, id, st)
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// allInLog reports whether there are partitions and every one is in LOG.
func allInLog(parts []*tandempb.DupPartitionStatus) bool {
	for _, p := range parts {
		if !inLog(p) {
			return false
		}
	}
	return len(parts) > 0
}

// inLog reports whether a partition is in LOG, by its state code, or its
// state's name from a server that predates the code.
func inLog(p *tandempb.DupPartitionStatus) bool {
	if c := p.GetStateCode(); c != tandempb.DupPartitionState_DUP_PARTITION_STATE_UNSPECIFIED {
		return c == tandempb.DupPartitionState_DUP_PARTITION_STATE_LOG
	}
	return p.GetState() == "LOG"
}

// dupWaitFrame draws a duplication's progress: a summary line, then a
// bar per partition of the base checkpoint bytes the remote has pulled.
func dupWaitFrame(resp *tandempb.ShowDuplicationResponse) []string {
	parts := resp.GetPartitions()
	var logged int
	var done, total uint64
	for _, p := range parts {
		if inLog(p) {
			logged++
		}
		done, total = done+min(p.GetBaseBytesDone(), p.GetBaseBytesTotal()), total+p.GetBaseBytesTotal()
	}
	d := resp.GetDuplication()
	frame := []string{fmt.Sprintf("dup %s: %s to %s: %d/%d partitions in LOG, base %s/%s",
		d.GetId(), d.GetTable(), remoteText(d), logged, len(parts), humanBytes(done), humanBytes(total))}
	hidden := 0
	for _, p := range parts {
		if len(parts) > dupWaitListedRows && inLog(p) {
			hidden++
			continue
		}
		frame = append(frame, dupPartitionLine(p))
	}
	if hidden > 0 {
		frame = append(frame, fmt.Sprintf("  (%s in LOG not listed)", plural(hidden, "partition")))
	}
	return frame
}

// dupPartitionLine is one partition's bar: full once in LOG, else the
// base bytes pulled so far.
func dupPartitionLine(p *tandempb.DupPartitionStatus) string {
	done, total := p.GetBaseBytesDone(), p.GetBaseBytesTotal()
	detail := baseProgress(p)
	if inLog(p) {
		done, total = 1, 1
		detail = "lag " + lagCompact(p.GetLagDecrees(), p.GetLagSeconds())
	}
	s := fmt.Sprintf("  p%-3d %-7s %s %s", p.GetPartition(), dash(p.GetState()), progressBar(done, total, 24), detail)
	if e := p.GetLastError(); e != "" {
		s += " (" + strings.TrimSpace(e) + ")"
	}
	return s
}

// lagCompact formats a lag without blanks, time first: "0", "12ms/3",
// "1.5s/340", "3m04s/12000" (time behind / decrees behind).
func lagCompact(decrees uint64, seconds float64) string {
	if decrees == 0 {
		return "0"
	}
	d := time.Duration(seconds * float64(time.Second))
	var t string
	switch {
	case d < time.Second:
		t = fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		t = fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		t = fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		t = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%s/%d", t, decrees)
}
