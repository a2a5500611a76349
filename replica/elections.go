package replica

import (
	"encoding/binary"
	"hash/fnv"
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
//     timeout meant for the case where nobody knows. The survivors then
//     campaign in turns (turn), and each answers the other's vote request
//     on its merits once its own lease has passed (LeaderGone, the vote
//     gate of raftnet.VoteTransport), so the new leader is elected in one
//     round instead of after a split vote or a refusal for the dead
//     leader.
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
	// id and group name this member for the survivors' turns.
	id    string
	group uint64
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
// a lease timeout after the last contact with the dead leader, plus this
// member's turn among the survivors (turn), so they do not split their
// votes. Left to its timer, raft would check only a whole random timeout
// after the expedite, up to twice as late.
func (e *Elections) campaignAfterLease() {
	wait := time.Until(e.raft.LastContact().Add(e.lease + e.turn(e.goneLeader())))
	time.Sleep(max(wait, 0) + time.Millisecond)
	if _, id := e.raft.LeaderWithID(); id != "" && string(id) != e.goneLeader() {
		return
	}
	if err := e.Campaign(); err != nil {
		e.lg.Debug("campaign after the lease timeout", zap.Error(err))
	}
}

// Identify names this member and its group, so the survivors of a dead
// leader agree on the order in which they campaign (turn). Without it the
// order is random.
func (e *Elections) Identify(id string, group uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.id, e.group = id, group
}

// turn is how long after the lease timeout this member campaigns for the
// dead leader gone's group: survivors take turns a successionGap apart, in
// an order drawn from the group id (so one node does not take over every
// group), with a little randomness within a turn. The first to campaign
// wins unless its log is behind; then the voter, which sees that, runs at
// once (CandidateSeen). Taking turns keeps two survivors from campaigning
// together, which splits the vote and costs a whole second round.
func (e *Elections) turn(gone string) time.Duration {
	gap := e.lease / 8
	jitter := time.Duration(rand.Int64N(int64(gap/4) + 1))
	e.mu.Lock()
	id, group := e.id, e.group
	e.mu.Unlock()
	if id == "" {
		return time.Duration(rand.Int64N(int64(e.lease/4) + 1))
	}
	f := e.raft.GetConfiguration()
	if f.Error() != nil {
		return gap + jitter
	}
	var voters []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.ID))
		}
	}
	return time.Duration(successionRank(id, gone, group, voters))*gap + jitter
}

// successionRank is id's place (0 first) among the voters of group other
// than gone, in the order of successionKey: every survivor computes the
// same order, and it differs from group to group.
func successionRank(id, gone string, group uint64, voters []string) int {
	rank, mine := 0, successionKey(id, group)
	for _, v := range voters {
		if v != gone && v != id && successionKey(v, group) < mine {
			rank++
		}
	}
	return rank
}

// successionKey orders a group's members for succession.
func successionKey(id string, group uint64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], group)
	h.Write(b[:])
	h.Write([]byte(id))
	return h.Sum64()
}

// CandidateSeen is told (by the transport's vote gate) of a vote request
// answered on its merits while this member's leader is known dead. A
// candidate whose log is behind this member's cannot win its vote, and
// this member's lease has passed, so it campaigns now instead of at its
// turn. (The log term is not compared: raft's answer still decides.)
func (e *Elections) CandidateSeen(lastIndex uint64) {
	if lastIndex >= e.raft.LastIndex() {
		return
	}
	if err := e.Campaign(); err != nil {
		e.lg.Debug("campaign for a candidate that is behind", zap.Error(err))
	}
}

// LeaderGone is the raftnet.VoteGate of this member's transport: while
// the leader it still follows is known dead (Expedite), it gives that
// leader's address and how long until a lease has passed since the last
// contact, when raft's own rule lets this member vote for another.
func (e *Elections) LeaderGone() (raft.ServerAddress, time.Duration, bool) {
	e.mu.Lock()
	expedited, gone := e.expedited, e.gone
	e.mu.Unlock()
	if !expedited {
		return "", 0, false
	}
	addr, id := e.raft.LeaderWithID()
	if addr == "" || string(id) != gone {
		return "", 0, false
	}
	return addr, time.Until(e.raft.LastContact().Add(e.lease)), true
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
