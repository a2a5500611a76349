package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/raftlog"
	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/replica"
)

// metaGroupID is the raft group id of the meta group; partition groups
// have ids of at least 1<<20.
const (
	metaGroupID   uint64 = 0
	maxMetaVoters        = 3
)

// metaGroup is the meta raft group: the first three nodes (by id) vote,
// every other node follows as a non-voter, so each node has the whole
// metadata locally.
type metaGroup struct {
	fsm   *metaFSM
	elect *replica.Elections
	glog  *logdb.GroupLog
	snaps raft.SnapshotStore
	raft  *raft.Raft
	trans *raftnet.VoteTransport
	lg    *zap.Logger

	// openCommit is raft's commit index right after opening: on a
	// restarted node, what it knew before it heard from a leader.
	openCommit uint64
	openedAt   time.Time
	// caughtUpTerm is the latest term in which this node, as leader, has
	// applied every entry committed before it (leaderCaughtUp).
	caughtUpTerm atomic.Uint64
	done         chan struct{}
}

func openMetaGroup(cfg Config, peers []Peer, book *addressBook, mux *raftnet.Mux, logDB *logdb.DB, lg *zap.Logger) (*metaGroup, error) {
	dir := filepath.Join(cfg.DataDir, "meta")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	glog, err := logDB.Group(metaGroupID)
	if err != nil {
		return nil, err
	}
	hl := raftlog.New(lg.With(zap.String("group", "meta")))
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		return nil, err
	}
	sl, err := mux.StreamLayer(metaGroupID)
	if err != nil {
		return nil, err
	}
	m := &metaGroup{fsm: newMetaFSM(lg), glog: glog, snaps: snaps, lg: lg}
	m.trans = raftnet.NewVoteTransport(raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: sl, MaxPool: raftnet.PoolSize, Timeout: 10 * time.Second, Logger: hl, ServerAddressProvider: book,
	}))
	timing := metaTiming(cfg.Raft)
	rc := timing.RaftConfig(cfg.NodeID, hl)
	rc.SnapshotThreshold = 1024
	rc.TrailingLogs = 1024
	// A joining node starts without a configuration: the leader adds it.
	if cfg.Join == "" {
		if err := bootstrapMeta(rc, glog, snaps, m.trans, peers); err != nil {
			m.trans.Close()
			return nil, err
		}
	}
	if m.raft, err = raft.NewRaft(rc, m.fsm, glog, glog, snaps, m.trans); err != nil {
		m.trans.Close()
		return nil, err
	}
	m.openCommit, m.openedAt = m.raft.CommitIndex(), time.Now()
	m.elect = replica.NewElections(m.raft, timing.HeartbeatTimeout, timing.LeaderLeaseTimeout, lg)
	m.elect.Identify(cfg.NodeID, metaGroupID)
	m.trans.SetVoteGate(m.elect)
	m.done = make(chan struct{})
	// A new leader is worth a look at readiness at once (reconcileLoop).
	m.elect.WatchLeader(m.done, func(id string) {
		m.fsm.notify()
		if id == cfg.NodeID {
			m.tell() // followers learn the new term's first commit at once
		}
	})
	if cfg.Join == "" && peers[0].ID == cfg.NodeID {
		c := raftnet.Campaigner{Raft: m.raft, Elect: m.elect.Campaign, Mux: mux, Group: metaGroupID, NodeID: cfg.NodeID,
			Addresses: book, Logger: lg.With(zap.String("group", "meta"))}
		go c.Run(m.done)
	}
	return m, nil
}

// metaTiming is the meta group's raft timing. The meta group is one small
// group per node, so it can afford what hundreds of data groups cannot:
// failure detection within a second whatever the data groups' timeout, and
// an idle commit refresh every half second rather than every few seconds.
// Followers learn of a change at once anyway: raft tells an idle follower
// the commit index only with its next append, and apply sends one right
// after every change (tell).
func metaTiming(data replica.RaftTiming) replica.RaftTiming {
	t := data
	if t.HeartbeatTimeout > metaElectionTimeout {
		t = t.WithElectionTimeout(metaElectionTimeout)
	}
	t.CommitTimeout = min(t.CommitTimeout, metaCommitTimeout)
	return t
}

// metaElectionTimeout caps the meta group's failure detection.
const metaElectionTimeout = time.Second

// metaCommitTimeout bounds how long an idle meta follower waits to learn
// that a change committed when the append that tells it was lost.
const metaCommitTimeout = 500 * time.Millisecond

