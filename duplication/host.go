package duplication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/logdb"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// What duplication needs of its node, as narrow interfaces: a partition's
// replica, the node's replicas, and the cluster metadata. *replica.Replica
// is a Replica; the server adapts its replicas and its meta group.

// SourceReplica is what the source side needs of a partition replica:
// bases, the log, and the confirmed decrees that hold the log back.
type SourceReplica interface {
	Applied() uint64
	Leader() (id, addr string)
	// Read returns once this replica, still leading, has applied every
	// write acknowledged before the call (the linearizable read barrier):
	// what makes a pull answer's replicated time sound.
	Read(ctx context.Context) (replica.View, error)
	Checkpoint(ctx context.Context, p checkpoint.Purpose) (*checkpoint.Manifest, error)
	Catalog() *checkpoint.Catalog
	ReadLog(from uint64, maxBytes int) ([]replica.WalEntry, uint64, error)
	// ReadLogBatch is ReadLog with the replicated time the shipped
	// entries in the range carry (a chain's middle ships its source's).
	ReadLogBatch(from uint64, maxBytes int) (replica.LogBatch, error)
	WaitDecree(ctx context.Context, d uint64, timeout time.Duration) uint64
	EntryTime(d uint64) (time.Time, bool)
	Confirmed() map[string]uint64
	ProposeDupConfirm(ctx context.Context, id string, confirmed uint64) error
	ProposeDupRelease(ctx context.Context, id string) error
	RetainedLogBytes() uint64
	SetRetentionCap(c logdb.RetentionCap)
}

// FollowerReplica is what a puller needs of the remote partition's
// replica: its source decree, a base install, shipped entries applied.
type FollowerReplica interface {
	SourceDecree() uint64
	// ReplicatedTime is the replicated time stored with the data (zero
	// when unknown).
	ReplicatedTime() time.Time
	InstallBase(dir string, m *checkpoint.Manifest) error
	ProposeDuplicated(ctx context.Context, entries []replica.DupEntry, upTo uint64) (uint64, error)
	// ProposeDuplicatedAt also records the replicated time the batch
	// establishes, atomically with it.
	ProposeDuplicatedAt(ctx context.Context, entries []replica.DupEntry, upTo uint64, at time.Time) (uint64, error)
}

// SwitchReplica is what a switchover needs of a partition replica: a
// fence in its log, and a follower's start decree set outright.
type SwitchReplica interface {
	Fence(ctx context.Context) (uint64, error)
	Unfence(ctx context.Context) error
	FollowFrom(ctx context.Context, d uint64) error
	Unfollow(ctx context.Context) (uint64, time.Time, error)
	// FollowAnew forgets the source decree, so the partition loads a base
	// from its next source (dup resync).
	FollowAnew(ctx context.Context) error
}

// Replica is one partition replica of this node, on either side.
type Replica interface {
	Info() replica.Info
	IsLeader() bool
	FileHolder
	SourceReplica
	FollowerReplica
	SwitchReplica
}

// Replicas is what duplication needs of the node's replicas.
type Replicas interface {
	// Leader returns this node's replica of a partition when it leads it,
	// or an error Config.ToStatus translates (NotLeader naming the
	// leader, an unknown table).
	Leader(table string, partition uint32) (Replica, error)
	// Local returns this node's replica of a partition, leader or not.
	Local(table string, partition uint32) (Replica, bool)
	// All lists this node's replicas.
	All() []Replica
	// Dir is the directory of this node's replica of a raft group; its
	// puller keeps base files there while they download, so a restart
	// resumes them.
	Dir(group uint64) string
}

// Meta is what duplication reads of the cluster metadata, as this node's
// copy of the meta group's state has it.
type Meta interface {
	// Duplication returns a duplication of this cluster's tables.
	Duplication(id string) (Info, bool)
	// Duplications lists this cluster's duplications.
	Duplications() []Info
	// Followers lists this cluster's follower tables.
	Followers() []Follower
	// Removed lists the ids of removed duplications: only for those are
	// floors and base pins released, never for one this node's metadata
	// has not caught up with.
	Removed() []string
	// RemovedRemote reports whether duplication id was removed, and its
	// remote's address when the metadata still knows it.
	RemovedRemote(id string) (addr string, removed bool)
	// Promotions lists this cluster's follower tables that dup promote
	// made writable.
	Promotions() []Promotion
}

// Registry is what duplication changes in the cluster metadata. The
// server's meta group applies the changes; the commands that make them run
// on its leader.
type Registry interface {
	// Add records d; a retry of the same client request gets the
	// duplication its first attempt added. It refuses, with ErrDupExists,
	// a second duplication of a table to the same remote.
	Add(ctx context.Context, d Info) (Info, error)
	// SetRemoteCluster records the remote cluster's name.
	SetRemoteCluster(ctx context.Context, id, cluster string) error
	// SetState records duplication id's new state.
	SetState(ctx context.Context, id string, s State) (Info, error)
	// Remove drops the record and lists the duplication as removed.
	Remove(ctx context.Context, id string) error
	// AcceptSwitchover, on the remote of duplication fromDup, makes its
	// follower table primary and records reverse (the duplication back to
	// the old source), in one change; done already, it returns the reverse
	// duplication recorded then.
	AcceptSwitchover(ctx context.Context, table, fromDup string, reverse Info) (Info, error)
	// CompleteSwitchover, on the old source, removes duplication id and
	// makes its table the follower f, in one change.
	CompleteSwitchover(ctx context.Context, id string, f Follower) error
	// Promote makes follower table p.Table of duplication p.DupID writable
	// and records p, in one change; done already, it returns the record.
	Promote(ctx context.Context, p Promotion) (Promotion, error)
	// AcceptResync, on the new primary of failed-over duplication fromDup,
	// records d (the duplication back to the old source, ReverseOf
	// fromDup) and ends the table's promotion record, in one change; done
	// already, it returns the duplication recorded then.
	AcceptResync(ctx context.Context, table, fromDup string, d Info) (Info, error)
}

