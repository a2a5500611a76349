package replica

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// readBarrier implements linearizable reads with the read-index protocol:
// a read captures the commit index, the leader confirms it still holds a
// quorum (one VerifyLeader round shared by every read waiting at that
// moment), and the read proceeds once that index is applied. A new leader
// serves reads only after a barrier in its own term has applied, so its
// commit index covers everything committed before it was elected. While a
// read lease holds (lease.go), reads skip the round.
type readBarrier struct {
	raft *raft.Raft
	// waitApplied blocks until the FSM has applied a decree.
	waitApplied func(context.Context, uint64) error
	lg          *zap.Logger

	// expedite, when set, makes the heartbeats VerifyLeader sends skip the
	// heartbeat hub's coalescing window.
	expedite func()
	// lease and leaseFrom, when set, let reads skip the VerifyLeader round
	// while a read lease of the ready term holds (see lease.go): leaseFrom
	// says when it started.
	lease     time.Duration
	leaseFrom func(term uint64) (time.Time, bool)
	// rounds counts VerifyLeader rounds.
	rounds atomic.Uint64

	mu        sync.Mutex
	readyTerm uint64
	ready     bool
	readyCh   chan struct{}
	pending   []chan error
	verifying bool
	// leaseUntil caches when the latest lease computed in readyTerm ends,
	// so reads inside it need no look at the transport's acks.
	leaseUntil time.Time
	// noLease is set by endLease, before a leadership transfer, until this
	// replica is ready again as a leader.
	noLease bool
}

func newReadBarrier(r *raft.Raft, waitApplied func(context.Context, uint64) error, lg *zap.Logger, done <-chan struct{}) *readBarrier {
	rb := &readBarrier{raft: r, waitApplied: waitApplied, lg: lg, readyCh: make(chan struct{})}
	go rb.watchLeadership(done)
	return rb
}

func (rb *readBarrier) term() uint64 { return rb.raft.CurrentTerm() }

func (rb *readBarrier) watchLeadership(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case isLeader := <-rb.raft.LeaderCh():
			rb.setReady(false, 0)
			if isLeader {
				rb.becomeReady(done)
			}
		}
	}
}

// becomeReady commits a barrier in the new leader's term, then lets reads
// in. A failed barrier is retried for as long as this node leads and no
// leadership change is pending: raft signals a change only once, and a
// leader left unready would refuse every read of its partition.
func (rb *readBarrier) becomeReady(done <-chan struct{}) {
	for rb.raft.State() == raft.Leader {
		term := rb.term()
		err := rb.raft.Barrier(0).Error()
		if err == nil {
			rb.setReady(true, term)
			return
		}
		rb.lg.Info("leader barrier failed; retrying while leader", zap.Error(err))
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if len(rb.raft.LeaderCh()) > 0 {
			return // the next change is waiting: watchLeadership takes it
		}
	}
}

func (rb *readBarrier) setReady(ready bool, term uint64) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if ready == rb.ready && term == rb.readyTerm {
		return
	}
	rb.ready, rb.readyTerm = ready, term
	rb.leaseUntil = time.Time{}
	if ready {
		rb.noLease = false
		close(rb.readyCh)
	} else {
		rb.readyCh = make(chan struct{})
	}
}

// wait returns once a read may observe every write acknowledged before it
// was called.
func (rb *readBarrier) wait(ctx context.Context) error {
	if err := rb.waitReady(ctx); err != nil {
		return err
	}
	readIndex := rb.raft.CommitIndex()
	if !rb.leased() {
		if err := rb.verify(ctx); err != nil {
			return err
		}
	}
	return rb.waitApplied(ctx, readIndex)
}

// leased reports whether a read lease of the term this leader became ready
// in covers now.
func (rb *readBarrier) leased() bool {
	if rb.leaseFrom == nil || rb.lease <= 0 {
		return false
	}
	rb.mu.Lock()
	ready, term, until := rb.ready && !rb.noLease, rb.readyTerm, rb.leaseUntil
	rb.mu.Unlock()
	if !ready {
		return false
	}
	if time.Now().Before(until) {
		return true
	}
	from, ok := rb.leaseFrom(term)
	if !ok {
		return false
	}
	if until = from.Add(rb.lease); !time.Now().Before(until) {
		return false
	}
	rb.mu.Lock()
	if rb.ready && !rb.noLease && rb.readyTerm == term && until.After(rb.leaseUntil) {
		rb.leaseUntil = until
	}
	rb.mu.Unlock()
	return true
}

// endLease stops reads from skipping the VerifyLeader round until this
// replica is ready again as a leader, in a later term: a leadership
// transfer lets followers vote while they know a leader.
func (rb *readBarrier) endLease() {
	rb.mu.Lock()
	rb.noLease, rb.leaseUntil = true, time.Time{}
	rb.mu.Unlock()
}

func (rb *readBarrier) waitReady(ctx context.Context) error {
	if rb.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	rb.mu.Lock()
	ch := rb.readyCh
	rb.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: new leader not ready for reads: %v", ErrNotLeader, ctx.Err())
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%w: new leader not ready for reads", ErrNotLeader)
	}
}

// verify joins the next VerifyLeader round; rounds never overlap, and a
// round serves only reads that arrived before it started.
func (rb *readBarrier) verify(ctx context.Context) error {
	ch := make(chan error, 1)
	rb.mu.Lock()
	rb.pending = append(rb.pending, ch)
	if !rb.verifying {
		rb.verifying = true
		go rb.verifyLoop()
	}
	rb.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: verify leadership: %v", ErrTimeout, ctx.Err())
	}
}

func (rb *readBarrier) verifyLoop() {
	for {
		rb.mu.Lock()
		batch := rb.pending
		rb.pending = nil
		if len(batch) == 0 {
			rb.verifying = false
			rb.mu.Unlock()
			return
		}
		readyTerm, ready := rb.readyTerm, rb.ready
		rb.mu.Unlock()
		rb.rounds.Add(1)
		if rb.expedite != nil {
			rb.expedite()
		}
		err := rb.raft.VerifyLeader().Error()
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrNotLeader, err)
		} else if !ready || rb.term() != readyTerm {
			err = fmt.Errorf("%w: leadership changed", ErrNotLeader)
		}
		for _, ch := range batch {
			ch <- err
		}
	}
}
