package rocksdb

import (
	"encoding/binary"
	"time"
)

// ttlFilter is the compaction filter of the records column family: it drops
// records whose expiry time has passed. RocksDB calls Filter from several
// background threads at once, so it only reads immutable state and the
// injected clock, which must itself be safe for concurrent use.
//
// grocksdb keeps every registered Go filter in a global list for the life of
// the process, so each Open leaks one of these small structs (and its clock).
type ttlFilter struct {
	now func() time.Time
}

// Filter removes a record if it carries a non-zero expiry at or before now.
// Malformed values are kept so that a bug elsewhere never silently loses data.
func (f *ttlFilter) Filter(_ int, _, val []byte) (remove bool, newVal []byte) {
	if len(val) < valueHeaderLen {
		return false, nil
	}
	return expired(binary.BigEndian.Uint32(val), f.now().Unix()), nil
}

// Name identifies the filter in RocksDB's logs and OPTIONS file.
func (f *ttlFilter) Name() string { return "tandem.TTLFilter" }

// SetIgnoreSnapshots is a no-op: since RocksDB 6.0 filters always ignore
// snapshots.
func (f *ttlFilter) SetIgnoreSnapshots(bool) {}

// Destroy is a no-op; the filter holds no C memory.
func (f *ttlFilter) Destroy() {}
