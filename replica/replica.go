package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/internal/raftlog"
	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/rocksdb"
)

// Replica is one partition replica: a raft group member whose FSM writes to
// the replica's own RocksDB instance.
type Replica struct {
	cfg     Config
	lg      *zap.Logger
	store   *dataStore
	fsm     *fsm
	catalog *checkpoint.Catalog
	ckpt    *checkpointer
	glog    *logdb.GroupLog
	trans   groupTransport
	raft    *raft.Raft
	reads   *readBarrier
	batch   *batcher
	elect   *Elections

	leaderMu sync.Mutex
	// leaderCh is closed and replaced whenever raft sees the leader change.
	leaderCh chan struct{}

	// snapMu guards snapGen, which supersedes pending rearmSnapshots.
	snapMu  sync.Mutex
	snapGen uint64

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// Open starts the replica, bootstrapping its group from cfg.Servers when it
// has no raft state yet.
func Open(cfg Config) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger.With(zap.String("table", cfg.Table), zap.Uint32("partition", cfg.Partition))
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	// The raft log is the write-ahead log: the data needs no WAL of its own.
	// After a crash the instance is back at its last flush, whose decree is
	// at least the last raft snapshot's, and raft replays the rest.
	store, err := openDataStore(cfg.Dir, cfg.Shared, rocksdb.Options{Now: cfg.Now, DisableWAL: true})
	if err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, lg: lg, store: store, done: make(chan struct{})}
	if err := r.start(); err != nil {
		store.close()
		return nil, fmt.Errorf("start replica %s/%d: %w", cfg.Table, cfg.Partition, err)
	}
	if cfg.Scheduler != nil {
		cfg.Scheduler.Register(r)
	}
	r.reads = newReadBarrier(r.raft, func(ctx context.Context, d uint64) error {
		return r.fsm.waitApplied(ctx, d, r.glog.InternalOnly)
	}, lg, r.done)
	if h := cfg.Heartbeats; h != nil {
		r.reads.expedite = func() { h.Expedite(cfg.Group) }
	}
	if ht, ok := r.trans.(*raftnet.HeartbeatTransport); ok {
		self := raft.ServerID(cfg.NodeID)
		r.reads.lease = time.Duration(readLeaseFraction * float64(cfg.Raft.LeaderLeaseTimeout))
		r.reads.leaseFrom = func(term uint64) (time.Time, bool) { return leaseFrom(r.raft, self, ht, term) }
	}
	return r, nil
}

func (r *Replica) start() error {
	ap, err := newApplier(r.store, r.lg)
	if err != nil {
		return err
	}
	if r.catalog, err = checkpoint.OpenCatalog(filepath.Join(r.cfg.Dir, "checkpoints"), r.lg); err != nil {
		return err
	}
	now := r.cfg.Now
	if now == nil {
		now = time.Now
	}
	r.ckpt = &checkpointer{table: r.cfg.Table, partition: r.cfg.Partition, store: r.store, ap: ap, catalog: r.catalog, now: now, lg: r.lg}
	r.fsm = &fsm{applier: ap, snaps: &snapshotter{store: r.store, lg: r.lg, checkpoint: r.snapshotCheckpoint}, met: r.cfg.Metrics, table: r.cfg.Table}
	if r.glog, err = r.cfg.LogDB.Group(r.cfg.Group); err != nil {
		return err
	}
	r.glog.SetRetentionFloor(r.retentionFloor)
	ap.onConfirmed = func() { go r.glog.CompactPending() }
	hl := raftlog.New(r.lg)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(r.cfg.Dir, "raft-snapshots"), 1, hl)
	if err != nil {
		return err
	}
	sl, err := r.cfg.Mux.StreamLayer(r.cfg.Group)
	if err != nil {
		return err
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: sl, MaxPool: raftnet.PoolSize, Timeout: 10 * time.Second, Logger: hl, ServerAddressProvider: r.cfg.Addresses,
	})
	r.trans = raftnet.NewVoteTransport(nt)
	if r.cfg.Heartbeats != nil {
		if r.trans, err = r.cfg.Heartbeats.Transport(r.cfg.Group, nt, r.cfg.Addresses); err != nil {
			nt.Close()
			return err
		}
	}
	rc := r.cfg.Raft.RaftConfig(r.cfg.NodeID, hl)
	// The FSM's data is durable with its decree, so raft need not restore the
	// latest snapshot on start unless the data is behind it.
	rc.NoSnapshotRestoreOnStart = ap.Applied() >= latestSnapshotIndex(snaps)
	if _, err := r.bootstrapIfNew(rc, snaps); err != nil {
		r.trans.Close()
		return err
	}
	if r.raft, err = raft.NewRaft(rc, r.fsm, r.glog, r.glog, snaps, r.trans); err != nil {
		r.trans.Close()
		return err
	}
	r.batch = &batcher{raft: r.raft, maxInflight: 2, timeout: r.timeout(context.Background())}
	r.elect = NewElections(r.raft, r.cfg.Raft.HeartbeatTimeout, r.cfg.Raft.LeaderLeaseTimeout, r.lg)
	r.leaderCh = make(chan struct{})
	r.elect.WatchLeader(r.done, r.leaderChanged)
	r.elect.Identify(r.cfg.NodeID, r.cfg.Group)
	r.trans.SetVoteGate(r.elect)
	if r.cfg.Campaign {
		c := raftnet.Campaigner{Raft: r.raft, Elect: r.elect.Campaign, Mux: r.cfg.Mux, Group: r.cfg.Group, NodeID: r.cfg.NodeID, Addresses: r.cfg.Addresses, Logger: r.lg}
		go c.Run(r.done)
	}
	return nil
}

