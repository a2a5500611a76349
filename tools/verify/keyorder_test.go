package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/tandem-kv/tandem/client"
)

// encodeKey is the server's record key layout, for checking compareKeys.
func encodeKey(r client.Record) []byte {
	key := binary.BigEndian.AppendUint16(nil, uint16(len(r.HashKey)))
	key = append(key, r.HashKey...)
	return append(key, r.SortKey...)
}

// rec makes a record without expiry.
func rec(hash, sort, value string) client.Record {
	return client.Record{HashKey: []byte(hash), SortKey: []byte(sort), Value: []byte(value)}
}

func TestCompareKeys(t *testing.T) {
	tests := []struct {
		name string
		a, b client.Record
		want int
	}{
		{"equal", rec("h", "s", ""), rec("h", "s", "other value"), 0},
		{"shorter hash key first", rec("zz", "", ""), rec("aaa", "", ""), -1},
		{"longer hash key last", rec("aaa", "a", ""), rec("b", "z", ""), 1},
		{"same length by bytes", rec("ab", "z", ""), rec("ac", "a", ""), -1},
		{"same hash key by sort key", rec("h", "b", ""), rec("h", "a", ""), 1},
		{"empty sort key first", rec("h", "", ""), rec("h", "\x00", ""), -1},
		{"sort key prefix first", rec("h", "ab", ""), rec("h", "abc", ""), -1},
		{"high bytes", rec("\xff", "", ""), rec("\x00", "", ""), 1},
		{"not the concatenation order", rec("a", "bc", ""), rec("ab", "c", ""), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compareKeys(tt.a, tt.b); got != tt.want {
				t.Errorf("compareKeys = %d, want %d", got, tt.want)
			}
			if got := bytes.Compare(encodeKey(tt.a), encodeKey(tt.b)); got != tt.want {
				t.Errorf("encoded order = %d, want %d (bad test case)", got, tt.want)
			}
		})
	}
}

func TestCompareKeysMatchesEncodedOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randBytes := func() []byte {
		b := make([]byte, rng.IntN(4))
		for i := range b {
			b[i] = byte(rng.IntN(3)) * 0x7f // 0x00, 0x7f, 0xfe: exercises signedness
		}
		return b
	}
	for range 5000 {
		a := client.Record{HashKey: randBytes(), SortKey: randBytes()}
		b := client.Record{HashKey: randBytes(), SortKey: randBytes()}
		if got, want := compareKeys(a, b), bytes.Compare(encodeKey(a), encodeKey(b)); got != want {
			t.Fatalf("compareKeys(%q/%q, %q/%q) = %d, encoded order %d",
				a.HashKey, a.SortKey, b.HashKey, b.SortKey, got, want)
		}
	}
}