// Promotion is a follower table dup promote made writable: the
// duplication it followed is failed over.
type Promotion struct {
	Table         string
	DupID         string
	SourceCluster string
	SourceAddrs   []string
	// ReplicatedMs: every write the source acknowledged before it is in
	// the table (0: unknown); SourceDecrees: each partition's last one.
	ReplicatedMs  int64
	AtMs          int64
	SourceDecrees []uint64
}

// Info is a duplication of a table of this cluster to a remote one.
type Info struct {
	ID            string
	Table         string
	RemoteAddr    string
	RemoteCluster string
	State         State
	CreatedAtMs   int64
	// Partitions is the table's partition count (0 when the table is gone).
	Partitions uint32
	// ReverseOf is the duplication a switchover reversed into this one
	// (its remote's table was this one's source); Starts are the decrees,
	// per partition, this one started shipping after (no base).
	ReverseOf string
	Starts    []uint64
	// RemoteAddrs are more nodes of the remote (a reversed duplication
	// knows them all), tried when RemoteAddr does not answer.
	RemoteAddrs []string
	// Divergence, on a duplication a resync created, is what the old
	// source saved of its own writes (nil otherwise).
	Divergence *Divergence
}

// Paused reports whether pulls get no entries.
func (i Info) Paused() bool { return i.State == StatePaused }

// Proto is the duplication as the Admin service shows it, without the
// progress summary (Summarize adds it).
func (i Info) Proto() *tpb.DuplicationInfo {
	return &tpb.DuplicationInfo{Id: i.ID, Table: i.Table, RemoteAddr: i.RemoteAddr, RemoteCluster: i.RemoteCluster,
		State: string(i.State), StateCode: i.State.Proto(), CreatedAtUnixMs: i.CreatedAtMs, Divergence: i.Divergence.Proto()}
}

// Follower is a table of this cluster that a duplication from another
// cluster feeds: read-only to clients, pulled by its partition leaders.
type Follower struct {
	Table         string
	DupID         string
	SourceCluster string
	// SourceAddrs are nodes of the source cluster, asked for the source
	// partitions' leaders.
	SourceAddrs []string
	// Partitions is the table's partition count.
	Partitions uint32
	// SwitchedFrom is the duplication a switchover moved the primary away
	// from (this table was its source): writes name the new primary.
	SwitchedFrom string
	// SeedURL is the archive each partition's first base comes from, with
	// the archived log up to SeedDecrees[partition] (empty: from the source).
	SeedURL     string
	SeedDecrees []uint64
}

// Peer is a node of this cluster.
type Peer struct {
	ID   string
	Addr string
}

// Config is what a node's duplication work needs from the node.
type Config struct {
	NodeID  string
	Cluster string
	// Peers lists this cluster's nodes (itself included), which `dup show`
	// asks for the partitions they lead.
	Peers []Peer
	// SourceAddrs are the addresses remote clusters reach this cluster's
	// nodes at (its pullers ask them for the source leaders).
	SourceAddrs []string
	// Members, when set, lists this cluster's nodes now, with the
	// addresses remote clusters reach them at: nodes join and leave a
	// running cluster, so Peers and SourceAddrs are then only the nodes it
	// started with.
	Members  func() []Peer
	Replicas Replicas
	Meta     Meta
	Registry Registry
	// Dial returns a connection to a node of this or another cluster.
	Dial func(addr string) (*grpc.ClientConn, error)
	// Ready reports whether the node serves (its metadata caught up);
	// nothing is started or released before.
	Ready func() bool
	// RetentionCap is the runtime bound on the log that floors may hold
	// back, pushed to every replica.
	RetentionCap func() logdb.RetentionCap
	// ToStatus translates the node's errors at the gRPC edge.
	ToStatus func(error) error
	// Refresh is how often floors and pins of removed duplications are
	// released, retention caps pushed, gauges refreshed and pullers
	// checked (leadership and metadata changes check them at once).
	Refresh time.Duration
	Now     func() time.Time
	Logger  *zap.Logger
	// DataDir is the node's data directory: dup resync writes its
	// divergence file under it ("" refuses a resync here).
	DataDir string
	// DivergePageBytes bounds a page of a partition's divergent log that a
	// resync reads (one answer, well under tpb.MaxMessageBytes).
	DivergePageBytes int
}

// DefaultConfig returns a Config with the defaults filled in; the node
// fills in the rest.
func DefaultConfig() Config {
	return Config{Refresh: time.Second, Now: time.Now, Logger: zap.NewNop(), DivergePageBytes: 4 << 20}
}

// Validate reports a missing field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "" || c.Cluster == "":
		return errors.New("duplication config: NodeID and Cluster are required")
	case c.Replicas == nil || c.Meta == nil || c.Registry == nil:
		return errors.New("duplication config: Replicas, Meta and Registry are required")
	case c.Dial == nil || c.Ready == nil || c.RetentionCap == nil || c.ToStatus == nil:
		return errors.New("duplication config: Dial, Ready, RetentionCap and ToStatus are required")
	case c.Refresh <= 0:
		return errors.New("duplication config: Refresh must be positive")
	case c.Now == nil || c.Logger == nil:
		return errors.New("duplication config: Now and Logger are required")
	case c.DivergePageBytes <= 0 || c.DivergePageBytes > tpb.MaxMessageBytes/2:
		return fmt.Errorf("duplication config: DivergePageBytes %d must be in (0, %d]", c.DivergePageBytes, tpb.MaxMessageBytes/2)
	}
	return nil
}
