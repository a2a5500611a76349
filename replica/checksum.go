package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/tandem-kv/tandem/rocksdb"
)

// Checksum digests a replica's records at one applied decree; replicas of
// a partition at the same decree must have equal checksums.
type Checksum struct {
	Decree  uint64
	Records uint64
	// Sum is the first 8 bytes (big-endian) of the SHA-256 of every live
	// record in key order: length-prefixed hash key, sort key and value,
	// then the expiry.
	Sum uint64
}

// checksumPage is how many records one scan step reads.
const checksumPage = 1000

// LocalChecksum digests the local data with applies held off, so the
// records and the decree belong together. It reads the whole partition:
// meant for tests and tools comparing replicas, not for hot paths.
func (r *Replica) LocalChecksum() (Checksum, error) { return r.fsm.checksum() }

func (a *applier) checksum() (Checksum, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	var c Checksum
	err := a.store.with(func(db *rocksdb.DB) error {
		v, ok, err := db.GetMeta(appliedDecreeKey)
		if err != nil {
			return err
		}
		if ok && len(v) == 8 {
			c.Decree = binary.BigEndian.Uint64(v)
		}
		h := sha256.New()
		rng := rocksdb.ScanRange{Limit: checksumPage}
		for {
			recs, next, err := db.Scan(rng)
			if err != nil {
				return fmt.Errorf("checksum: %w", err)
			}
			for _, rec := range recs {
				hashRecord(h, rec)
			}
			c.Records += uint64(len(recs))
			if next == nil {
				break
			}
			rng.Start = next
		}
		c.Sum = binary.BigEndian.Uint64(h.Sum(nil))
		return nil
	})
	return c, err
}

func hashRecord(h hash.Hash, rec rocksdb.Record) {
	var n [4]byte
	for _, b := range [][]byte{rec.HashKey, rec.SortKey, rec.Value} {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint32(n[:], rec.ExpireTS)
	h.Write(n[:])
}
