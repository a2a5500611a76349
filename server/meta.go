package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/duplication"
)

// TableMeta is a table as the meta group records it.
type TableMeta struct {
	Name        string     `json:"name"`
	ID          uint64     `json:"id"`
	Partitions  uint32     `json:"partitions"`
	Replicas    uint32     `json:"replicas"`
	CreatedAtMs int64      `json:"created_at_ms"`
	Placement   [][]string `json:"placement"`
	// RequestID is the client's id for the call that created the table: a
	// retry of that call (same id) gets the table, not ErrTableExists.
	RequestID string `json:"request_id,omitempty"`
	// Follower is set while the table is a duplication's follower: it is
	// read-only to clients and fed by the source cluster.
	Follower *FollowerMeta `json:"follower,omitempty"`
	// Promoted is set once dup promote made this follower table writable:
	// the duplication it followed is failed over (metacmd_dr.go).
	Promoted *PromotedMeta `json:"promoted,omitempty"`
}

// checkShape reports a table whose placement does not give every partition
// its replicas: code indexing Placement by partition relies on it.
func (t *TableMeta) checkShape() error {
	if t.Partitions == 0 || uint32(len(t.Placement)) != t.Partitions {
		return fmt.Errorf("%w: table %q has %d partitions and %d placements", errMalformedMeta, t.Name, t.Partitions, len(t.Placement))
	}
	for p, nodes := range t.Placement {
		if len(nodes) == 0 {
			return fmt.Errorf("%w: table %q partition %d has no replicas", errMalformedMeta, t.Name, p)
		}
	}
	return nil
}

// FollowerMeta names the duplication a follower table belongs to.
type FollowerMeta struct {
	DupID         string   `json:"dup_id"`
	SourceCluster string   `json:"source_cluster"`
	SourceAddrs   []string `json:"source_addrs"`
	// SwitchedFrom is the duplication a switchover moved this table's
	// primary away from: writes are refused naming the new primary.
	SwitchedFrom string `json:"switched_from,omitempty"`
	// SeedURL and SeedDecrees: the archive each partition's first base
	// comes from, with its log up to the partition's decree (dup add
	// --from-archive).
	SeedURL     string   `json:"seed_url,omitempty"`
	SeedDecrees []uint64 `json:"seed_decrees,omitempty"`
}

// DupMeta is a duplication of a table of this cluster to a remote one.
type DupMeta struct {
	ID            string `json:"id"`
	Table         string `json:"table"`
	RemoteAddr    string `json:"remote_addr"`
	RemoteCluster string `json:"remote_cluster"`
	// State is adding, active or paused (removed records are deleted).
	State       duplication.State `json:"state"`
	CreatedAtMs int64             `json:"created_at_ms"`
	// RequestID is the client's id for the call that added it (see
	// TableMeta.RequestID).
	RequestID string `json:"request_id,omitempty"`
	// ReverseOf and Starts: a duplication a switchover created, reversing
	// ReverseOf, that ships each partition's log after Starts[p] (no base).
	ReverseOf string   `json:"reverse_of,omitempty"`
	Starts    []uint64 `json:"starts,omitempty"`
	// RemoteAddrs are more nodes of the remote, tried when RemoteAddr
	// does not answer.
	RemoteAddrs []string `json:"remote_addrs,omitempty"`
	// Divergence: on a duplication a resync created, the old source's
	// divergence file (dup show names it).
	Divergence *duplication.Divergence `json:"divergence,omitempty"`
}

// MetaState is the cluster metadata: tables and runtime config overrides.
type MetaState struct {
	Tables map[string]*TableMeta `json:"tables"`
	// NextTableID is the id the next table gets. A table id below it that
	// no table has was dropped: nodes may delete its replicas. A node whose
	// meta state lags never sees such an id, so it never deletes too early.
	NextTableID uint64              `json:"next_table_id"`
	Config      map[string]string   `json:"config"`
	Dups        map[string]*DupMeta `json:"dups"`
	// RemovedDups lists removed duplication ids (with removal time), so
	// nodes release their floors and bases only for duplications that are
	// known to be gone, never for ones their metadata has not caught up with.
	RemovedDups map[string]int64 `json:"removed_dups"`
	// RemovedDupRemotes keeps the remote address of removed duplications,
	// so a repeated `dup rm` can still detach the remote's table.
	RemovedDupRemotes map[string]string `json:"removed_dup_remotes,omitempty"`
	// Archives are the tables' archives to object storage, by table.
	Archives map[string]*ArchiveMeta `json:"archives,omitempty"`
	// RemovedArchives lists removed archive ids (with removal time), so
	// nodes release their floors (see RemovedDups).
	RemovedArchives map[string]int64 `json:"removed_archives,omitempty"`
	// Nodes is the node registry (metacmd_nodes.go).
	Nodes map[string]*NodeMeta `json:"nodes,omitempty"`
	// Moves are the replica moves in progress, by moveKey.
	Moves map[string]*MoveMeta `json:"moves,omitempty"`
	// Reconfigured lists the groups whose membership a move has changed:
	// their replicas never bootstrap (metacmd_nodes.go).
	Reconfigured map[uint64]bool `json:"reconfigured,omitempty"`
}

func newMetaState() *MetaState {
	return &MetaState{Tables: map[string]*TableMeta{}, NextTableID: 1, Config: map[string]string{}, Dups: map[string]*DupMeta{}, RemovedDups: map[string]int64{}, RemovedDupRemotes: map[string]string{},
		Archives: map[string]*ArchiveMeta{}, RemovedArchives: map[string]int64{}, Nodes: map[string]*NodeMeta{},
		Moves: map[string]*MoveMeta{}, Reconfigured: map[uint64]bool{}}
}

