package main

import (
	"bytes"
	"cmp"

	"github.com/tandem-kv/tandem/client"
)

// compareKeys orders records as a partition scan returns them: by the
// bytes of [uint16 big-endian len(hashKey)][hashKey][sortKey]. The length
// prefix makes a shorter hash key sort first whatever its bytes, and hash
// keys of equal length then compare bytewise, so no encoding is needed.
func compareKeys(a, b client.Record) int {
	if c := cmp.Compare(len(a.HashKey), len(b.HashKey)); c != 0 {
		return c
	}
	if c := bytes.Compare(a.HashKey, b.HashKey); c != 0 {
		return c
	}
	return bytes.Compare(a.SortKey, b.SortKey)
}
