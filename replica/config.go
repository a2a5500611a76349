package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/rocksdb"
)

// RaftTiming holds a group's raft timeouts and snapshot policy. Production
// uses DefaultRaftTiming; tests shrink it to tens of milliseconds.
type RaftTiming struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotInterval   time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64
}

// DefaultRaftTiming suits groups on one LAN: a dead leader is replaced
// after 3 to 6 seconds, as in CockroachDB (TiKV waits 10 seconds). Shorter
// timeouts cost idle CPU on every node: every group's leader sends each
// follower a heartbeat every tenth of the timeout (576 idle replicas on 3
// nodes: 28% of one core at 1s, 13-14% at 3s; BENCHMARKS.md).
func DefaultRaftTiming() RaftTiming {
	return RaftTiming{
		SnapshotInterval:  2 * time.Minute,
		SnapshotThreshold: 8192,
		TrailingLogs:      10240,
	}.WithElectionTimeout(3 * time.Second)
}

// WithElectionTimeout returns t with failure detection after d: followers
// start an election after d without a leader (leaders send heartbeats every
// d/10 to d/5), and a leader that has not heard from a quorum for 0.3·d
// steps down (the lease only does that: reads use read index, not leases).
// Idle leaders refresh followers' commit index every 3d to 6d; nothing
// waits on it (leaders answer clients and serve reads), and those empty
// appends were a third of an idle node's CPU when sent every d. A longer d
// trades failover time for less idle traffic.
func (t RaftTiming) WithElectionTimeout(d time.Duration) RaftTiming {
	t.HeartbeatTimeout = d
	t.ElectionTimeout = d
	t.LeaderLeaseTimeout = d * 3 / 10
	t.CommitTimeout = 3 * d
	return t
}

// FastRaftTiming is for tests on loopback. New groups elect at once
// (Campaign) and dead leaders are replaced after the lease timeout
// (PeerWatch), so the timeouts need not be tiny: a lease of 100ms keeps
// leaders from stepping down on a machine loaded by parallel builds.
func FastRaftTiming() RaftTiming {
	t := DefaultRaftTiming()
	t.HeartbeatTimeout = 200 * time.Millisecond
	t.ElectionTimeout = 200 * time.Millisecond
	t.LeaderLeaseTimeout = 100 * time.Millisecond
	t.CommitTimeout = 5 * time.Millisecond
	return t
}

// HubConfig returns the heartbeat hub settings that suit groups with
// timing t. The window is HeartbeatTimeout/40 (25ms at 1s): heartbeats go
// out every HeartbeatTimeout/10 to /5, so the window stretches that by at
// most an eighth while the groups led by one node to one follower share
// about a tenth as many frames as heartbeats. The frame timeout is one
// HeartbeatTimeout: a heartbeat later than that is useless, followers have
// started an election by then.
func (t RaftTiming) HubConfig(mux *raftnet.Mux, lg *zap.Logger) raftnet.HubConfig {
	return raftnet.HubConfig{Mux: mux, Window: t.HeartbeatTimeout / 40, FrameTimeout: t.HeartbeatTimeout, Logger: lg}
}

// Config is everything one replica needs from its node.
type Config struct {
	NodeID    string
	Group     uint64
	Table     string
	Partition uint32
	// Dir is the replica's own directory (data, raft snapshots).
	Dir string
	// Servers is the group's initial membership; used only to bootstrap a
	// group that has no state yet.
	Servers []raft.Server
	// Addresses, when set, gives the address this node dials a member at,
	// by id (the node's --peers), instead of the address stored in the
	// group's replicated configuration, which is the view of whichever node
	// bootstrapped the group. Ids it does not know fall back to the stored
	// address.
	Addresses raft.ServerAddressProvider
	Raft      RaftTiming
	// ApplyTimeout bounds how long a proposal may wait for raft when the
	// caller's context has no deadline.
	ApplyTimeout time.Duration
	Shared       *rocksdb.Shared
	LogDB        *logdb.DB
	Mux          *raftnet.Mux
	// Heartbeats, when set, carries the group's raft heartbeats together
	// with other groups' to the same node (the node's HeartbeatHub).
	Heartbeats *raftnet.HeartbeatHub
	// Scheduler, when set, makes checkpoints (raft snapshots included) go
	// through the node's prioritized queue.
	Scheduler *checkpoint.Scheduler
	Now       func() time.Time
	Logger    *zap.Logger
	// Campaign makes this member start an election as soon as a majority
	// of the group's voters have the group open, rather than after a
	// heartbeat timeout; the node sets it on one member per group.
	Campaign bool
	// OnLeaderChange, when set, is called with the leader's node id (empty:
	// none known) whenever raft sees the group's leader change.
	OnLeaderChange func(leaderID string)
	// Metrics, when set, records commit and apply latency and snapshot
	// installs (shared by the node's replicas).
	Metrics *Metrics
}

// Validate reports a missing or inconsistent field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("replica config: NodeID is empty")
	case c.Dir == "":
		return errors.New("replica config: Dir is empty")
	case c.Shared == nil || c.LogDB == nil || c.Mux == nil:
		return errors.New("replica config: Shared, LogDB and Mux are required")
	case c.Logger == nil:
		return errors.New("replica config: Logger is required")
	case c.Raft.HeartbeatTimeout <= 0 || c.Raft.ElectionTimeout <= 0:
		return fmt.Errorf("replica config: raft timeouts must be positive")
	}
	return nil
}

// RaftConfig builds a hashicorp/raft configuration from the timing, for the
// node nodeID, logging through lg.
func (t RaftTiming) RaftConfig(nodeID string, lg hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(nodeID)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	rc.CommitTimeout = t.CommitTimeout
	rc.SnapshotInterval = t.SnapshotInterval
	rc.SnapshotThreshold = t.SnapshotThreshold
	rc.TrailingLogs = t.TrailingLogs
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 512
	rc.NoLegacyTelemetry = true
	rc.Logger = lg
	return rc
}
