package rocksdb

import (
	"encoding/binary"
	"fmt"
)

// MaxHashKeyLen is the longest hash key EncodeKey accepts; its length is
// stored in two bytes.
const MaxHashKeyLen = 65535

// valueHeaderLen is the size of the expiry timestamp before every value.
const valueHeaderLen = 4

// EncodeKey returns the record key [uint16 big-endian len(hashKey)][hashKey][sortKey].
// It panics if hashKey is longer than MaxHashKeyLen; callers validate
// client input before encoding.
func EncodeKey(hashKey, sortKey []byte) []byte {
	if len(hashKey) > MaxHashKeyLen {
		panic(fmt.Sprintf("rocksdb: hash key of %d bytes exceeds %d", len(hashKey), MaxHashKeyLen))
	}
	key := make([]byte, 2+len(hashKey)+len(sortKey))
	binary.BigEndian.PutUint16(key, uint16(len(hashKey)))
	copy(key[2:], hashKey)
	copy(key[2+len(hashKey):], sortKey)
	return key
}

// DecodeKey splits a record key made by EncodeKey. The returned slices alias
// key. It returns ErrMalformedKey if key is too short.
func DecodeKey(key []byte) (hashKey, sortKey []byte, err error) {
	if len(key) < 2 {
		return nil, nil, fmt.Errorf("key of %d bytes: %w", len(key), ErrMalformedKey)
	}
	n := int(binary.BigEndian.Uint16(key))
	if len(key)-2 < n {
		return nil, nil, fmt.Errorf("hash key length %d, key of %d bytes: %w", n, len(key), ErrMalformedKey)
	}
	return key[2 : 2+n], key[2+n:], nil
}

// HashKeyPrefix returns the prefix shared by every record key of hashKey;
// [HashKeyPrefix(h), PrefixEnd(HashKeyPrefix(h))) covers exactly hash key h.
func HashKeyPrefix(hashKey []byte) []byte {
	return EncodeKey(hashKey, nil)
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil if there is none (prefix is empty or all 0xff bytes).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := make([]byte, i+1)
			copy(end, prefix[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

// EncodeValue returns the stored value [uint32 big-endian expireTS][value].
// expireTS is in unix seconds; 0 means the record never expires.
func EncodeValue(expireTS uint32, value []byte) []byte {
	raw := make([]byte, valueHeaderLen+len(value))
	binary.BigEndian.PutUint32(raw, expireTS)
	copy(raw[valueHeaderLen:], value)
	return raw
}

// DecodeValue splits a stored value made by EncodeValue. The returned value
// aliases raw. It returns ErrMalformedValue if raw is too short.
func DecodeValue(raw []byte) (expireTS uint32, value []byte, err error) {
	if len(raw) < valueHeaderLen {
		return 0, nil, fmt.Errorf("value of %d bytes: %w", len(raw), ErrMalformedValue)
	}
	return binary.BigEndian.Uint32(raw), raw[valueHeaderLen:], nil
}

// expired reports whether a record with expireTS is dead at unix time now.
func expired(expireTS uint32, now int64) bool {
	return expireTS != 0 && int64(expireTS) <= now
}

// Record is one live record returned by Scan.
type Record struct {
	HashKey  []byte
	SortKey  []byte
	Value    []byte
	ExpireTS uint32
}
