package rocksdb

import "github.com/linxGnu/grocksdb"

// Batch collects record and metadata mutations that DB.Write applies
// atomically. A Batch is not safe for concurrent use; Close it when done.
type Batch struct {
	db  *DB
	wb  *grocksdb.WriteBatch
	err error // sticky: set if PutMeta raced with DB.Close
}

// NewBatch returns an empty batch for db.
func (db *DB) NewBatch() *Batch {
	return &Batch{db: db, wb: grocksdb.NewWriteBatch()}
}

// Put sets a record; expireTS is in unix seconds, 0 for never.
func (b *Batch) Put(hashKey, sortKey, value []byte, expireTS uint32) {
	if b.wb == nil {
		return
	}
	// The records family is "default", which needs no handle.
	b.wb.Put(EncodeKey(hashKey, sortKey), EncodeValue(expireTS, value))
}

// Delete removes a record.
func (b *Batch) Delete(hashKey, sortKey []byte) {
	if b.wb == nil {
		return
	}
	b.wb.Delete(EncodeKey(hashKey, sortKey))
}

// PutMeta sets a metadata key in the "meta" column family.
func (b *Batch) PutMeta(key, value []byte) {
	if b.wb == nil {
		return
	}
	// The meta handle dies with the DB, so use it only while the DB is open.
	if err := b.db.rlock(); err != nil {
		b.err = err
		return
	}
	defer b.db.mu.RUnlock()
	b.wb.PutCF(b.db.meta, key, value)
}

// Count returns the number of mutations in the batch.
func (b *Batch) Count() int {
	if b.wb == nil {
		return 0
	}
	return b.wb.Count()
}

// Close frees the batch; it is safe to call more than once.
func (b *Batch) Close() {
	if b.wb != nil {
		b.wb.Destroy()
		b.wb = nil
	}
}
