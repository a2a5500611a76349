package checkpoint

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Partition is what the scheduler checkpoints: one partition replica
// (*replica.Replica is one), keyed by table and partition.
type Partition interface {
	CheckpointKey() string
	Catalog() *Catalog
	Applied() uint64
	DataSize() uint64
	CreateCheckpoint(Purpose) (*Manifest, error)
}

// Policy is the node's checkpoint policy, cluster runtime config changed
// without a restart: how often, how many kept, what is checkpointed at
// once, how many at a time.
type Policy struct {
	// Interval between periodic checkpoints of a replica that changed.
	Interval time.Duration
	// Retain is how many newest checkpoints each replica keeps (plus pinned).
	Retain int
	// TinyBytes: partitions smaller than this are checkpointed at once,
	// without queueing.
	TinyBytes uint64
	// Concurrency bounds checkpoints created at once from the queue.
	Concurrency int
}

// DefaultPolicy is the policy the cluster config starts from.
func DefaultPolicy() Policy {
	return Policy{Interval: 10 * time.Minute, Retain: 2, TinyBytes: 4 << 20, Concurrency: 2}
}

// SchedulerConfig configures a node's checkpoint scheduler.
type SchedulerConfig struct {
	Policy Policy
	// AgingStep: every AgingStep a request waits raises it one priority
	// level, so periodic work cannot starve.
	AgingStep time.Duration
	// Tick is how often periodic checkpoints and GC are considered.
	Tick   time.Duration
	Now    func() time.Time
	Logger *zap.Logger
}

type ckptResult struct {
	m   *Manifest
	err error
}

type ckptJob struct {
	t        Partition
	purpose  Purpose
	min      uint64
	seq      uint64
	enqueued time.Time
	waiters  []chan ckptResult
}

// Scheduler is the node's one checkpoint queue: bounded concurrency,
// priorities (someone waiting > raft snapshot > periodic) with aging,
// requests satisfied by an existing checkpoint when one is recent enough,
// and small partitions checkpointed at once.
type Scheduler struct {
	cfg SchedulerConfig
	lg  *zap.Logger
	met *SchedulerMetrics

	mu      sync.Mutex
	policy  Policy
	queue   []*ckptJob
	running int
	seq     uint64
	targets map[string]Partition
	lastRun map[string]time.Time
	// active counts queued and running jobs per target key.
	active map[string]int
	stop   chan struct{}
	wg     sync.WaitGroup
}

// NewScheduler starts a scheduler; Close stops it.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.AgingStep <= 0 {
		cfg.AgingStep = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Scheduler{cfg: cfg, lg: cfg.Logger, met: newSchedulerMetrics(), policy: cfg.Policy,
		targets: map[string]Partition{}, lastRun: map[string]time.Time{}, active: map[string]int{}, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.periodicLoop()
	return s
}

// Metrics returns the scheduler's Prometheus collectors.
func (s *Scheduler) Metrics() *SchedulerMetrics { return s.met }

// Update applies a new policy; it takes effect at the next dispatch and
// tick.
func (s *Scheduler) Update(st Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st != s.policy {
		s.lg.Info("checkpoint settings changed", zap.Duration("interval", st.Interval), zap.Int("retain", st.Retain),
			zap.Uint64("tiny_bytes", st.TinyBytes), zap.Int("concurrency", st.Concurrency))
	}
	s.policy = st
	s.dispatchLocked()
}

// CurrentPolicy returns the policy in force.
func (s *Scheduler) CurrentPolicy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// Register adds a target to periodic checkpointing and GC.
func (s *Scheduler) Register(t Partition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets[t.CheckpointKey()] = t
	last := s.cfg.Now()
	if m, ok := t.Catalog().LatestAtLeast(0); ok {
		last = m.CreatedAt
	}
	s.lastRun[t.CheckpointKey()] = last
}

