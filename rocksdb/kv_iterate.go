package rocksdb

import "fmt"

// First returns the first key in [lower, upper) and its value; a nil upper
// is unbounded.
func (kv *KV) First(lower, upper []byte) (key, value []byte, found bool, err error) {
	return kv.edge(lower, upper, true)
}

// Last returns the last key in [lower, upper) and its value; a nil upper is
// unbounded.
func (kv *KV) Last(lower, upper []byte) (key, value []byte, found bool, err error) {
	return kv.edge(lower, upper, false)
}

// edge implements First and Last; the bounds make SeekToFirst and SeekToLast
// stay inside the range.
func (kv *KV) edge(lower, upper []byte, first bool) (key, value []byte, found bool, err error) {
	if err := kv.rlock(); err != nil {
		return nil, nil, false, err
	}
	defer kv.mu.RUnlock()
	if emptyRange(lower, upper) {
		return nil, nil, false, nil
	}
	it := newIterator(kv.db, nil, lower, upper, true)
	defer it.close()
	if first {
		it.SeekToFirst()
	} else {
		it.SeekToLast()
	}
	if !it.Valid() {
		if err := it.Err(); err != nil {
			return nil, nil, false, fmt.Errorf("seek %s: %w", kv.dir, err)
		}
		return nil, nil, false, nil
	}
	return clone(it.key()), clone(it.value()), true, nil
}

// Iterate calls fn with Go-owned copies of each key and value in
// [lower, upper), in order, until fn returns false. fn must not call Close.
func (kv *KV) Iterate(lower, upper []byte, fn func(key, value []byte) bool) error {
	if err := kv.rlock(); err != nil {
		return err
	}
	defer kv.mu.RUnlock()
	if emptyRange(lower, upper) {
		return nil
	}
	it := newIterator(kv.db, nil, lower, upper, true)
	defer it.close()
	for it.SeekToFirst(); it.Valid(); it.Next() {
		if !fn(clone(it.key()), clone(it.value())) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate %s: %w", kv.dir, err)
	}
	return nil
}
