package logdb

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/internal/lenprefix"
	"github.com/tandem-kv/tandem/rocksdb"
)

// DB is the node's raft log: one RocksDB instance shared by every raft
// group on the node. Appends are written, then fsynced with
// rocksdb.KV.WriteSynced, so the appends of many partitions finishing
// while one fsync runs share the next one (with 64 writers, 2.5x the
// puts of RocksDB's own synced writes on this machine; BENCHMARKS.md). It
// is also every group's raft.StableStore.
//
// Keys: 'l' | group (8 bytes BE) | index (8 bytes BE) -> encoded raft.Log,
// and 's' | group | name -> stable value.
type DB struct {
	kv *rocksdb.KV
}

const (
	logKeyPrefix    = 'l'
	stableKeyPrefix = 's'
	logEncodingV1   = 1
)

// Open opens (creating if needed) the node's raft log under dir.
func Open(dir string, sh *rocksdb.Shared) (*DB, error) {
	kv, err := rocksdb.OpenKV(dir, sh, rocksdb.Options{Sync: true})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	return &DB{kv: kv}, nil
}

// Close closes the log database; every GroupLog must be done with it.
func (db *DB) Close() error { return db.kv.Close() }

// Group returns the log and stable store of one raft group, loading its
// first and last index.
func (db *DB) Group(group uint64) (*GroupLog, error) {
	g := &GroupLog{db: db, group: group, ret: retention{now: time.Now, cap: DefaultRetentionCap()}}
	lo, hi := groupRange(logKeyPrefix, group)
	k, _, ok, err := db.kv.First(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("raft log of group %d: %w", group, err)
	}
	if ok {
		g.first = binary.BigEndian.Uint64(k[9:])
		k, _, _, err = db.kv.Last(lo, hi)
		if err != nil {
			return nil, fmt.Errorf("raft log of group %d: %w", group, err)
		}
		g.last = binary.BigEndian.Uint64(k[9:])
		g.bytes = g.sumBytes(lo, hi)
	}
	return g, nil
}

// sumBytes adds up the sizes of the stored entries with keys in [lo, hi).
func (g *GroupLog) sumBytes(lo, hi []byte) int64 {
	var n int64
	_ = g.db.kv.Iterate(lo, hi, func(_, v []byte) bool { n += int64(len(v)); return true })
	return n
}

// DeleteGroup removes every log entry and stable value of group.
func (db *DB) DeleteGroup(group uint64) error {
	b := db.kv.NewBatch()
	defer b.Close()
	for _, p := range []byte{logKeyPrefix, stableKeyPrefix} {
		lo, hi := groupRange(p, group)
		b.DeleteRange(lo, hi)
	}
	return db.kv.Write(b)
}

func groupRange(prefix byte, group uint64) (lo, hi []byte) {
	lo = make([]byte, 9)
	lo[0] = prefix
	binary.BigEndian.PutUint64(lo[1:], group)
	hi = make([]byte, 9)
	hi[0] = prefix
	binary.BigEndian.PutUint64(hi[1:], group+1)
	return lo, hi
}

func logKey(group, index uint64) []byte {
	k := make([]byte, 17)
	k[0] = logKeyPrefix
	binary.BigEndian.PutUint64(k[1:], group)
	binary.BigEndian.PutUint64(k[9:], index)
	return k
}

func stableKey(group uint64, name []byte) []byte {
	k := make([]byte, 9+len(name))
	k[0] = stableKeyPrefix
	binary.BigEndian.PutUint64(k[1:], group)
	copy(k[9:], name)
	return k
}

// GroupLog is one raft group's raft.LogStore and raft.StableStore.
type GroupLog struct {
	db    *DB
	group uint64
	ret   retention

	mu          sync.RWMutex
	first, last uint64
	// bytes is the encoded size of the group's entries, kept up to date by
	// appends and deletions (for retention caps and `dup show`).
	bytes int64
}

var (
	_ raft.LogStore    = (*GroupLog)(nil)
	_ raft.StableStore = (*GroupLog)(nil)
)

// FirstIndex implements raft.LogStore.
func (g *GroupLog) FirstIndex() (uint64, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.first, nil
}

// LastIndex implements raft.LogStore.
func (g *GroupLog) LastIndex() (uint64, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.last, nil
}

// GetLog implements raft.LogStore.
func (g *GroupLog) GetLog(index uint64, out *raft.Log) error {
	v, ok, err := g.db.kv.Get(logKey(g.group, index))
	if err != nil {
		return err
	}
	if !ok {
		return raft.ErrLogNotFound
	}
	if err := decodeLog(v, out); err != nil {
		return fmt.Errorf("group %d index %d: %w", g.group, index, err)
	}
	out.Index = index
	return nil
}

