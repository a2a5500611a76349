package main

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// digest is a 128-bit checksum: the sum, modulo 2^128, of the SHA-256
// digests (first 16 bytes) of a set of records. A sum rather than a hash
// chain lets records be taken out again once it is known that they expired
// during the scan; keys are unique within a partition, so the order a
// chained hash would also cover carries no information.
type digest struct{ hi, lo uint64 }

// add returns d + e modulo 2^128.
func (d digest) add(e digest) digest {
	lo, carry := bits.Add64(d.lo, e.lo, 0)
	hi, _ := bits.Add64(d.hi, e.hi, carry)
	return digest{hi: hi, lo: lo}
}

// recordDigest hashes every field of r, each length-prefixed so that no two
// different records share an encoding, and its expiry in Unix seconds (0
// for none).
func recordDigest(r client.Record) digest {
	h := sha256.New()
	var buf [8]byte
	for _, field := range [][]byte{r.HashKey, r.SortKey, r.Value} {
		binary.BigEndian.PutUint32(buf[:4], uint32(len(field)))
		h.Write(buf[:4])
		h.Write(field)
	}
	binary.BigEndian.PutUint64(buf[:], uint64(expireUnix(r)))
	h.Write(buf[:])
	sum := h.Sum(nil)
	return digest{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:16])}
}

// expireUnix is r's expiry in Unix seconds, 0 when it never expires.
func expireUnix(r client.Record) int64 {
	if r.ExpireAt.IsZero() {
		return 0
	}
	return r.ExpireAt.Unix()
}

// expiredAt reports whether r is dead at cutoff, as the server judges it:
// it has an expiry and the expiry second is not after cutoff's.
func expiredAt(r client.Record, cutoff time.Time) bool {
	e := expireUnix(r)
	return e != 0 && e <= cutoff.Unix()
}

// tally is the digest and count of a set of records.
type tally struct {
	sum   digest
	count uint64
}

// add puts one record's digest into t.
func (t *tally) add(d digest) {
	t.sum = t.sum.add(d)
	t.count++
}

// checksum accumulates the records of one side of a partition. Records
// that may expire before the comparison ends are kept apart by expiry
// second, so that Result can leave out those dead at its cutoff; the
// others, which never expire or expire after horizon, are summed at once.
// Its memory is one tally per distinct expiry second before horizon.
type checksum struct {
	horizon  int64
	live     tally
	expiring map[int64]*tally
}

// newChecksum returns an empty checksum for a comparison that ends by
// horizon: no cutoff later than horizon is ever passed to Result.
func newChecksum(horizon time.Time) *checksum {
	return &checksum{horizon: horizon.Unix(), expiring: make(map[int64]*tally)}
}

// Add accumulates r.
func (c *checksum) Add(r client.Record) {
	d := recordDigest(r)
	e := expireUnix(r)
	if e == 0 || e > c.horizon {
		c.live.add(d)
		return
	}
	t := c.expiring[e]
	if t == nil {
		t = &tally{}
		c.expiring[e] = t
	}
	t.add(d)
}

// Result returns the digest and count of the records added that are still
// alive at cutoff.
func (c *checksum) Result(cutoff time.Time) tally {
	out := c.live
	for e, t := range c.expiring {
		if e > cutoff.Unix() {
			out.sum = out.sum.add(t.sum)
			out.count += t.count
		}
	}
	return out
}