// Unregister removes a target; queued requests for it fail.
func (s *Scheduler) Unregister(t Partition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.targets, t.CheckpointKey())
	delete(s.lastRun, t.CheckpointKey())
	kept := s.queue[:0]
	for _, j := range s.queue {
		if j.t.CheckpointKey() == t.CheckpointKey() {
			s.finishLocked(j, ckptResult{err: ErrClosed})
			continue
		}
		kept = append(kept, j)
	}
	s.queue = kept
	s.updateQueueGaugeLocked()
}

// Request returns a checkpoint of t at decree >= min: an existing one if
// there is one, one made at once if t is small, otherwise one made through
// the queue at the purpose's priority.
func (s *Scheduler) Request(ctx context.Context, t Partition, purpose Purpose, min uint64) (*Manifest, error) {
	if m, ok := t.Catalog().LatestAtLeast(min); ok {
		s.met.requests.WithLabelValues(string(purpose), "reused").Inc()
		return m, nil
	}
	if t.DataSize() < s.CurrentPolicy().TinyBytes {
		s.met.requests.WithLabelValues(string(purpose), "fast").Inc()
		return s.create(t, purpose)
	}
	s.met.requests.WithLabelValues(string(purpose), "queued").Inc()
	ch := s.enqueue(t, purpose, min)
	select {
	case res := <-ch:
		return res.m, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("checkpoint of %s: %w", t.CheckpointKey(), ctx.Err())
	case <-s.stop:
		return nil, ErrClosed
	}
}

// create makes a checkpoint now, then collects old ones.
func (s *Scheduler) create(t Partition, purpose Purpose) (*Manifest, error) {
	start := time.Now()
	m, err := t.CreateCheckpoint(purpose)
	if err != nil {
		s.lg.Warn("checkpoint failed", zap.String("target", t.CheckpointKey()), zap.String("purpose", string(purpose)), zap.Error(err))
		return nil, err
	}
	took := time.Since(start)
	s.met.duration.WithLabelValues(string(purpose)).Observe(took.Seconds())
	s.lg.Info("checkpoint created", zap.String("target", t.CheckpointKey()), zap.String("id", m.ID), zap.Uint64("decree", m.Decree),
		zap.String("purpose", string(purpose)), zap.Int64("bytes", m.TotalBytes), zap.Duration("took", took))
	s.gc(t)
	return m, nil
}

func (s *Scheduler) gc(t Partition) {
	if n := t.Catalog().GC(s.CurrentPolicy().Retain); n > 0 {
		s.met.gcDeletions.Add(float64(n))
	}
}

// enqueue joins a queued request for the same target (raising its priority
// and decree if needed) or queues a new one.
func (s *Scheduler) enqueue(t Partition, purpose Purpose, min uint64) chan ckptResult {
	ch := make(chan ckptResult, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.queue {
		if j.t.CheckpointKey() == t.CheckpointKey() {
			if priority(purpose) < priority(j.purpose) {
				j.purpose = purpose
			}
			j.min = max(j.min, min)
			j.waiters = append(j.waiters, ch)
			s.updateQueueGaugeLocked()
			return ch
		}
	}
	s.seq++
	s.active[t.CheckpointKey()]++
	s.queue = append(s.queue, &ckptJob{t: t, purpose: purpose, min: min, seq: s.seq, enqueued: s.cfg.Now(), waiters: []chan ckptResult{ch}})
	s.updateQueueGaugeLocked()
	s.dispatchLocked()
	return ch
}

// effectivePriority ages a job: each AgingStep waited lifts it one level.
func (s *Scheduler) effectivePriority(j *ckptJob, now time.Time) int {
	return priority(j.purpose) - int(now.Sub(j.enqueued)/s.cfg.AgingStep)
}

// popBestLocked removes the job to run next: best effective priority,
// then oldest.
func (s *Scheduler) popBestLocked() *ckptJob {
	now := s.cfg.Now()
	best := -1
	for i, j := range s.queue {
		if best < 0 {
			best = i
			continue
		}
		pj, pb := s.effectivePriority(j, now), s.effectivePriority(s.queue[best], now)
		if pj < pb || (pj == pb && j.seq < s.queue[best].seq) {
			best = i
		}
	}
	j := s.queue[best]
	s.queue = append(s.queue[:best], s.queue[best+1:]...)
	s.updateQueueGaugeLocked()
	return j
}

func (s *Scheduler) dispatchLocked() {
	select {
	case <-s.stop:
		return
	default:
	}
	conc := max(1, s.policy.Concurrency)
	for s.running < conc && len(s.queue) > 0 {
		j := s.popBestLocked()
		s.running++
		s.wg.Add(1)
		go s.execute(j)
	}
}

func (s *Scheduler) execute(j *ckptJob) {
	defer s.wg.Done()
	var res ckptResult
	if m, ok := j.t.Catalog().LatestAtLeast(j.min); ok {
		res.m = m
	} else {
		res.m, res.err = s.create(j.t, j.purpose)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.finishLocked(j, res)
	s.dispatchLocked()
}

func (s *Scheduler) finishLocked(j *ckptJob, res ckptResult) {
	if s.active[j.t.CheckpointKey()]--; s.active[j.t.CheckpointKey()] <= 0 {
		delete(s.active, j.t.CheckpointKey())
	}
	for _, w := range j.waiters {
		w <- res
	}
	j.waiters = nil
}

// periodicLoop queues a periodic checkpoint for every target whose last
// one is older than the interval and that changed since, and collects
// garbage (so a lowered retain or a released pin takes effect).
func (s *Scheduler) periodicLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.periodicPass()
		}
	}
}

