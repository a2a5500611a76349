package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tandem-kv/tandem/internal/lenprefix"
)

// A segment is the partition's applied log from decree From to To: its
// mutation entries with their decrees and append times (entries without
// mutations are left out but covered by the range), then a CRC32C of all
// that precedes it.
const segmentMagic = "TANDEMWAL1\n"

// Entry is one archived mutation entry.
type Entry struct {
	Decree     uint64
	AppendedAt time.Time
	Command    []byte
}

// Segment is a decoded segment.
type Segment struct {
	Partition uint32
	From, To  uint64
	// LastTime is when decree To (or the last entry before it) was
	// appended; zero when unknown.
	LastTime time.Time
	Entries  []Entry
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errSegment = errors.New("malformed segment")

// encodeSegment serializes s with its checksum.
func encodeSegment(s *Segment) []byte {
	b := []byte(segmentMagic)
	b = binary.AppendUvarint(b, uint64(s.Partition))
	b = binary.AppendUvarint(b, s.From)
	b = binary.AppendUvarint(b, s.To)
	b = binary.AppendVarint(b, unixNano(s.LastTime))
	b = binary.AppendUvarint(b, uint64(len(s.Entries)))
	for _, e := range s.Entries {
		b = binary.AppendUvarint(b, e.Decree)
		b = binary.AppendVarint(b, unixNano(e.AppendedAt))
		b = lenprefix.Append(b, e.Command)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// decodeSegment checks a segment's checksum and parses it.
func decodeSegment(b []byte) (*Segment, error) {
	if len(b) < len(segmentMagic)+4 || !bytes.HasPrefix(b, []byte(segmentMagic)) {
		return nil, fmt.Errorf("%w: not a segment", ErrCorrupt)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: segment checksum %08x, stored %08x", ErrCorrupt, got, sum)
	}
	r := &segReader{b: body[len(segmentMagic):]}
	s := &Segment{Partition: uint32(r.uvarint()), From: r.uvarint(), To: r.uvarint(), LastTime: fromUnixNano(r.varint())}
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		e := Entry{Decree: r.uvarint(), AppendedAt: fromUnixNano(r.varint())}
		e.Command = r.bytes()
		if e.Decree < s.From || e.Decree > s.To {
			r.err = fmt.Errorf("entry decree %d outside %d..%d", e.Decree, s.From, s.To)
		}
		s.Entries = append(s.Entries, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	return s, nil
}

// segReader reads a segment's fields, keeping the first error.
type segReader struct {
	b   []byte
	err error
}

func (r *segReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errSegment
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errSegment
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) bytes() []byte {
	if r.err != nil {
		return nil
	}
	v, rest, err := lenprefix.Read(r.b, errSegment)
	if err != nil {
		r.err = err
		return nil
	}
	r.b = rest
	return bytes.Clone(v)
}