func bootstrapMeta(rc *raft.Config, glog *logdb.GroupLog, snaps raft.SnapshotStore, trans raft.Transport, peers []Peer) error {
	has, err := raft.HasExistingState(glog, glog, snaps)
	if err != nil || has {
		return err
	}
	var conf raft.Configuration
	for i, p := range peers {
		suffrage := raft.Voter
		if i >= maxMetaVoters {
			suffrage = raft.Nonvoter
		}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: suffrage, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	return raft.BootstrapCluster(rc, glog, glog, snaps, trans, conf)
}

// fsmCaughtUp reports whether the meta FSM has applied every command up to
// raftApplied, raft's applied index. raft counts an entry as applied as
// soon as it is queued for the FSM, and counts no-op and barrier entries the
// FSM never sees, so on a follower its applied index alone does not say the
// metadata is there (a restarted node would answer "table not found" for a
// table whose creation it has queued but not applied).
func (m *metaGroup) fsmCaughtUp(raftApplied uint64) bool {
	m.fsm.mu.RLock()
	floor := m.fsm.applied
	m.fsm.mu.RUnlock()
	if list, err := m.snaps.List(); err == nil && len(list) > 0 {
		floor = max(floor, list[0].Index) // restored at start, or taken from the FSM
	}
	for i := floor + 1; i <= raftApplied; i++ {
		var l raft.Log
		if err := m.glog.GetLog(i, &l); err != nil || l.Type == raft.LogCommand {
			return false
		}
	}
	return true
}

// learnedCommit reports whether this follower knows a commit index from the
// leader: raft records the leader (and heartbeats count as contact) before
// an append carrying the leader's commit index arrives, and until then
// "applied everything committed" is about the commit index it opened with.
// A log that is all committed needs nothing more. A stale uncommitted tail
// can keep the commit index below the last index until the next meta
// write, so after learnCommitWait the node stops waiting for it.
func (m *metaGroup) learnedCommit() bool {
	commit := m.raft.CommitIndex()
	return commit > m.openCommit || commit >= m.raft.LastIndex() || time.Since(m.openedAt) > learnCommitWait
}

// learnCommitWait bounds how long a restarted follower waits to learn the
// leader's commit index before it calls itself ready.
const learnCommitWait = 10 * time.Second

// leaderCaughtUp returns once this node, leading the meta group, has applied
// every entry committed before its term: one barrier per term, since later
// changes apply before their callers hear back.
func (m *metaGroup) leaderCaughtUp(timeout time.Duration) error {
	term := m.raft.CurrentTerm()
	if m.caughtUpTerm.Load() == term {
		return nil
	}
	if err := m.raft.Barrier(timeout).Error(); err != nil {
		return err
	}
	m.caughtUpTerm.Store(term)
	return nil
}

// isLeader reports whether this node leads the meta group.
func (m *metaGroup) isLeader() bool { return m.raft.State() == raft.Leader }

// waitLeader returns the meta leader's id and address, waiting up to
// timeout (or until ctx ends) while an election runs.
func (m *metaGroup) waitLeader(ctx context.Context, timeout time.Duration) (id, addr string) {
	deadline := time.Now().Add(timeout)
	for {
		if id, addr = m.leader(); addr != "" || time.Now().After(deadline) || ctx.Err() != nil {
			return id, addr
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leader returns the meta leader's id and address.
func (m *metaGroup) leader() (id, addr string) {
	a, i := m.raft.LeaderWithID()
	return string(i), string(a)
}

// role is "leader", "voter" or "nonvoter" for node id.
func (m *metaGroup) role(id string) string {
	if lid, _ := m.leader(); lid == id {
		return "leader"
	}
	f := m.raft.GetConfiguration()
	if f.Error() != nil {
		return "unknown"
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			if s.Suffrage == raft.Voter {
				return "voter"
			}
			return "nonvoter"
		}
	}
	return "none"
}

// apply proposes cmd on the leader and returns its result and log index.
func (m *metaGroup) apply(ctx context.Context, cmd metaCommand) (metaResult, uint64, error) {
	data, err := encodeMetaCommand(cmd)
	if err != nil {
		return metaResult{}, 0, err
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := m.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return metaResult{}, 0, fmt.Errorf("%w: %v", ErrNoMetaLeader, err)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return metaResult{}, 0, fmt.Errorf("%w: %v (the change was not proposed)", replica.ErrTimeout, err)
		}
		// Appended, then leadership was lost (or raft stopped): the change
		// may still commit under the next leader, so it is not safe to send
		// again blindly.
		return metaResult{}, 0, fmt.Errorf("%w: metadata change: %v", replica.ErrOutcomeUnknown, err)
	}
	res := f.Response().(metaResult)
	if res.Err == nil {
		announceMetaIndex(ctx, f.Index())
	}
	m.tell()
	return res, f.Index(), res.Err
}

// tell makes the followers learn the commit index now: a barrier entry
// goes out at once, carrying it (raft otherwise sends it to an idle
// follower only at the next commit refresh). Run after every change and
// when a node comes back.
func (m *metaGroup) tell() {
	go func() { _ = m.raft.Barrier(5 * time.Second).Error() }()
}

// waitApplied blocks until this node's meta state includes log index.
func (m *metaGroup) waitApplied(ctx context.Context, index uint64) error {
	for m.raft.AppliedIndex() < index {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := m.fsm.waitApplied(wctx, index)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("wait for meta index %d: %w", index, ctx.Err())
		}
	}
	return nil
}

func (m *metaGroup) close() error {
	close(m.done)
	err := m.raft.Shutdown().Error()
	if terr := m.trans.Close(); err == nil {
		err = terr
	}
	return err
}