func (s *Scheduler) periodicPass() {
	s.mu.Lock()
	now, interval := s.cfg.Now(), s.policy.Interval
	var due, all []Partition
	for key, t := range s.targets {
		all = append(all, t)
		if now.Sub(s.lastRun[key]) < interval || s.active[key] > 0 {
			continue
		}
		s.lastRun[key] = now
		if m, ok := t.Catalog().LatestAtLeast(0); !ok || t.Applied() > m.Decree {
			due = append(due, t)
		}
	}
	s.mu.Unlock()
	for _, t := range due {
		s.enqueue(t, PurposePeriodic, t.Applied())
	}
	for _, t := range all {
		s.gc(t)
	}
}

// Close stops the scheduler, failing queued requests, and waits for
// running checkpoints.
func (s *Scheduler) Close() {
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		return
	default:
	}
	close(s.stop)
	for _, j := range s.queue {
		s.finishLocked(j, ckptResult{err: ErrClosed})
	}
	s.queue = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// QueueLength returns queued (not running) requests by purpose.
func (s *Scheduler) QueueLength() map[Purpose]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Purpose]int{}
	for _, j := range s.queue {
		out[j.purpose]++
	}
	return out
}

func (s *Scheduler) updateQueueGaugeLocked() {
	counts := map[Purpose]int{}
	for _, j := range s.queue {
		counts[j.purpose]++
	}
	for _, p := range []Purpose{PurposeManual, PurposeDuplication, PurposeFailback, PurposeRaftSnapshot, PurposePeriodic} {
		s.met.queue.WithLabelValues(string(p)).Set(float64(counts[p]))
	}
}

// SchedulerMetrics are the scheduler's Prometheus metrics.
type SchedulerMetrics struct {
	duration    *prometheus.HistogramVec
	queue       *prometheus.GaugeVec
	gcDeletions prometheus.Counter
	requests    *prometheus.CounterVec
}

func newSchedulerMetrics() *SchedulerMetrics {
	return &SchedulerMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tandem_checkpoint_duration_seconds", Help: "Time to create and publish a checkpoint, by purpose.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"purpose"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_checkpoint_queue_length", Help: "Checkpoint requests waiting, by purpose (priority).",
		}, []string{"purpose"}),
		gcDeletions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_checkpoint_gc_deletions_total", Help: "Checkpoints deleted by retention.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_checkpoint_requests_total", Help: "Checkpoint requests by purpose and how they were served (reused, fast, queued).",
		}, []string{"purpose", "served"}),
	}
}

// Collectors lists the metrics to register.
func (m *SchedulerMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.queue, m.gcDeletions, m.requests}
}
