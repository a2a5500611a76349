// Package lenprefix encodes byte strings as a uvarint length and the bytes,
// the framing of raft commands (replica), stored raft log entries (logdb)
// and heartbeat frames (raftnet).
package lenprefix

import "encoding/binary"

// Append appends b, length-prefixed, to buf.
func Append(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// Read reads a length-prefixed byte string from the front of b; a short or
// bad input yields malformed (the caller's sentinel). v aliases b, capped
// so appending to it cannot overwrite what follows; it is nil when empty.
func Read(b []byte, malformed error) (v, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, malformed
	}
	b = b[k:]
	if n == 0 {
		return nil, b, nil
	}
	return b[:n:n], b[n:], nil
}
