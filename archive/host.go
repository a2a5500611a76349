package archive

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/replica"
)

// What the archive needs of its node, as narrow interfaces (the server
// adapts its replicas and its meta group; *replica.Replica is a Replica).

// Replica is one partition replica of this node: the source side (bases,
// the log, the floor that holds it back) and the restore side (a base
// installed, archived entries applied).
type Replica interface {
	Info() replica.Info
	IsLeader() bool
	Applied() uint64
	// LastIndex is the last index in the group's log, applied or not.
	LastIndex() uint64
	Leader() (id, addr string)
	Checkpoint(ctx context.Context, p checkpoint.Purpose) (*checkpoint.Manifest, error)
	Catalog() *checkpoint.Catalog
	ReadLog(from uint64, maxBytes int) ([]replica.WalEntry, uint64, error)
	WaitDecree(ctx context.Context, d uint64, timeout time.Duration) uint64
	EntryTime(d uint64) (time.Time, bool)
	Confirmed() map[string]uint64
	ProposeDupConfirm(ctx context.Context, id string, confirmed uint64) error
	ProposeDupRelease(ctx context.Context, id string) error
	SourceDecree() uint64
	InstallBase(dir string, m *checkpoint.Manifest) error
	ProposeDuplicated(ctx context.Context, entries []replica.DupEntry, upTo uint64) (uint64, error)
}

// Replicas is what the archive needs of the node's replicas.
type Replicas interface {
	// Leader returns this node's replica of a partition when it leads it.
	Leader(table string, partition uint32) (Replica, error)
	// All lists this node's replicas.
	All() []Replica
	// Dir is the directory of this node's replica of a raft group (a
	// restore downloads base files there).
	Dir(group uint64) string
}

// State is an archive's state in the metadata.
type State string

// An archive's states.
const (
	StateActive State = "active"
	StatePaused State = "paused"
)

// Info is a table's archive as the metadata records it.
type Info struct {
	ID          string
	Table       string
	URL         string
	State       State
	CreatedAtMs int64
	// Partitions is the table's partition count (0 when the table is gone).
	Partitions uint32
}

// Meta is what the archive reads of the cluster metadata.
type Meta interface {
	// Archive returns table's archive.
	Archive(table string) (Info, bool)
	// Archives lists the archives.
	Archives() []Info
	// Removed lists removed archive ids: only their floors are released.
	Removed() []string
}

// Registry is what the archive changes in the metadata (on the meta
// leader).
type Registry interface {
	Add(ctx context.Context, a Info) (Info, error)
	SetState(ctx context.Context, table string, s State) (Info, error)
	Remove(ctx context.Context, table string) (Info, error)
}

// Settings are the archive's runtime settings (cluster config).
type Settings struct {
	// SegmentBytes and SegmentAge bound a log segment: it is uploaded
	// once it holds SegmentBytes of commands or its oldest entry is
	// SegmentAge old, which bounds the archive's RPO.
	SegmentBytes int
	SegmentAge   time.Duration
	// BaseInterval is how often a new base is uploaded.
	BaseInterval time.Duration
	// RetainBases is how many bases each partition keeps in the bucket
	// (with the log after the oldest); 0 keeps every base.
	RetainBases int
}

// DefaultSettings returns 8 MiB / 10 s segments, a base every 6 hours and
// the newest 4 bases kept.
func DefaultSettings() Settings {
	return Settings{SegmentBytes: 8 << 20, SegmentAge: 10 * time.Second, BaseInterval: 6 * time.Hour, RetainBases: 4}
}

// Peer is a node of this cluster.
type Peer struct {
	ID   string
	Addr string
}

// Config is what a node's archive work needs from the node.
type Config struct {
	NodeID   string
	Peers    []Peer
	Replicas Replicas
	Meta     Meta
	Registry Registry
	Settings func() Settings
	Dial     func(addr string) (*grpc.ClientConn, error)
	Ready    func() bool
	// Refresh is how often archivers are checked against leadership and
	// metadata (changes check them at once) and removed floors released.
	Refresh time.Duration
	Now     func() time.Time
	Logger  *zap.Logger
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig() Config {
	return Config{Refresh: time.Second, Now: time.Now, Logger: zap.NewNop(), Settings: DefaultSettings}
}

// Validate reports a missing field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("archive config: NodeID is required")
	case c.Replicas == nil || c.Meta == nil || c.Registry == nil:
		return errors.New("archive config: Replicas, Meta and Registry are required")
	case c.Dial == nil || c.Ready == nil || c.Settings == nil:
		return errors.New("archive config: Dial, Ready and Settings are required")
	case c.Refresh <= 0:
		return errors.New("archive config: Refresh must be positive")
	case c.Now == nil || c.Logger == nil:
		return errors.New("archive config: Now and Logger are required")
	}
	return nil
}

// FloorID is the name under which archive id's confirmed decree holds
// the partition's log back (beside duplications' floors).
func FloorID(id string) string { return floorPrefix + id }

const floorPrefix = "archive:"
