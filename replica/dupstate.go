package replica

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/tandem-kv/tandem/rocksdb"
)

// Meta keys of duplication state, written atomically with the data.
var (
	// sourceDecreeKey: on a follower (remote) replica, the last source
	// decree applied.
	sourceDecreeKey = []byte("dup_source_decree")
	// confirmedKey: on a source replica, each duplication's confirmed
	// decree (JSON map), the floor of log retention.
	confirmedKey = []byte("dup_confirmed")
	// trustedFromKey: the first raft log index this replica may serve to a
	// duplication (entries below it predate a snapshot it installed).
	trustedFromKey = []byte("log_trusted_from")
	// replicatedKey: on a follower replica, the replicated time (unix ms):
	// every write the source acknowledged before it is applied here.
	replicatedKey = []byte("dup_replicated_ms")
	// fenceKey: the decrees a switchover fenced and unfenced the partition
	// at (16 bytes; see fence.go).
	fenceKey = []byte("dup_fence")
	// unfollowedKey: a promote ended following (1 byte, 1 = yes).
	unfollowedKey = []byte("dup_unfollowed")
)

// dupState is the duplication state an applier keeps in memory; it is
// replaced, never mutated, so readers may keep a copy.
type dupState struct {
	source      uint64
	confirmed   map[string]uint64
	trustedFrom uint64
	// replicatedMs is the replicated time (unix ms; 0 unknown).
	replicatedMs uint64
	// fencedAt and unfencedAt: client mutations between them (or after
	// fencedAt while unfencedAt is 0) are refused (fence.go).
	fencedAt, unfencedAt uint64
	// unfollowed: a promote ended following; shipped entries are ignored
	// until a follow step (fence.go).
	unfollowed bool
	// skips records the entries of which the FSM skipped shipped parts
	// (dupchain.go).
	skips skipLog
}

func (s *dataStore) loadDupState() (dupState, error) {
	var ds dupState
	err := s.with(func(db *rocksdb.DB) error {
		v, ok, err := db.GetMeta(sourceDecreeKey)
		if err != nil {
			return err
		}
		if ok {
			if len(v) != 8 {
				return fmt.Errorf("%s: %d bytes: %w", sourceDecreeKey, len(v), ErrMalformedState)
			}
			ds.source = binary.BigEndian.Uint64(v)
		}
		if v, ok, err = db.GetMeta(replicatedKey); err != nil {
			return err
		} else if ok && len(v) == 8 {
			ds.replicatedMs = binary.BigEndian.Uint64(v)
		}
		if v, ok, err = db.GetMeta(fenceKey); err != nil {
			return err
		} else if ok && len(v) == 16 {
			ds.fencedAt, ds.unfencedAt = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		}
		if v, ok, err = db.GetMeta(unfollowedKey); err != nil {
			return err
		} else if ok && len(v) == 1 {
			ds.unfollowed = v[0] == 1
		}
		if v, ok, err = db.GetMeta(trustedFromKey); err != nil {
			return err
		} else if ok && len(v) == 8 {
			ds.trustedFrom = binary.BigEndian.Uint64(v)
		}
		if v, ok, err = db.GetMeta(skipsKey); err != nil {
			return err
		} else if ok {
			if ds.skips, err = decodeSkipLog(v); err != nil {
				return err
			}
		}
		v, ok, err = db.GetMeta(confirmedKey)
		if err != nil || !ok {
			return err
		}
		return json.Unmarshal(v, &ds.confirmed)
	})
	return ds, err
}

func (a *applier) dupState() dupState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dup
}

func (a *applier) setDupState(ds dupState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dup = ds
}

// SourceDecree is, on a duplication follower, the last source decree
// applied here.
func (a *applier) SourceDecree() uint64 { return a.dupState().source }

// ReplicatedMs is, on a duplication follower, the replicated time (unix
// ms, 0 unknown) applied here.
func (a *applier) ReplicatedMs() uint64 { return a.dupState().replicatedMs }

// Confirmed returns each duplication's persisted confirmed decree.
func (a *applier) Confirmed() map[string]uint64 { return a.dupState().confirmed }
