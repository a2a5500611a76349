package replica

import (
	"encoding/binary"
	"fmt"
)

// Op is the kind of one record mutation.
type Op uint8

const (
	// OpPut writes a record (with an optional expiry).
	OpPut Op = 1
	// OpDelete removes a record.
	OpDelete Op = 2
)

// Command kinds: the first two bytes of every raft command are the encoding
// version and the kind, so later kinds (duplicated batches carrying a source
// decree) can be added without ambiguity.
const (
	commandVersion      byte = 1
	commandKindMutation byte = 1
	maxMutations             = 1 << 20
)

// Mutation is one record change carried by a raft command.
type Mutation struct {
	Op       Op
	HashKey  []byte
	SortKey  []byte
	Value    []byte
	ExpireTS uint32
}

// EncodeCommand encodes mutations, applied atomically, as one raft command.
func EncodeCommand(muts []Mutation) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, m := range muts {
		size += 1 + 3*binary.MaxVarintLen64 + len(m.HashKey) + len(m.SortKey) + len(m.Value) + 4
	}
	buf := make([]byte, 0, size)
	buf = append(buf, commandVersion, commandKindMutation)
	buf = binary.AppendUvarint(buf, uint64(len(muts)))
	for _, m := range muts {
		buf = append(buf, byte(m.Op))
		buf = appendBytes(buf, m.HashKey)
		buf = appendBytes(buf, m.SortKey)
		if m.Op == OpPut {
			buf = appendBytes(buf, m.Value)
			buf = binary.BigEndian.AppendUint32(buf, m.ExpireTS)
		}
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// DecodeCommand decodes a raft command made by EncodeCommand. The returned
// mutations alias b.
func DecodeCommand(b []byte) ([]Mutation, error) {
	if len(b) < 2 || b[0] != commandVersion {
		return nil, fmt.Errorf("%w: bad header", ErrMalformedCommand)
	}
	if b[1] != commandKindMutation {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformedCommand, b[1])
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > maxMutations || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad mutation count", ErrMalformedCommand)
	}
	rest := b[2+k:]
	muts := make([]Mutation, 0, n)
	for i := uint64(0); i < n; i++ {
		var m Mutation
		var err error
		if m, rest, err = decodeMutation(rest); err != nil {
			return nil, fmt.Errorf("mutation %d: %w", i, err)
		}
		muts = append(muts, m)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformedCommand, len(rest))
	}
	return muts, nil
}

func decodeMutation(b []byte) (m Mutation, rest []byte, err error) {
	if len(b) < 1 {
		return m, nil, ErrMalformedCommand
	}
	m.Op = Op(b[0])
	if m.Op != OpPut && m.Op != OpDelete {
		return m, nil, fmt.Errorf("%w: unknown op %d", ErrMalformedCommand, b[0])
	}
	if m.HashKey, rest, err = readBytes(b[1:], ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if m.SortKey, rest, err = readBytes(rest, ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if m.Op == OpDelete {
		return m, rest, nil
	}
	if m.Value, rest, err = readBytes(rest, ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if len(rest) < 4 {
		return m, nil, ErrMalformedCommand
	}
	m.ExpireTS = binary.BigEndian.Uint32(rest)
	return m, rest[4:], nil
}
