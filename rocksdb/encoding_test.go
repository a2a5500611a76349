package rocksdb

import (
	"bytes"
	"errors"
	"sort"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte{0xab}, MaxHashKeyLen)
	tests := []struct {
		name             string
		hashKey, sortKey []byte
	}{
		{"both empty", nil, nil},
		{"hash key only", []byte("user1"), nil},
		{"sort key only", nil, []byte("profile")},
		{"both", []byte("user1"), []byte("profile")},
		{"binary", []byte{0, 0xff, 0}, []byte{0xff, 0xff}},
		{"max hash key", long, []byte("s")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := EncodeKey(tt.hashKey, tt.sortKey)
			if len(key) != 2+len(tt.hashKey)+len(tt.sortKey) {
				t.Fatalf("len(key) = %d", len(key))
			}
			h, s, err := DecodeKey(key)
			if err != nil {
				t.Fatalf("DecodeKey: %v", err)
			}
			if !bytes.Equal(h, tt.hashKey) || !bytes.Equal(s, tt.sortKey) {
				t.Fatalf("DecodeKey = (%x, %x), want (%x, %x)", h, s, tt.hashKey, tt.sortKey)
			}
			if !bytes.HasPrefix(key, HashKeyPrefix(tt.hashKey)) {
				t.Fatalf("key %x lacks prefix %x", key, HashKeyPrefix(tt.hashKey))
			}
		})
	}
}

func TestDecodeKeyMalformed(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
	}{
		{"nil", nil},
		{"one byte", []byte{0}},
		{"hash key truncated", []byte{0, 5, 'a', 'b', 'c'}},
		{"length beyond key", []byte{0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeKey(tt.key); !errors.Is(err, ErrMalformedKey) {
				t.Fatalf("DecodeKey(%x) err = %v, want ErrMalformedKey", tt.key, err)
			}
		})
	}
}

func TestEncodeKeyPanicsOnLongHashKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("EncodeKey accepted a hash key longer than MaxHashKeyLen")
		}
	}()
	EncodeKey(make([]byte, MaxHashKeyLen+1), nil)
}

func TestKeyOrder(t *testing.T) {
	// Within a hash key, records sort by sort key; a hash key that extends
	// another never falls inside the other's prefix range.
	sortKeys := []string{"", "a", "a\x00", "ab", "b", "\xff"}
	var keys [][]byte
	for i := len(sortKeys) - 1; i >= 0; i-- {
		keys = append(keys, EncodeKey([]byte("h"), []byte(sortKeys[i])))
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	for i, k := range keys {
		if _, s, _ := DecodeKey(k); string(s) != sortKeys[i] {
			t.Fatalf("position %d holds sort key %q, want %q", i, s, sortKeys[i])
		}
	}
	lo, hi := HashKeyPrefix([]byte("h")), PrefixEnd(HashKeyPrefix([]byte("h")))
	other := EncodeKey([]byte("hh"), nil)
	if bytes.Compare(other, lo) >= 0 && bytes.Compare(other, hi) < 0 {
		t.Fatalf("key of hash key %q falls in the range of %q", "hh", "h")
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
		want   []byte
	}{
		{"empty", nil, nil},
		{"all 0xff", []byte{0xff, 0xff}, nil},
		{"simple", []byte("ab"), []byte("ac")},
		{"trailing 0xff", []byte{'a', 0xff, 0xff}, []byte("b")},
		{"zero", []byte{0}, []byte{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PrefixEnd(tt.prefix)
			if !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("PrefixEnd(%x) = %x, want %x", tt.prefix, got, tt.want)
			}
		})
	}
	p := []byte("ab")
	PrefixEnd(p)[0] = 'z'
	if string(p) != "ab" {
		t.Fatal("PrefixEnd modified its input")
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		expireTS uint32
		value    []byte
	}{
		{"never expires, empty", 0, nil},
		{"never expires", 0, []byte("v")},
		{"expires", 1_700_000_000, []byte("value")},
		{"max ts", ^uint32(0), []byte{0, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, v, err := DecodeValue(EncodeValue(tt.expireTS, tt.value))
			if err != nil {
				t.Fatalf("DecodeValue: %v", err)
			}
			if ts != tt.expireTS || !bytes.Equal(v, tt.value) {
				t.Fatalf("DecodeValue = (%d, %x), want (%d, %x)", ts, v, tt.expireTS, tt.value)
			}
		})
	}
}

func TestDecodeValueMalformed(t *testing.T) {
	for _, raw := range [][]byte{nil, {1}, {1, 2, 3}} {
		if _, _, err := DecodeValue(raw); !errors.Is(err, ErrMalformedValue) {
			t.Fatalf("DecodeValue(%x) err = %v, want ErrMalformedValue", raw, err)
		}
	}
}
