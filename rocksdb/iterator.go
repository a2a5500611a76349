package rocksdb

import (
	"bytes"

	"github.com/linxGnu/grocksdb"
)

// iterator pairs a RocksDB iterator with the read options that must outlive
// it (they hold the bounds).
type iterator struct {
	*grocksdb.Iterator
	ro *grocksdb.ReadOptions
}

// newIterator opens an iterator over cf bounded to [lower, upper); nil bounds
// are open. The caller holds the store's read lock until close.
func newIterator(db *grocksdb.DB, cf *grocksdb.ColumnFamilyHandle, lower, upper []byte, fillCache bool) *iterator {
	ro := grocksdb.NewDefaultReadOptions()
	ro.SetFillCache(fillCache)
	// The bounds are kept by reference in C, so hand over private copies.
	if len(lower) > 0 {
		ro.SetIterateLowerBound(clone(lower))
	}
	if upper != nil {
		ro.SetIterateUpperBound(clone(upper))
	}
	var it *grocksdb.Iterator
	if cf == nil {
		it = db.NewIterator(ro)
	} else {
		it = db.NewIteratorCF(ro, cf)
	}
	return &iterator{Iterator: it, ro: ro}
}

// close frees the iterator, then its read options.
func (it *iterator) close() {
	it.Close()
	it.ro.Destroy()
}

// key returns the current key without copying; it is valid until the
// iterator moves.
func (it *iterator) key() []byte { return it.Key().Data() }

// value returns the current value without copying; it is valid until the
// iterator moves.
func (it *iterator) value() []byte { return it.Value().Data() }

// emptyRange reports whether [lower, upper) holds no key. An empty non-nil
// upper bound must be handled here: RocksDB would read it as "no bound".
func emptyRange(lower, upper []byte) bool {
	return upper != nil && bytes.Compare(lower, upper) >= 0
}
