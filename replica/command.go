package replica

import (
	"encoding/binary"
	"fmt"

	"github.com/tandem-kv/tandem/internal/lenprefix"
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
	commandVersion byte = 1
	// commandKindMutation: client mutations, applied atomically.
	commandKindMutation byte = 1
	// commandKindDuplicated: mutations shipped from a source cluster, each
	// entry with its source decree; applied only above the stored one.
	commandKindDuplicated byte = 2
	// commandKindDupConfirm: a duplication's confirmed decree on the source
	// (raises the log retention floor).
	commandKindDupConfirm byte = 3
	// commandKindDupRelease: a removed duplication releases its floor.
	commandKindDupRelease byte = 4
	maxMutations               = 1 << 20
)

// DupEntry is one source WAL entry shipped by duplication.
type DupEntry struct {
	SourceDecree uint64
	// Command is the source's raft command (kind mutation).
	Command []byte
}

// command is a decoded raft command of any kind.
type command struct {
	Kind      byte
	Mutations []Mutation
	// Duplicated entries and UpTo, the source decree the batch reaches
	// (kind duplicated), and AtMs, the replicated time (unix ms) the batch
	// establishes once applied (0: none; an optional trailer, absent in
	// batches older versions wrote).
	Duplicated []DupEntry
	UpTo       uint64
	AtMs       uint64
	// DupID and Confirmed (kinds dup-confirm, dup-release).
	DupID     string
	Confirmed uint64
	// Batch holds the commands of a batched entry, in order.
	Batch []command
	// Step is a duplication step's kind (kind dup-step; its decree in UpTo).
	Step byte
}

// isMutation reports whether a raft command carries client mutations (the
// entries duplication ships).
func isMutation(b []byte) bool {
	return len(b) >= 2 && b[0] == commandVersion && b[1] == commandKindMutation
}

// encodeDuplicated encodes a batch of shipped source entries reaching upTo;
// atMs, when not 0, is the replicated time it establishes.
func encodeDuplicated(entries []DupEntry, upTo, atMs uint64) []byte {
	buf := []byte{commandVersion, commandKindDuplicated}
	buf = binary.AppendUvarint(buf, upTo)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	for _, e := range entries {
		buf = binary.AppendUvarint(buf, e.SourceDecree)
		buf = lenprefix.Append(buf, e.Command)
	}
	if atMs > 0 {
		buf = binary.AppendUvarint(buf, atMs)
	}
	return buf
}

// encodeDupConfirm records duplication id's confirmed decree.
func encodeDupConfirm(id string, confirmed uint64) []byte {
	buf := lenprefix.Append([]byte{commandVersion, commandKindDupConfirm}, []byte(id))
	return binary.AppendUvarint(buf, confirmed)
}

// encodeDupRelease drops duplication id's confirmed decree.
func encodeDupRelease(id string) []byte {
	return lenprefix.Append([]byte{commandVersion, commandKindDupRelease}, []byte(id))
}

// decode decodes a raft command of any kind.
func decode(b []byte) (command, error) {
	if len(b) < 2 || b[0] != commandVersion {
		return command{}, fmt.Errorf("%w: bad header", ErrMalformedCommand)
	}
	c := command{Kind: b[1]}
	var err error
	switch c.Kind {
	case commandKindMutation:
		c.Mutations, err = decodeCommand(b)
	case commandKindDuplicated:
		c.Duplicated, c.UpTo, c.AtMs, err = decodeDuplicated(b[2:])
	case commandKindDupConfirm, commandKindDupRelease:
		c.DupID, c.Confirmed, err = decodeDupMark(b[2:], c.Kind == commandKindDupConfirm)
	case commandKindBatch:
		c.Batch, err = decodeBatch(b[2:])
	case commandKindDupStep:
		c.Step, c.UpTo, err = decodeDupStep(b[2:])
	default:
		err = fmt.Errorf("%w: unknown kind %d", ErrMalformedCommand, c.Kind)
	}
	return c, err
}

func decodeDuplicated(b []byte) ([]DupEntry, uint64, uint64, error) {
	upTo, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, 0, 0, ErrMalformedCommand
	}
	n, k2 := binary.Uvarint(b[k:])
	if k2 <= 0 || n > uint64(len(b)) {
		return nil, 0, 0, ErrMalformedCommand
	}
	rest := b[k+k2:]
	entries := make([]DupEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		d, k := binary.Uvarint(rest)
		if k <= 0 {
			return nil, 0, 0, ErrMalformedCommand
		}
		var cmd []byte
		var err error
		if cmd, rest, err = lenprefix.Read(rest[k:], ErrMalformedCommand); err != nil {
			return nil, 0, 0, err
		}
		if _, err := decodeCommand(cmd); err != nil {
			return nil, 0, 0, err
		}
		entries = append(entries, DupEntry{SourceDecree: d, Command: cmd})
	}
	var atMs uint64
	if len(rest) > 0 {
		at, k := binary.Uvarint(rest)
		if k <= 0 || k != len(rest) {
			return nil, 0, 0, fmt.Errorf("%w: trailing bytes", ErrMalformedCommand)
		}
		atMs = at
	}
	return entries, upTo, atMs, nil
}

func decodeDupMark(b []byte, withDecree bool) (string, uint64, error) {
	id, rest, err := lenprefix.Read(b, ErrMalformedCommand)
	if err != nil || len(id) == 0 {
		return "", 0, ErrMalformedCommand
	}
	if !withDecree {
		if len(rest) != 0 {
			return "", 0, ErrMalformedCommand
		}
		return string(id), 0, nil
	}
	d, k := binary.Uvarint(rest)
	if k <= 0 || k != len(rest) {
		return "", 0, ErrMalformedCommand
	}
	return string(id), d, nil
}

// Mutation is one record change carried by a raft command.
type Mutation struct {
	Op       Op
	HashKey  []byte
	SortKey  []byte
	Value    []byte
	ExpireTS uint32
}

// encodeCommand encodes mutations, applied atomically, as one raft command.
func encodeCommand(muts []Mutation) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, m := range muts {
		size += 1 + 3*binary.MaxVarintLen64 + len(m.HashKey) + len(m.SortKey) + len(m.Value) + 4
	}
	buf := make([]byte, 0, size)
	buf = append(buf, commandVersion, commandKindMutation)
	buf = binary.AppendUvarint(buf, uint64(len(muts)))
	for _, m := range muts {
		buf = append(buf, byte(m.Op))
		buf = lenprefix.Append(buf, m.HashKey)
		buf = lenprefix.Append(buf, m.SortKey)
		if m.Op == OpPut {
			buf = lenprefix.Append(buf, m.Value)
			buf = binary.BigEndian.AppendUint32(buf, m.ExpireTS)
		}
	}
	return buf
}

// decodeCommand decodes a raft command made by encodeCommand. The returned
// mutations alias b.
func decodeCommand(b []byte) ([]Mutation, error) {
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
	if m.HashKey, rest, err = lenprefix.Read(b[1:], ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if m.SortKey, rest, err = lenprefix.Read(rest, ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if m.Op == OpDelete {
		return m, rest, nil
	}
	if m.Value, rest, err = lenprefix.Read(rest, ErrMalformedCommand); err != nil {
		return m, nil, err
	}
	if len(rest) < 4 {
		return m, nil, ErrMalformedCommand
	}
	m.ExpireTS = binary.BigEndian.Uint32(rest)
	return m, rest[4:], nil
}
