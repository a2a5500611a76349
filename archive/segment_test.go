package archive

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestSegmentRoundTripAndCorruption(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	seg := &Segment{Partition: 3, From: 10, To: 14, LastTime: at.Add(time.Second), Entries: []Entry{
		{Decree: 10, AppendedAt: at, Command: []byte("a")},
		{Decree: 13, AppendedAt: at.Add(time.Millisecond), Command: bytes.Repeat([]byte("b"), 300)},
	}}
	b := encodeSegment(seg)
	got, err := decodeSegment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, seg) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", got, seg)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"flipped byte", flip(b, len(b)/2)},
		{"truncated", b[:len(b)-3]},
		{"not a segment", []byte("hello world, this is not a segment")},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSegment(tc.data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestKeysParseBack(t *testing.T) {
	if d, ok := parseBaseKey(7, baseKey(7, 42)); !ok || d != 42 {
		t.Fatalf("base key: %d %v", d, ok)
	}
	if _, ok := parseBaseKey(6, baseKey(7, 42)); ok {
		t.Fatal("base key of another partition parsed")
	}
	if f, to, ok := parseSegmentKey(7, segmentKey(7, 5, 99)); !ok || f != 5 || to != 99 {
		t.Fatalf("segment key: %d %d %v", f, to, ok)
	}
	if _, _, ok := parseSegmentKey(7, "p00007/wal/garbage.seg"); ok {
		t.Fatal("garbage segment key parsed")
	}
}

// Segments of two leaders may overlap; the chain takes the furthest
// reaching one at each step and stops at a gap.
func TestChainAcrossOverlapsStopsAtGap(t *testing.T) {
	c := &partCatalog{segments: []segRange{{from: 11, to: 20}, {from: 11, to: 15}, {from: 16, to: 30}, {from: 21, to: 25}, {from: 40, to: 50}}}
	ch := c.chain(10)
	if len(ch) != 2 || ch[0].to != 20 || ch[1].to != 30 {
		t.Fatalf("chain = %+v", ch)
	}
	if end, _ := c.chainEnd(10); end != 30 {
		t.Fatalf("end = %d, want 30 (the gap 31..39 stops it)", end)
	}
	if end, _ := c.chainEnd(35); end != 35 {
		t.Fatalf("end after a base in the gap = %d, want 35", end)
	}
}
