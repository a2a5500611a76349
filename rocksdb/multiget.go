package rocksdb

import "fmt"

// MultiGet returns the live records among sortKeys of hashKey, in the
// order of sortKeys; absent and expired ones are left out. Every key is
// read at one sequence number (RocksDB's MultiGet takes one consistent
// view for the whole call), so a batch written at once is seen whole or
// not at all: separate Gets could straddle a write and return half of it.
func (db *DB) MultiGet(hashKey []byte, sortKeys [][]byte) ([]Record, error) {
	keys := make([][]byte, len(sortKeys))
	for i, sk := range sortKeys {
		keys[i] = EncodeKey(hashKey, sk)
	}
	if err := db.rlock(); err != nil {
		return nil, err
	}
	defer db.mu.RUnlock()
	vals, err := db.db.MultiGetCF(db.ro, db.records, keys...)
	if err != nil {
		return nil, fmt.Errorf("multi-get %s: %w", db.dir, err)
	}
	defer vals.Destroy()
	now := db.now().Unix()
	var recs []Record
	for i, v := range vals {
		if !v.Exists() {
			continue
		}
		expireTS, value, err := DecodeValue(clone(v.Data()))
		if err != nil {
			return nil, err
		}
		if !expired(expireTS, now) {
			recs = append(recs, Record{HashKey: hashKey, SortKey: sortKeys[i], Value: value, ExpireTS: expireTS})
		}
	}
	return recs, nil
}
