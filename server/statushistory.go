package server

import (
	"context"
	"errors"
	"sync"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The status page plots the last minutes of every duplication's lag and of
// this node's apply rate. The browser could keep the history itself, but
// then a freshly opened page would start empty exactly when an operator
// opens it to see what just happened; so the node samples once a second
// into fixed-size rings and /status.json hands out the whole window.

// StatusHistoryConfig sets how often the status page's history is sampled
// and how many samples are kept.
type StatusHistoryConfig struct {
	// Interval is the time between two samples.
	Interval time.Duration
	// Samples is how many samples each series keeps; older ones are
	// overwritten, so the memory per series is fixed.
	Samples int
}

// DefaultStatusHistoryConfig samples every second and keeps five minutes.
func DefaultStatusHistoryConfig() StatusHistoryConfig {
	return StatusHistoryConfig{Interval: time.Second, Samples: 300}
}

// Validate reports an interval or a sample count that cannot work.
func (c StatusHistoryConfig) Validate() error {
	switch {
	case c.Interval < 10*time.Millisecond:
		return errors.New("status history: interval must be at least 10ms")
	case c.Samples < 2 || c.Samples > 100_000:
		return errors.New("status history: samples must be between 2 and 100000")
	}
	return nil
}

// ring is a fixed-capacity buffer that keeps the newest values.
type ring[T any] struct {
	buf  []T
	next int  // where the next value goes
	full bool // buf has wrapped at least once
}

// newRing returns an empty ring that holds up to capacity values.
func newRing[T any](capacity int) *ring[T] {
	return &ring[T]{buf: make([]T, capacity)}
}

// push adds v, dropping the oldest value once the ring is full.
func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// len is the number of values held.
func (r *ring[T]) len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// values returns a copy of the values, oldest first.
func (r *ring[T]) values() []T {
	out := make([]T, 0, r.len())
	if r.full {
		out = append(out, r.buf[r.next:]...)
	}
	return append(out, r.buf[:r.next]...)
}

// DupSample is one second of a duplication's lag, as /status.json sends it.
type DupSample struct {
	UnixMs     int64   `json:"t"`
	LagSeconds float64 `json:"lag_s"`
	LagDecrees uint64  `json:"lag_decrees"`
	Progress   string  `json:"progress,omitempty"`
	// ReplicatedUnixMs is the duplication's replicated time (every source
	// write acknowledged before it is on the remote), 0 while unknown;
	// ReplicatedAge is its age when sampled.
	ReplicatedUnixMs int64   `json:"replicated_unix_ms,omitempty"`
	ReplicatedAge    float64 `json:"replicated_age_s"`
}

// RateSample is this node's apply rate over one sampling interval.
type RateSample struct {
	UnixMs          int64   `json:"t"`
	DecreesPerSec   float64 `json:"decrees_per_s"`
	AppliedDecrees  uint64  `json:"applied_decrees"`
	ReplicasSampled int     `json:"replicas"`
}

// statusHistory holds the sampled series: one ring per duplication and
// one for the node's apply rate.
type statusHistory struct {
	cfg StatusHistoryConfig

	mu          sync.Mutex
	dups        map[string]*ring[DupSample]
	rate        *ring[RateSample]
	lastApplied map[string]uint64 // per replica key, to tell a new replica from writes
	lastAt      time.Time
}

// newStatusHistory returns empty series sized by cfg.
func newStatusHistory(cfg StatusHistoryConfig) *statusHistory {
	return &statusHistory{cfg: cfg, dups: map[string]*ring[DupSample]{}, rate: newRing[RateSample](cfg.Samples)}
}

// recordDups adds one sample per listed duplication and forgets the
// series of duplications no longer listed, so removed ones free memory.
func (h *statusHistory) recordDups(at time.Time, dups []*tpb.DuplicationInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(dups))
	for _, d := range dups {
		seen[d.GetId()] = true
		r := h.dups[d.GetId()]
		if r == nil {
			r = newRing[DupSample](h.cfg.Samples)
			h.dups[d.GetId()] = r
		}
		r.push(DupSample{UnixMs: at.UnixMilli(), LagSeconds: d.GetMaxLagSeconds(), LagDecrees: d.GetMaxLagDecrees(),
			Progress: d.GetProgress(), ReplicatedUnixMs: d.GetReplicatedTimeUnixMs(), ReplicatedAge: d.GetReplicatedAgeSeconds()})
	}
	for id := range h.dups {
		if !seen[id] {
			delete(h.dups, id)
		}
	}
}

// recordApplied adds an apply-rate sample from the applied decree of
// every local replica (by key). Only replicas present in both samples
// count, so a replica opened or restored in between adds no fake burst.
func (h *statusHistory) recordApplied(at time.Time, applied map[string]uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var delta, total uint64
	for k, a := range applied {
		total += a
		if prev, ok := h.lastApplied[k]; ok && a >= prev {
			delta += a - prev
		}
	}
	if !h.lastAt.IsZero() && at.After(h.lastAt) {
		h.rate.push(RateSample{UnixMs: at.UnixMilli(), DecreesPerSec: float64(delta) / at.Sub(h.lastAt).Seconds(),
			AppliedDecrees: total, ReplicasSampled: len(applied)})
	}
	h.lastApplied, h.lastAt = applied, at
}

// dupSeries returns a copy of duplication id's samples, oldest first.
func (h *statusHistory) dupSeries(id string) []DupSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.dups[id]; r != nil {
		return r.values()
	}
	return []DupSample{}
}

// rateSeries returns a copy of the apply-rate samples, oldest first.
func (h *statusHistory) rateSeries() []RateSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rate.values()
}

// sampleStatus runs until the node stops, sampling every interval. It is
// one of the node's loops: Close waits for it before closing replicas and
// duplication, which a sample reads.
func (n *Node) sampleStatus(h *statusHistory) {
	defer n.loops.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stop
		cancel()
	}()
	tick := time.NewTicker(h.cfg.Interval)
	defer tick.Stop()
	for {
		n.takeStatusSample(ctx, h)
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
	}
}

// takeStatusSample records one sample of every series. A duplication's
// lag comes from its source leaders (dup ls's answer); with no
// duplication nothing is asked of other nodes.
func (n *Node) takeStatusSample(ctx context.Context, h *statusHistory) {
	applied := map[string]uint64{}
	for _, r := range n.localReplicas() {
		applied[r.CheckpointKey()] = r.Status().Applied
	}
	h.recordApplied(n.cfg.Now(), applied)
	cctx, cancel := context.WithTimeout(ctx, h.cfg.Interval+2*time.Second)
	defer cancel()
	dups := n.dup.List(cctx, "")
	if ctx.Err() == nil {
		h.recordDups(n.cfg.Now(), dups)
	}
}
