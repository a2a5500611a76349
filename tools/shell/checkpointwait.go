package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// checkpointParallel is how many partitions checkpoint create asks for at
// once when it draws progress.
const checkpointParallel = 4

// checkpointRedraw is how often the bar's clock advances on a terminal
// while no partition finishes.
const checkpointRedraw = 250 * time.Millisecond

// createCheckpointsProgress checkpoints the partitions one request each,
// checkpointParallel at a time, drawing on view how many are done, their
// bytes and which are being taken: on a big table each partition's flush
// and copy take a while, and one request for all of them says nothing
// until the last one is done (each request also gets the whole --timeout).
// It stops at the first request that fails.
func createCheckpointsProgress(ctx context.Context, c *client.Client, table string, parts []uint32, view *progressView) ([]*tandempb.CheckpointResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := &checkpointProgress{table: table, total: len(parts), running: map[uint32]bool{}, start: time.Now(), tty: view != nil && view.tty}
	results := make([]*tandempb.CheckpointResult, len(parts))
	errs := make(chan error, len(parts))
	sem := make(chan struct{}, checkpointParallel)
	view.draw(prog.frame()) // 0/N, before any request can finish
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			prog.begin(p)
			res, err := c.CreateCheckpoint(ctx, table, p)
			if err != nil {
				errs <- fmt.Errorf("checkpoint of partition %d: %w", p, err)
				cancel()
				return
			}
			if len(res) == 1 {
				results[i] = res[0]
			}
			prog.end(p, results[i])
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drawUntil(done, view, prog)
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return results, ctx.Err()
}

// drawUntil redraws prog on view until done is closed, then once more.
func drawUntil(done <-chan struct{}, view *progressView, prog *checkpointProgress) {
	tick := time.NewTicker(checkpointRedraw)
	defer tick.Stop()
	for {
		view.draw(prog.frame())
		select {
		case <-done:
			view.draw(prog.frame())
			return
		case <-tick.C:
		}
	}
}

// checkpointProgress is what checkpoint create's bar shows.
type checkpointProgress struct {
	table string
	total int
	start time.Time
	tty   bool // show the clock (a log gets a frame per finished partition only)

	mu      sync.Mutex
	done    int
	failed  int
	bytes   uint64
	running map[uint32]bool
}

func (p *checkpointProgress) begin(part uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[part] = true
}

func (p *checkpointProgress) end(part uint32, res *tandempb.CheckpointResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, part)
	p.done++
	if res.GetError() != "" {
		p.failed++
	}
	p.bytes += res.GetCheckpoint().GetSizeBytes()
}

// frame draws "checkpoint T [####....] 3/8 partitions, 40.0MiB, taking p3 p4".
func (p *checkpointProgress) frame() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("checkpoint %s %s %d/%d partitions, %s", p.table, progressBar(uint64(p.done), uint64(p.total), 24),
		p.done, p.total, humanBytes(p.bytes))
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	if p.tty {
		s += ", " + time.Since(p.start).Round(100*time.Millisecond).String()
	}
	if len(p.running) > 0 {
		var ids []int
		for id := range p.running {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		words := make([]string, len(ids))
		for i, id := range ids {
			words[i] = fmt.Sprintf("p%d", id)
		}
		s += ", taking " + strings.Join(words, " ")
	}
	return []string{s}
}