// groupTransport is what a replica needs of its raft transport: a
// raftnet.VoteTransport, or a raftnet.HeartbeatTransport around one.
type groupTransport interface {
	raft.Transport
	raft.WithClose
	SetVoteGate(raftnet.VoteGate)
}

var _ groupTransport = (*raftnet.HeartbeatTransport)(nil)

// bootstrapIfNew bootstraps a group with no state; it reports whether it did.
func (r *Replica) bootstrapIfNew(rc *raft.Config, snaps raft.SnapshotStore) (bool, error) {
	has, err := raft.HasExistingState(r.glog, r.glog, snaps)
	if err != nil || has || len(r.cfg.Servers) == 0 {
		return false, err
	}
	// Every member bootstraps with the identical configuration, which raft
	// documents as safe; no member has to be special.
	return true, raft.BootstrapCluster(rc, r.glog, r.glog, snaps, r.trans, raft.Configuration{Servers: r.cfg.Servers})
}

func latestSnapshotIndex(s raft.SnapshotStore) uint64 {
	list, err := s.List()
	if err != nil || len(list) == 0 {
		return 0
	}
	return list[0].Index
}

// propose replicates a command and returns its decree once applied
// locally; its errors are Write's. Concurrent proposals are batched into
// few raft entries (see batcher).
func (r *Replica) propose(ctx context.Context, cmd []byte) (uint64, error) {
	if r.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	start := time.Now()
	d, err := r.batch.propose(ctx, cmd)
	r.cfg.Metrics.observeCommit(r.cfg.Table, start, err)
	return d, err
}

func (r *Replica) timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	if r.cfg.ApplyTimeout > 0 {
		return r.cfg.ApplyTimeout
	}
	return 10 * time.Second
}

// mapRaftError translates the error of a raft.Apply future. Only errors
// raft gives for an entry it never appended are refusals (safe to retry);
// any other failure leaves the entry possibly in the log, where a later
// leader may commit it, so its outcome is unknown.
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Answered by a follower or a stepping-down leader before appending.
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		// Apply never handed the entry to raft's leader loop.
		return fmt.Errorf("%w: %v (the write was not proposed)", ErrTimeout, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		// The entry may or may not commit under the next leader.
		return fmt.Errorf("%w: leadership lost while the write was being replicated", ErrOutcomeUnknown)
	case errors.Is(err, raft.ErrRaftShutdown):
		// Apply refuses with it after shutdown, but an appended entry waiting
		// for its commit gets it too; the two cannot be told apart.
		return fmt.Errorf("%w: %w while the write was pending", ErrOutcomeUnknown, ErrClosed)
	}
	// A failed log write or an aborted entry: it may be on disk.
	return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
}

// ReadRounds counts the leadership rounds linearizable reads have run on
// this replica (reads inside a read lease need none).
func (r *Replica) ReadRounds() uint64 { return r.reads.rounds.Load() }

// Applied is the replica's last applied decree.
func (r *Replica) Applied() uint64 { return r.fsm.Applied() }

// Leader returns the current leader's node id and address, empty if unknown.
func (r *Replica) Leader() (id, addr string) {
	a, i := r.raft.LeaderWithID()
	return string(i), string(a)
}

func (r *Replica) leaderChanged(id string) {
	r.leaderMu.Lock()
	close(r.leaderCh)
	r.leaderCh = make(chan struct{})
	r.leaderMu.Unlock()
	r.cfg.Metrics.leaderChanged(r.cfg.Table, id)
	if r.cfg.OnLeaderChange != nil {
		r.cfg.OnLeaderChange(id)
	}
}