// StoreLog implements raft.LogStore.
func (g *GroupLog) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: one batch for all entries, returning
// once it is fsynced.
func (g *GroupLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := g.db.kv.NewBatch()
	defer b.Close()
	var added int64
	for _, l := range logs {
		v := encodeLog(l)
		added += int64(len(v))
		b.Put(logKey(g.group, l.Index), v)
	}
	// gofail: var raftLogBeforeWrite struct{}
	if err := g.db.kv.WriteSynced(b); err != nil {
		return fmt.Errorf("store raft logs of group %d: %w", g.group, err)
	}
	// gofail: var raftLogAfterWrite struct{}
	g.mu.Lock()
	g.bytes += added
	if g.first == 0 || logs[0].Index < g.first {
		g.first = logs[0].Index
	}
	if idx := logs[len(logs)-1].Index; idx > g.last {
		g.last = idx
	}
	g.mu.Unlock()
	return nil
}

// DeleteRange implements raft.LogStore; min and max are inclusive. A
// truncation of the log's tail (raft resolving a conflict) is done as asked;
// a compaction of its head stops at the duplication retention floor.
func (g *GroupLog) DeleteRange(min, max uint64) error {
	g.mu.RLock()
	last := g.last
	g.mu.RUnlock()
	if max >= last {
		return g.deleteRange(min, max)
	}
	g.ret.mu.Lock()
	g.ret.pendingMax = maxU64(g.ret.pendingMax, max)
	g.ret.mu.Unlock()
	limit := g.compactLimit(max)
	if limit < min {
		return nil
	}
	return g.deleteRange(min, limit)
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (g *GroupLog) deleteRange(min, max uint64) error {
	removed := g.sumBytes(logKey(g.group, min), logKey(g.group, max+1))
	b := g.db.kv.NewBatch()
	defer b.Close()
	b.DeleteRange(logKey(g.group, min), logKey(g.group, max+1))
	if err := g.db.kv.Write(b); err != nil {
		return fmt.Errorf("delete raft logs %d-%d of group %d: %w", min, max, g.group, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bytes -= removed
	switch {
	case min <= g.first && max >= g.last:
		g.first, g.last = 0, 0
	case min <= g.first:
		g.first = max + 1
	case max >= g.last:
		g.last = min - 1
	}
	return nil
}

// Set implements raft.StableStore.
func (g *GroupLog) Set(key, val []byte) error { return g.db.kv.Put(stableKey(g.group, key), val) }

// Get implements raft.StableStore; a missing key yields an empty value, as
// raft expects.
func (g *GroupLog) Get(key []byte) ([]byte, error) {
	v, ok, err := g.db.kv.Get(stableKey(g.group, key))
	if err != nil || !ok {
		return nil, err
	}
	return v, nil
}

// SetUint64 implements raft.StableStore.
func (g *GroupLog) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return g.Set(key, b[:])
}

// GetUint64 implements raft.StableStore.
func (g *GroupLog) GetUint64(key []byte) (uint64, error) {
	v, err := g.Get(key)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q: %d bytes: %w", key, len(v), ErrMalformedLog)
	}
	return binary.BigEndian.Uint64(v), nil
}

// encodeLog: version, term, type, appended-at (unix ns), data, extensions.
func encodeLog(l *raft.Log) []byte {
	buf := make([]byte, 0, 1+8+1+8+2*binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	buf = append(buf, logEncodingV1)
	buf = binary.BigEndian.AppendUint64(buf, l.Term)
	buf = append(buf, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(at))
	buf = binary.AppendUvarint(buf, uint64(len(l.Data)))
	buf = append(buf, l.Data...)
	buf = binary.AppendUvarint(buf, uint64(len(l.Extensions)))
	return append(buf, l.Extensions...)
}

func decodeLog(b []byte, out *raft.Log) error {
	if len(b) < 18 || b[0] != logEncodingV1 {
		return ErrMalformedLog
	}
	out.Term = binary.BigEndian.Uint64(b[1:9])
	out.Type = raft.LogType(b[9])
	at := int64(binary.BigEndian.Uint64(b[10:18]))
	out.AppendedAt = time.Time{}
	if at != 0 {
		out.AppendedAt = time.Unix(0, at)
	}
	rest := b[18:]
	var err error
	if out.Data, rest, err = lenprefix.Read(rest, ErrMalformedLog); err != nil {
		return err
	}
	if out.Extensions, rest, err = lenprefix.Read(rest, ErrMalformedLog); err != nil {
		return err
	}
	if len(rest) != 0 {
		return ErrMalformedLog
	}
	return nil
}

// InternalOnly reports whether every entry in [from, to] is one raft keeps
// to itself (no-op, barrier), i.e. none the FSM must apply.
func (g *GroupLog) InternalOnly(from, to uint64) bool {
	var l raft.Log
	for i := from; i <= to; i++ {
		if err := g.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}
