package rocksdb

import (
	"bytes"
	"testing"
)

// FuzzDecodeKey: any bytes either decode into a key that re-encodes to the
// same bytes, or are rejected; never a panic.
func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeKey([]byte("hash"), []byte("sort")))
	f.Add(EncodeKey([]byte("h"), nil))
	f.Add([]byte{0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		hk, sk, err := DecodeKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeKey(hk, sk), b) {
			t.Fatalf("DecodeKey(%x) = %q %q does not re-encode", b, hk, sk)
		}
	})
}

// FuzzDecodeValue: same contract for stored values.
func FuzzDecodeValue(f *testing.F) {
	f.Add(EncodeValue(0, []byte("v")))
	f.Add(EncodeValue(1<<31, nil))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, v, err := DecodeValue(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeValue(ts, v), b) {
			t.Fatalf("DecodeValue(%x) does not re-encode", b)
		}
	})
}