// WaitLeader returns the leader's id and address, waiting up to timeout
// (or until ctx ends) for one to be elected when none is known: a request
// that reaches a follower during an election is redirected as soon as the
// election ends instead of sending the client into a backoff.
func (r *Replica) WaitLeader(ctx context.Context, timeout time.Duration) (id, addr string) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.leaderMu.Lock()
		ch := r.leaderCh
		r.leaderMu.Unlock()
		if id, addr = r.Leader(); addr != "" {
			return id, addr
		}
		select {
		case <-ch:
		case <-deadline.C:
			return r.Leader()
		case <-ctx.Done():
			return r.Leader()
		case <-r.done:
			return "", ""
		}
	}
}

// IsLeader reports whether this replica is the group's leader.
func (r *Replica) IsLeader() bool { return r.raft.State() == raft.Leader }

// Status is a snapshot of the replica's state for operators.
type Status struct {
	State    string
	LeaderID string
	Applied  uint64
	Term     uint64
	Size     uint64
}

// Status reports the replica's raft state, applied decree and data size.
func (r *Replica) Status() Status {
	st := Status{State: stateName(r.raft.State()), Applied: r.Applied()}
	st.LeaderID, _ = r.Leader()
	st.Term = r.currentTerm()
	_ = r.store.with(func(db *rocksdb.DB) error {
		st.Size = db.ApproximateSize()
		return nil
	})
	return st
}

func (r *Replica) currentTerm() uint64 {
	t, _ := r.glog.GetUint64([]byte("CurrentTerm"))
	return t
}

func stateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

// Close stops the raft group and closes the data; it is idempotent.
func (r *Replica) Close() error {
	r.closeOnce.Do(func() {
		if r.cfg.Scheduler != nil {
			r.cfg.Scheduler.Unregister(r)
		}
		close(r.done)
		err := r.raft.Shutdown().Error()
		if terr := r.trans.Close(); err == nil {
			err = terr
		}
		if serr := r.store.close(); err == nil {
			err = serr
		}
		r.closeErr = err
	})
	return r.closeErr
}

// Destroy closes the replica and removes its data and raft log.
func (r *Replica) Destroy() error {
	if err := r.Close(); err != nil {
		r.lg.Warn("close before destroy", zap.Error(err))
	}
	if err := r.cfg.LogDB.DeleteGroup(r.cfg.Group); err != nil {
		return err
	}
	return os.RemoveAll(r.cfg.Dir)
}

// Info names what a replica holds.
type Info struct {
	Table     string
	Partition uint32
	Group     uint64
}

// Info names the replica's table, partition and raft group.
func (r *Replica) Info() Info {
	return Info{Table: r.cfg.Table, Partition: r.cfg.Partition, Group: r.cfg.Group}
}

// CheckpointKey identifies the replica to the checkpoint scheduler.
func (r *Replica) CheckpointKey() string {
	return fmt.Sprintf("%s/%d", r.cfg.Table, r.cfg.Partition)
}

// Catalog is the replica's checkpoint catalog.
func (r *Replica) Catalog() *checkpoint.Catalog { return r.catalog }

// DataDir is the directory of the replica's live RocksDB instance. Its SST
// files are immutable, so a duplication base that lists one of them (same
// name, size and checksum) may hard-link it instead of fetching it.
func (r *Replica) DataDir() string { return r.store.live() }

// DataSize is the replica's approximate data size in bytes.
func (r *Replica) DataSize() uint64 { return r.ckpt.size() }

// CreateCheckpoint takes and publishes a checkpoint now (the scheduler
// calls it; others go through Checkpoint).
func (r *Replica) CreateCheckpoint(p checkpoint.Purpose) (*checkpoint.Manifest, error) {
	return r.ckpt.create(p)
}

// Checkpoint returns a checkpoint at least as new as everything applied
// now, from the catalog, at once for a small partition, or through the
// node's scheduler at the purpose's priority.
func (r *Replica) Checkpoint(ctx context.Context, p checkpoint.Purpose) (*checkpoint.Manifest, error) {
	if r.cfg.Scheduler == nil {
		return r.CreateCheckpoint(p)
	}
	return r.cfg.Scheduler.Request(ctx, r, p, r.Applied())
}

// snapshotCheckpoint serves raft snapshots from the catalog.
func (r *Replica) snapshotCheckpoint(min uint64) (*checkpoint.Manifest, string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var m *checkpoint.Manifest
	var err error
	if r.cfg.Scheduler != nil {
		m, err = r.cfg.Scheduler.Request(ctx, r, checkpoint.PurposeRaftSnapshot, min)
	} else if m, err = r.CreateCheckpoint(checkpoint.PurposeRaftSnapshot); err == nil && m.Decree < min {
		err = fmt.Errorf("checkpoint at %d is older than %d", m.Decree, min)
	}
	if err != nil {
		return nil, "", nil, err
	}
	release, err := r.catalog.Acquire(m.ID)
	if err != nil {
		return nil, "", nil, err
	}
	return m, r.catalog.Dir(m.ID), release, nil
}