func (s *MetaState) clone() *MetaState {
	b, _ := json.Marshal(s)
	c := newMetaState()
	_ = json.Unmarshal(b, c)
	return c
}

// isDropped reports whether table id existed and has been dropped.
func (s *MetaState) isDropped(id uint64) bool {
	if id >= s.NextTableID {
		return false
	}
	for _, t := range s.Tables {
		if t.ID == id {
			return false
		}
	}
	return true
}

// sortedTables lists tables by name.
func (s *MetaState) sortedTables() []*TableMeta {
	ts := make([]*TableMeta, 0, len(s.Tables))
	for _, t := range s.Tables {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// metaResult is what applying a metaCommand returns to the proposer.
type metaResult struct {
	Table   *TableMeta
	Dup     *DupMeta
	Archive *ArchiveMeta
	Err     error
}

// metaFSM applies metaCommands to an in-memory MetaState; the meta log and
// its JSON snapshots make it durable.
type metaFSM struct {
	lg *zap.Logger

	mu      sync.RWMutex
	state   *MetaState
	applied uint64
	waitCh  chan struct{}
	// onChange is signalled (without blocking) after every apply or restore.
	onChange chan struct{}

	watchMu sync.Mutex
	// watchers are called (and must not block) after every apply or restore.
	watchers []func()
}

func newMetaFSM(lg *zap.Logger) *metaFSM {
	return &metaFSM{lg: lg, state: newMetaState(), waitCh: make(chan struct{}), onChange: make(chan struct{}, 1)}
}

func (f *metaFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	var res metaResult
	if l.Type == raft.LogCommand {
		res = f.applyCommand(l.Data)
	}
	f.applied = l.Index
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	f.mu.Unlock()
	f.notify()
	return res
}

func (f *metaFSM) applyCommand(data []byte) metaResult {
	cmd, err := decodeMetaCommand(data)
	if err != nil {
		// Only this cluster's nodes write the meta log: a command that does
		// not decode is corruption, and applying around it would fork state.
		f.lg.Fatal("undecodable meta command", zap.Error(err))
	}
	return cmd.apply(f.state)
}

// errMalformedMeta marks meta log entries or snapshots that do not decode
// into something a command or Restore can use.
var errMalformedMeta = errors.New("malformed meta data")

func (f *metaFSM) notify() {
	select {
	case f.onChange <- struct{}{}:
	default:
	}
	f.watchMu.Lock()
	defer f.watchMu.Unlock()
	for _, fn := range f.watchers {
		fn()
	}
}

// watch calls fn, which must not block, after every apply or restore.
func (f *metaFSM) watch(fn func()) {
	f.watchMu.Lock()
	defer f.watchMu.Unlock()
	f.watchers = append(f.watchers, fn)
}

// view runs fn with the current state under a read lock; fn must not keep it.
func (f *metaFSM) view(fn func(s *MetaState)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// snapshotState returns a deep copy of the state.
func (f *metaFSM) snapshotState() *MetaState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.clone()
}

// waitApplied blocks until the meta log is applied up to index.
func (f *metaFSM) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.RLock()
		applied, ch := f.applied, f.waitCh
		f.mu.RUnlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *metaFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.state)
	if err != nil {
		return nil, err
	}
	return jsonSnapshot(b), nil
}

func (f *metaFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := decodeMetaState(rc)
	if err != nil {
		return fmt.Errorf("restore meta snapshot: %w", err)
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	f.notify()
	return nil
}

// decodeMetaState reads a meta snapshot (from disk or the leader) and fills
// in what older or damaged snapshots may lack, so every map is writable and
// every table and duplication is present.
func decodeMetaState(r io.Reader) (*MetaState, error) {
	s := newMetaState()
	if err := json.NewDecoder(r).Decode(s); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedMeta, err)
	}
	if s.Tables == nil {
		s.Tables = map[string]*TableMeta{}
	}
	if s.Config == nil {
		s.Config = map[string]string{}
	}
	if s.Dups == nil {
		s.Dups = map[string]*DupMeta{}
	}
	if s.RemovedDups == nil {
		s.RemovedDups = map[string]int64{}
	}
	if s.RemovedDupRemotes == nil {
		s.RemovedDupRemotes = map[string]string{}
	}
	if err := s.fillArchives(); err != nil {
		return nil, err
	}
	if s.Nodes == nil {
		s.Nodes = map[string]*NodeMeta{}
	}
	if s.Moves == nil {
		s.Moves = map[string]*MoveMeta{}
	}
	if s.Reconfigured == nil {
		s.Reconfigured = map[uint64]bool{}
	}
	for k, mv := range s.Moves {
		if mv == nil || k != moveKey(mv.Table, mv.Partition) {
			return nil, fmt.Errorf("%w: move entry %q", errMalformedMeta, k)
		}
	}
	for id, nm := range s.Nodes {
		if nm == nil || nm.ID != id {
			return nil, fmt.Errorf("%w: node entry %q", errMalformedMeta, id)
		}
	}
	for name, t := range s.Tables {
		if t == nil || t.Name != name {
			return nil, fmt.Errorf("%w: table entry %q", errMalformedMeta, name)
		}
		if err := t.checkShape(); err != nil {
			return nil, err
		}
	}
	for id, d := range s.Dups {
		if d == nil || d.ID != id {
			return nil, fmt.Errorf("%w: duplication entry %q", errMalformedMeta, id)
		}
	}
	return s, nil
}

type jsonSnapshot []byte

func (j jsonSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(j); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (j jsonSnapshot) Release() {}
