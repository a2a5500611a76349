package replica

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"go.uber.org/zap"
)

// A follower table may duplicate onward (a chain: east → west → south).
// West then ships the mutations its Duplicated entries applied, exactly:
// a shipped entry west's FSM skipped (its source decree was at or below the
// stored one: a batch re-shipped after a leader change) must not reach
// south, which would re-apply an old value after a newer one.
//
// Whether a part of an entry was skipped depends on the source decree the
// FSM held when it applied the entry, which the log alone does not say.
// So the FSM records it: for every entry of which it skipped anything, a
// skip record (the entry's decree and the source decree before it, or
// skipAll when the entry was ignored whole after a promote), written in
// the same RocksDB batch as the entry's effects, on every replica alike.
// ReadLog replays an entry with the FSM's own code (batchState.add) from
// the recorded source decree, or from none when there is no record
// (nothing was skipped), and ships what that applies.
//
// Records are rare (a re-shipped batch per leader change at most), kept in
// one meta value and capped: once the oldest is dropped, ReadLog refuses
// (ErrLogGone) a read from before it, and the remote re-bootstraps.

// skipsKey: the skip records (8-byte "complete from" decree, then 16 bytes
// per record: decree, source decree before it).
var skipsKey = []byte("dup_skips")

// maxSkipRecords caps the records kept.
const maxSkipRecords = 256

// skipAll is the recorded source decree of an entry ignored whole.
const skipAll = math.MaxUint64

// skipRecord says that the FSM applied the entry at decree with source
// decree src stored before it (skipAll: applied none of its shipped part).
type skipRecord struct {
	decree, src uint64
}

// skipLog is the records in decree order and the first decree they are
// complete from (records below it were dropped).
type skipLog struct {
	from    uint64
	records []skipRecord
}

// with returns the log with added records appended, capped.
func (s skipLog) with(added []skipRecord) skipLog {
	out := skipLog{from: s.from, records: append(append([]skipRecord(nil), s.records...), added...)}
	if n := len(out.records) - maxSkipRecords; n > 0 {
		out.from = out.records[n-1].decree + 1
		out.records = out.records[n:]
	}
	return out
}

// lookup returns the record of decree d.
func (s skipLog) lookup(d uint64) (skipRecord, bool) {
	i := sort.Search(len(s.records), func(i int) bool { return s.records[i].decree >= d })
	if i < len(s.records) && s.records[i].decree == d {
		return s.records[i], true
	}
	return skipRecord{}, false
}

func (s skipLog) encode() []byte {
	b := make([]byte, 0, 8+16*len(s.records))
	b = binary.BigEndian.AppendUint64(b, s.from)
	for _, r := range s.records {
		b = binary.BigEndian.AppendUint64(b, r.decree)
		b = binary.BigEndian.AppendUint64(b, r.src)
	}
	return b
}

func decodeSkipLog(b []byte) (skipLog, error) {
	if len(b) < 8 || (len(b)-8)%16 != 0 {
		return skipLog{}, fmt.Errorf("%s: %d bytes: %w", skipsKey, len(b), ErrMalformedState)
	}
	s := skipLog{from: binary.BigEndian.Uint64(b)}
	for b = b[8:]; len(b) > 0; b = b[16:] {
		s.records = append(s.records, skipRecord{decree: binary.BigEndian.Uint64(b), src: binary.BigEndian.Uint64(b[8:])})
	}
	return s, nil
}

// addLogged adds the command of entry index to the batch and records a
// skip when the FSM skipped any shipped entry of it.
func (b *batchState) addLogged(cmd command, lg *zap.Logger) (refused bool) {
	before, unfollowed := b.src, b.unfollowed
	b.skipped = false
	refused = b.add(cmd, lg)
	if b.skipped {
		rec := skipRecord{decree: b.index, src: before}
		if unfollowed {
			rec.src = skipAll
		}
		b.skips = append(b.skips, rec)
	}
	return refused
}

// appliedMutations replays the committed command at decree index as the
// FSM applied it and returns the mutations it applied (client ones not
// refused by the fence, shipped ones not skipped) and the replicated time
// its shipped part established (unix ms, 0 none).
func appliedMutations(data []byte, index uint64, ds dupState) ([]Mutation, uint64, error) {
	cmd, err := decode(data)
	if err != nil {
		return nil, 0, err
	}
	b := batchState{index: index, fencedAt: ds.fencedAt, unfencedAt: ds.unfencedAt}
	if rec, ok := ds.skips.lookup(index); ok {
		b.src, b.unfollowed = rec.src, rec.src == skipAll
	}
	b.add(cmd, zap.NewNop())
	return b.muts, b.replicatedMs, nil
}
