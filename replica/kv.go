package replica

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tandem-kv/tandem/rocksdb"
)

// The replica's record API. Reads go through a View: Read returns one that
// observes every write acknowledged before the call (the linearizable read
// barrier, reads.go), Local one of whatever is applied here. Writes are
// mutations, replicated atomically through raft (Write). Nothing outside
// the replica touches its RocksDB instance or encodes its raft commands.

// Record is one live record of a partition: hash key, sort key, value and
// expiry (unix seconds; 0: never).
type Record = rocksdb.Record

// MaxHashKeyLen is the longest hash key a record can have (the key
// encoding stores its length in two bytes).
const MaxHashKeyLen = rocksdb.MaxHashKeyLen

// ScanRange is one page of a scan: the records of HashKey in sort key
// order, or of the whole partition in key order when HashKey is empty,
// from Cursor (the previous page's next cursor; empty: the start), at most
// Limit of them (0: no limit).
type ScanRange struct {
	HashKey []byte
	Cursor  []byte
	Limit   int
}

// CursorInRange reports whether Cursor lies among HashKey's records (it
// always does without a hash key or a cursor): a cursor of another hash
// key's scan would read that key's records.
func (s ScanRange) CursorInRange() bool {
	return len(s.HashKey) == 0 || len(s.Cursor) == 0 || bytes.HasPrefix(s.Cursor, rocksdb.HashKeyPrefix(s.HashKey))
}

// keys is the range of encoded record keys the page reads.
func (s ScanRange) keys() (rocksdb.ScanRange, error) {
	rng := rocksdb.ScanRange{Start: s.Cursor, Limit: s.Limit}
	if len(s.HashKey) == 0 {
		return rng, nil
	}
	if len(s.HashKey) > MaxHashKeyLen {
		return rng, fmt.Errorf("%w: hash key of %d bytes", ErrInvalidScan, len(s.HashKey))
	}
	prefix := rocksdb.HashKeyPrefix(s.HashKey)
	rng.End = rocksdb.PrefixEnd(prefix)
	switch {
	case len(s.Cursor) == 0:
		rng.Start = prefix
	case !bytes.HasPrefix(s.Cursor, prefix):
		return rng, fmt.Errorf("%w: cursor of another hash key", ErrInvalidScan)
	}
	return rng, nil
}

// View reads a replica's data. One from Read observes every write
// acknowledged before Read was called; one from Local only what this
// replica has applied. Each read takes the data as it is at that moment
// (a snapshot installed meanwhile is read whole, never half), so a view
// serves the reads of one request, not a long-lived session.
type View struct{ store *dataStore }

// Read waits for the linearizable read barrier (this replica leads, is
// still confirmed by a quorum or a read lease, and has applied everything
// committed before the call) and returns a view of the data after it.
func (r *Replica) Read(ctx context.Context) (View, error) {
	if err := r.reads.wait(ctx); err != nil {
		return View{}, err
	}
	return View{store: r.store}, nil
}

// Local returns a view of the data applied here, without the barrier: it
// may be stale (a follower's, a deposed leader's). For status, tools and
// tests that compare replicas.
func (r *Replica) Local() View { return View{store: r.store} }

// Get returns the value and expiry of record (hashKey, sortKey), found
// false when it does not exist or has expired.
func (v View) Get(hashKey, sortKey []byte) (value []byte, expireTS uint32, found bool, err error) {
	db, err := v.store.acquire()
	if err != nil {
		return nil, 0, false, err
	}
	defer v.store.release()
	return db.Get(hashKey, sortKey)
}

// MultiGet returns the live records among sortKeys of hashKey, in the order
// of sortKeys, all read at one point in time (a write of several records
// is seen whole or not at all).
func (v View) MultiGet(hashKey []byte, sortKeys [][]byte) ([]Record, error) {
	db, err := v.store.acquire()
	if err != nil {
		return nil, err
	}
	defer v.store.release()
	return db.MultiGet(hashKey, sortKeys)
}

// Scan returns one page of live records and the cursor of the next page
// (nil after the last).
func (v View) Scan(s ScanRange) (recs []Record, next []byte, err error) {
	rng, err := s.keys()
	if err != nil {
		return nil, nil, err
	}
	db, err := v.store.acquire()
	if err != nil {
		return nil, nil, err
	}
	defer v.store.release()
	return db.Scan(rng)
}

// Count returns the exact number of live records (it reads them all).
func (v View) Count() (uint64, error) {
	db, err := v.store.acquire()
	if err != nil {
		return 0, err
	}
	defer v.store.release()
	return db.Count()
}

// Get is Read, then View.Get.
func (r *Replica) Get(ctx context.Context, hashKey, sortKey []byte) (value []byte, expireTS uint32, found bool, err error) {
	v, err := r.Read(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	return v.Get(hashKey, sortKey)
}

// MultiGet is Read, then View.MultiGet.
func (r *Replica) MultiGet(ctx context.Context, hashKey []byte, sortKeys [][]byte) ([]Record, error) {
	v, err := r.Read(ctx)
	if err != nil {
		return nil, err
	}
	return v.MultiGet(hashKey, sortKeys)
}

// Scan is Read, then View.Scan.
func (r *Replica) Scan(ctx context.Context, s ScanRange) (recs []Record, next []byte, err error) {
	v, err := r.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	return v.Scan(s)
}

// Count is Read, then View.Count.
func (r *Replica) Count(ctx context.Context) (uint64, error) {
	v, err := r.Read(ctx)
	if err != nil {
		return 0, err
	}
	return v.Count()
}

// Write replicates muts, applied atomically, and returns their decree once
// applied here. Concurrent writes share raft entries (batcher.go). Every
// error says whether the write can still apply: ErrNotLeader, ErrTimeout
// and ErrClosed (alone) mean it was never proposed and a retry is safe;
// ErrOutcomeUnknown means it may apply, and must not be retried. A
// mutation the apply path could not take (unknown op, hash key too long)
// is refused with ErrMalformedCommand before anything is proposed.
func (r *Replica) Write(ctx context.Context, muts []Mutation) (uint64, error) {
	for i, m := range muts {
		if (m.Op != OpPut && m.Op != OpDelete) || len(m.HashKey) > MaxHashKeyLen {
			return 0, fmt.Errorf("%w: mutation %d: op %d, hash key of %d bytes", ErrMalformedCommand, i, m.Op, len(m.HashKey))
		}
	}
	return r.propose(ctx, encodeCommand(muts))
}
