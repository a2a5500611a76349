package rocksdb

import (
	"bytes"
	"fmt"
	"testing"
)

// scanFixture writes hash keys "a", "b" and "bb" with sort keys 00..09 each,
// plus an expired record "b"/"05x" between live ones.
func scanFixture(t *testing.T) (*DB, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	db := mustOpen(t, mustNewShared(t), Options{Now: clock.Now})
	// Write in reverse to show order does not come from insertion.
	for _, h := range []string{"bb", "b", "a"} {
		for i := 9; i >= 0; i-- {
			mustPut(t, db, h, fmt.Sprintf("%02d", i), h+fmt.Sprint(i), 0)
		}
	}
	mustPut(t, db, "b", "05x", "expired", clock.Unix()-1)
	return db, clock
}

// recKeys renders records as "hashKey/sortKey" for comparison.
func recKeys(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.HashKey)+"/"+string(r.SortKey))
	}
	return out
}

// keysOf lists "h/00".."h/09" for sort keys from lo to hi-1.
func keysOf(h string, lo, hi int) []string {
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, fmt.Sprintf("%s/%02d", h, i))
	}
	return out
}

func TestScan(t *testing.T) {
	db, _ := scanFixture(t)
	b := HashKeyPrefix([]byte("b"))
	tests := []struct {
		name     string
		r        ScanRange
		want     []string
		wantNext []byte
	}{
		{"one hash key", ScanRange{Start: b, End: PrefixEnd(b)}, keysOf("b", 0, 10), nil},
		{"sort key range", ScanRange{Start: EncodeKey([]byte("b"), []byte("03")), End: EncodeKey([]byte("b"), []byte("06"))},
			keysOf("b", 3, 6), nil},
		{"limit", ScanRange{Start: b, End: PrefixEnd(b), Limit: 3}, keysOf("b", 0, 3), EncodeKey([]byte("b"), []byte("03"))},
		{"expired does not count toward limit", ScanRange{Start: EncodeKey([]byte("b"), []byte("04")), End: PrefixEnd(b), Limit: 2},
			keysOf("b", 4, 6), EncodeKey([]byte("b"), []byte("06"))},
		{"next skips expired", ScanRange{Start: EncodeKey([]byte("b"), []byte("04")), End: PrefixEnd(b), Limit: 1},
			keysOf("b", 4, 5), EncodeKey([]byte("b"), []byte("05"))},
		{"limit equals size", ScanRange{Start: b, End: PrefixEnd(b), Limit: 10}, keysOf("b", 0, 10), nil},
		{"unbounded end", ScanRange{Start: HashKeyPrefix([]byte("bb"))}, keysOf("bb", 0, 10), nil},
		{"whole DB", ScanRange{Limit: 12}, append(keysOf("a", 0, 10), keysOf("b", 0, 2)...), EncodeKey([]byte("b"), []byte("02"))},
		{"empty range", ScanRange{Start: b, End: b}, nil, nil},
		{"empty end", ScanRange{End: []byte{}}, nil, nil},
		{"missing hash key", ScanRange{Start: HashKeyPrefix([]byte("c")), End: PrefixEnd(HashKeyPrefix([]byte("c")))}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, next, err := db.Scan(tt.r)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if got := recKeys(recs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Scan = %v, want %v", got, tt.want)
			}
			if !bytes.Equal(next, tt.wantNext) || (next == nil) != (tt.wantNext == nil) {
				t.Fatalf("next = %x, want %x", next, tt.wantNext)
			}
			for _, r := range recs {
				if want := string(r.HashKey) + fmt.Sprint(int(r.SortKey[1]-'0')); string(r.Value) != want {
					t.Fatalf("value of %s/%s = %q, want %q", r.HashKey, r.SortKey, r.Value, want)
				}
			}
		})
	}
}

func TestScanResume(t *testing.T) {
	db, _ := scanFixture(t)
	for _, limit := range []int{1, 2, 3, 7, 29, 30, 31} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var all []string
			r := ScanRange{Limit: limit}
			for pages := 0; ; pages++ {
				if pages > 40 {
					t.Fatal("scan does not terminate")
				}
				recs, next, err := db.Scan(r)
				if err != nil {
					t.Fatalf("Scan: %v", err)
				}
				if len(recs) > limit || (next != nil && len(recs) != limit) {
					t.Fatalf("page of %d records with next=%x and limit %d", len(recs), next, limit)
				}
				all = append(all, recKeys(recs)...)
				if next == nil {
					break
				}
				r.Start = next
			}
			want := append(append(keysOf("a", 0, 10), keysOf("b", 0, 10)...), keysOf("bb", 0, 10)...)
			if fmt.Sprint(all) != fmt.Sprint(want) {
				t.Fatalf("resumed scan = %v, want %v", all, want)
			}
		})
	}
}

func TestScanReturnsCopies(t *testing.T) {
	db, _ := scanFixture(t)
	recs, _, err := db.Scan(ScanRange{Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Scan = %v, %v", recs, err)
	}
	recs[0].Value[0] = 'X'
	recs[0].SortKey[0] = 'X'
	if v, _ := mustGet(t, db, "a", "00"); v != "a0" {
		t.Fatalf("stored value changed to %q", v)
	}
}
