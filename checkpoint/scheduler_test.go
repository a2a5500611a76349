package checkpoint

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func newTestScheduler(t *testing.T, conc int) *Scheduler {
	t.Helper()
	st := DefaultPolicy()
	st.Concurrency = conc
	st.TinyBytes = 0 // everything queues unless a test says otherwise
	s := NewScheduler(SchedulerConfig{Policy: st, Tick: time.Hour, Logger: zaptest.NewLogger(t)})
	t.Cleanup(s.Close)
	return s
}

func TestSchedulerHighPriorityGoesBeforeQueuedPeriodic(t *testing.T) {
	s := newTestScheduler(t, 1)
	started := make(chan string, 20)
	gate := make(chan struct{})
	blocker := mustNewPartition(t, "blocker")
	blocker.gate, blocker.started = gate, started
	blocker.write(1)
	go s.Request(context.Background(), blocker, PurposePeriodic, 1)
	if got := <-started; got != "blocker" {
		t.Fatalf("first started %s", got)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		tt := mustNewPartition(t, fmt.Sprintf("periodic-%d", i))
		tt.started = started
		tt.write(1)
		wg.Add(1)
		go func() { defer wg.Done(); s.Request(context.Background(), tt, PurposePeriodic, 1) }()
	}
	waitQueued(t, s, PurposePeriodic, 8)
	dup := mustNewPartition(t, "dup")
	dup.started = started
	dup.write(1)
	done := make(chan error, 1)
	go func() { _, err := s.Request(context.Background(), dup, PurposeDuplication, 1); done <- err }()
	waitQueued(t, s, PurposeDuplication, 1)
	close(gate)
	if got := <-started; got != "dup" {
		t.Fatalf("after the running checkpoint, %s started; want the duplication request", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func waitQueued(t *testing.T, s *Scheduler, p Purpose, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.QueueLength()[p] < n {
		if time.Now().After(deadline) {
			t.Fatalf("queue has %d %s requests, want %d", s.QueueLength()[p], p, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSchedulerReusesRecentEnoughCheckpoint(t *testing.T) {
	s := newTestScheduler(t, 2)
	tt := mustNewPartition(t, "t")
	tt.write(5)
	m1, err := s.Request(context.Background(), tt, PurposeDuplication, 5)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.Request(context.Background(), tt, PurposeRaftSnapshot, 3)
	if err != nil || m2.ID != m1.ID {
		t.Fatalf("request for decree 3 made a new checkpoint %v (had %s at %d), err %v", m2, m1.ID, m1.Decree, err)
	}
	tt.write(6)
	m3, err := s.Request(context.Background(), tt, PurposeDuplication, 6)
	if err != nil || m3.ID == m1.ID || m3.Decree != 6 {
		t.Fatalf("request for decree 6 got %+v, %v", m3, err)
	}
	if n := tt.creates.Load(); n != 2 {
		t.Fatalf("%d checkpoints created, want 2", n)
	}
}

func TestSchedulerFastPathSkipsTheQueue(t *testing.T) {
	s := newTestScheduler(t, 1)
	st := s.CurrentPolicy()
	st.TinyBytes = 4 << 20
	s.Update(st)
	blocker := mustNewPartition(t, "big")
	blocker.size = 1 << 30
	blocker.gate = make(chan struct{})
	blocker.started = make(chan string, 1)
	blocker.write(1)
	blockerDone := make(chan struct{})
	go func() { s.Request(context.Background(), blocker, PurposePeriodic, 1); close(blockerDone) }()
	<-blocker.started
	defer func() { close(blocker.gate); <-blockerDone }() // before its directory goes

	tiny := mustNewPartition(t, "tiny")
	tiny.write(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Request(ctx, tiny, PurposeDuplication, 1)
	if err != nil || m.Decree != 1 {
		t.Fatalf("tiny partition behind a running big checkpoint: %+v, %v", m, err)
	}
	empty := mustNewPartition(t, "empty")
	m, err = s.Request(ctx, empty, PurposeDuplication, 0)
	if err != nil || !m.Empty || len(m.Files) != 0 {
		t.Fatalf("empty partition: %+v, %v", m, err)
	}
}

func TestSchedulerAgingPreventsStarvation(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	st := DefaultPolicy()
	st.Concurrency, st.TinyBytes = 1, 0
	s := NewScheduler(SchedulerConfig{Policy: st, Tick: time.Hour, AgingStep: time.Minute, Logger: zaptest.NewLogger(t),
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	defer s.Close()
	started := make(chan string, 10)
	blocker := mustNewPartition(t, "blocker")
	blocker.gate, blocker.started = make(chan struct{}), started
	blocker.write(1)
	go s.Request(context.Background(), blocker, PurposeRaftSnapshot, 1)
	<-started

	old := mustNewPartition(t, "old-periodic")
	old.started = started
	old.write(1)
	go s.Request(context.Background(), old, PurposePeriodic, 1)
	waitQueued(t, s, PurposePeriodic, 1)
	now.Add(int64(3 * time.Minute)) // it has waited three aging steps
	fresh := mustNewPartition(t, "fresh-snapshot")
	fresh.started = started
	fresh.write(1)
	go s.Request(context.Background(), fresh, PurposeRaftSnapshot, 1)
	waitQueued(t, s, PurposeRaftSnapshot, 1)
	close(blocker.gate)
	if got := <-started; got != "old-periodic" {
		t.Fatalf("%s ran first; a periodic request waiting 3 aging steps should beat a new raft snapshot", got)
	}
}

func TestSchedulerPeriodicFollowsRuntimeInterval(t *testing.T) {
	st := DefaultPolicy()
	st.Interval, st.TinyBytes = time.Hour, 0
	s := NewScheduler(SchedulerConfig{Policy: st, Tick: 5 * time.Millisecond, Logger: zaptest.NewLogger(t)})
	defer s.Close()
	tt := mustNewPartition(t, "t")
	tt.write(1)
	s.Register(tt)
	time.Sleep(50 * time.Millisecond) // ten ticks: nothing is due at 1h
	if n := tt.creates.Load(); n != 0 {
		t.Fatalf("%d periodic checkpoints with a 1h interval", n)
	}
	st.Interval = 10 * time.Millisecond
	s.Update(st)
	deadline := time.Now().Add(5 * time.Second)
	for tt.creates.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no periodic checkpoint after the interval was lowered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Unchanged data is not checkpointed again.
	time.Sleep(60 * time.Millisecond)
	if n := tt.creates.Load(); n != 1 {
		t.Fatalf("%d periodic checkpoints of an unchanged partition, want 1", n)
	}
}
