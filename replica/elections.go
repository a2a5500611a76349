package replica

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// Elections changes the timeouts of one raft instance at run time: runtime
// settings, a campaign started now, and a shortened wait for a leader whose
// node is known to be gone. Every change goes through it, so concurrent
// changes do not lose each other.
//
// Nothing here lets a member vote sooner than raft's own rule allows while
// a leader may hold a read lease (lease.go): the heartbeat timeout never
// drops below the leader lease timeout, which raft itself enforces.
//
//   - Campaign makes raft evaluate "no contact with a leader for a heartbeat
//     timeout" now instead of at its next timer: a member that never heard
//     from a leader (a new group, a node just started) elects at once, one
//     that has a leader does nothing. Raft re-checks its timer when the
//     heartbeat timeout shrinks, so raising it by a millisecond and putting
//     it back is the trigger.
//   - Expedite lowers the heartbeat and election timeouts to the leader
//     lease timeout until a leader is seen again (or a window passes): used
//     when the leader's node is known to be dead (its port refuses
//     connections), so followers do not wait out a failure-detection
//     timeout meant for the case where nobody knows.
type Elections struct {
	raft  *raft.Raft
	lease time.Duration
	lg    *zap.Logger

	mu sync.Mutex
	// base is the configured heartbeat and election timeout.
	base time.Duration
	// expedited is set while the timeouts are lowered; until is when they
	// go back without a leader.
	expedited bool
	until     time.Time
	// expedites tells the watch goroutine to end an expedite's window.
	expedites chan struct{}
	// gone is the leader whose node is dead: seeing it as leader still
	// (followers forget a leader only when their timer fires) is no reason
	// to restore the timeouts.
	gone string
}

// expediteWindow bounds how long lowered timeouts last without a leader.
const expediteWindow = 10 * time.Second

// NewElections controls r, whose configured heartbeat and election timeout
// is base and leader lease timeout lease.
func NewElections(r *raft.Raft, base, lease time.Duration, lg *zap.Logger) *Elections {
	return &Elections{raft: r, base: base, lease: lease, lg: lg, expedites: make(chan struct{}, 1)}
}

// Update applies fn to the reloadable settings (runtime config) and keeps
// any lowered timeouts in force.
func (e *Elections) Update(fn func(*raft.ReloadableConfig)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rc := e.raft.ReloadableConfig()
	fn(&rc)
	return e.raft.ReloadConfig(rc)
}

// Campaign starts an election now if this member has not heard from a
// leader for a heartbeat timeout; otherwise it changes nothing.
func (e *Elections) Campaign() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rc := e.raft.ReloadableConfig()
	up := rc
	up.HeartbeatTimeout += time.Millisecond
	up.ElectionTimeout = max(up.ElectionTimeout, up.HeartbeatTimeout)
	if err := e.raft.ReloadConfig(up); err != nil {
		return err
	}
	return e.raft.ReloadConfig(rc)
}

// Expedite lowers the timeouts to the leader lease timeout until a leader
// other than gone (the leader whose node is dead) is observed
// (LeaderSeen) or expediteWindow passes.
func (e *Elections) Expedite(gone string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.until, e.gone = time.Now().Add(expediteWindow), gone
	if e.expedited {
		return nil
	}
	rc := e.raft.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = e.lease, e.lease
	if err := e.raft.ReloadConfig(rc); err != nil {
		return err
	}
	e.expedited = true
	select {
	case e.expedites <- struct{}{}:
	default:
	}
	go e.campaignAfterLease()
	return nil
}

// campaignAfterLease starts the election as soon as raft's rule allows it:
// a lease timeout after the last contact with the dead leader, plus a
// random part of a quarter lease so the followers do not split their
// votes. Left to its timer, raft would check only a whole random timeout
// after the expedite, up to twice as late.
func (e *Elections) campaignAfterLease() {
	jitter := time.Duration(rand.Int64N(int64(e.lease/4) + 1))
	wait := time.Until(e.raft.LastContact().Add(e.lease + jitter))
	time.Sleep(max(wait, 0) + time.Millisecond)
	if _, id := e.raft.LeaderWithID(); id != "" && string(id) != e.goneLeader() {
		return
	}
	if err := e.Campaign(); err != nil {
		e.lg.Debug("campaign after the lease timeout", zap.Error(err))
	}
}

func (e *Elections) goneLeader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gone
}

// LeaderSeen restores the configured timeouts after Expedite once a leader
// exists (called on every leader observation), or once the window passed.
func (e *Elections) LeaderSeen() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.expedited {
		return
	}
	if _, id := e.raft.LeaderWithID(); (id == "" || string(id) == e.gone) && time.Now().Before(e.until) {
		return
	}
	rc := e.raft.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = e.base, e.base
	if err := e.raft.ReloadConfig(rc); err != nil {
		e.lg.Warn("restore raft timeouts", zap.Error(err))
		return
	}
	e.expedited = false
}

// Expedited reports whether the timeouts are lowered now.
func (e *Elections) Expedited() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.expedited
}

// WatchLeader calls fn with the leader's id (empty: none known) on every
// leader change raft observes, until done closes, and restores expedited
// timeouts as leaders appear. It returns at once; the watch runs in the
// background.
func (e *Elections) WatchLeader(done <-chan struct{}, fn func(leaderID string)) {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	e.raft.RegisterObserver(obs)
	go func() {
		defer e.raft.DeregisterObserver(obs)
		// The window of an expedite ends even if no leader is ever seen; no
		// timer runs otherwise (hundreds of idle groups per node).
		var windowEnd <-chan time.Time
		for {
			select {
			case <-done:
				return
			case o := <-ch:
				e.LeaderSeen()
				if fn != nil {
					fn(string(o.Data.(raft.LeaderObservation).LeaderID))
				}
			case <-e.expedites:
				windowEnd = time.After(expediteWindow)
			case <-windowEnd:
				windowEnd = nil
				e.LeaderSeen()
			}
		}
	}()
}
