package rocksdb

import "fmt"

// ScanRange selects encoded record keys in [Start, End). A nil Start begins
// at the first record, a nil End is unbounded, and Limit 0 means unlimited.
type ScanRange struct {
	Start []byte
	End   []byte
	Limit int
}

// Scan returns live records of r in key order, and next, the encoded key to
// use as Start to continue, or nil when the range is exhausted. Expired
// records are skipped and do not count toward Limit.
func (db *DB) Scan(r ScanRange) (recs []Record, next []byte, err error) {
	if err := db.rlock(); err != nil {
		return nil, nil, err
	}
	defer db.mu.RUnlock()
	if emptyRange(r.Start, r.End) {
		return nil, nil, nil
	}
	it := newIterator(db.db, db.records, r.Start, r.End, true)
	defer it.close()
	now := db.now().Unix()
	for it.SeekToFirst(); it.Valid(); it.Next() {
		expireTS, _, err := DecodeValue(it.value())
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s at key %x: %w", db.dir, it.key(), err)
		}
		if expired(expireTS, now) {
			continue
		}
		if r.Limit > 0 && len(recs) == r.Limit {
			return recs, clone(it.key()), nil
		}
		rec, err := newRecord(it.key(), it.value())
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", db.dir, err)
		}
		recs = append(recs, rec)
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", db.dir, err)
	}
	return recs, nil, nil
}

// newRecord decodes a stored key and value into a Record of Go-owned copies
// sharing one allocation each for key and value.
func newRecord(key, raw []byte) (Record, error) {
	hashKey, sortKey, err := DecodeKey(clone(key))
	if err != nil {
		return Record{}, err
	}
	expireTS, value, err := DecodeValue(clone(raw))
	if err != nil {
		return Record{}, err
	}
	return Record{HashKey: hashKey, SortKey: sortKey, Value: value, ExpireTS: expireTS}, nil
}

// Count returns the exact number of live records, reading the whole records
// column family without filling the block cache.
func (db *DB) Count() (uint64, error) {
	if err := db.rlock(); err != nil {
		return 0, err
	}
	defer db.mu.RUnlock()
	it := newIterator(db.db, db.records, nil, nil, false)
	defer it.close()
	now := db.now().Unix()
	var n uint64
	for it.SeekToFirst(); it.Valid(); it.Next() {
		expireTS, _, err := DecodeValue(it.value())
		if err != nil {
			return 0, fmt.Errorf("count %s at key %x: %w", db.dir, it.key(), err)
		}
		if !expired(expireTS, now) {
			n++
		}
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("count %s: %w", db.dir, err)
	}
	return n, nil
}
