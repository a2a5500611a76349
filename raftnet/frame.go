package raftnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/internal/lenprefix"
)

const (
	hbFrameVersion byte = 1
	hbKindRequest  byte = 1
	hbKindReply    byte = 2
	// maxHeartbeatEntries bounds the heartbeats of one frame; a sender with
	// more queued sends several frames.
	maxHeartbeatEntries = 2048
	// maxHeartbeatField bounds a server id, address or error message.
	maxHeartbeatField = 512
	// maxHeartbeatFrame bounds a frame body: maxHeartbeatEntries entries of
	// three maximal fields fit.
	maxHeartbeatFrame = 4 << 20
	hbStatusOK        = 0
	hbStatusError     = 1
	hbFlagSuccess     = 1
	hbFlagNoBackoff   = 2
)

// The frame: a 4-byte big-endian body length, then the body: version,
// kind, an entry count (uvarint), the entries. A request entry is a
// heartbeat: group (8 bytes), protocol version, header id and address,
// term, leader. A reply entry is a status byte, then either the response
// (protocol version, header id and address, term, last log, flags) or an
// error message. Numbers are uvarints, byte strings a uvarint length and
// the bytes. Replies come in the request's order.

type hbRequest struct {
	group uint64
	req   raft.AppendEntriesRequest
}

type hbReply struct {
	resp raft.AppendEntriesResponse
	err  string
}

func beginFrame(b []byte, kind byte, n int) []byte {
	b = append(b, 0, 0, 0, 0, hbFrameVersion, kind)
	return binary.AppendUvarint(b, uint64(n))
}

func endFrame(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func appendRequestFrame(b []byte, reqs []hbRequest) []byte {
	start := len(b)
	b = beginFrame(b, hbKindRequest, len(reqs))
	for i := range reqs {
		q := &reqs[i].req
		b = binary.BigEndian.AppendUint64(b, reqs[i].group)
		b = binary.AppendUvarint(b, uint64(q.ProtocolVersion))
		b = lenprefix.Append(b, q.RPCHeader.ID)
		b = lenprefix.Append(b, q.RPCHeader.Addr)
		b = binary.AppendUvarint(b, q.Term)
		b = lenprefix.Append(b, q.Leader)
	}
	return endFrame(b, start)
}

func appendReplyFrame(b []byte, replies []hbReply) []byte {
	start := len(b)
	b = beginFrame(b, hbKindReply, len(replies))
	for i := range replies {
		if msg := replies[i].err; msg != "" {
			if len(msg) > maxHeartbeatField {
				msg = msg[:maxHeartbeatField]
			}
			b = append(b, hbStatusError)
			b = lenprefix.Append(b, []byte(msg))
			continue
		}
		r := &replies[i].resp
		b = append(b, hbStatusOK)
		b = binary.AppendUvarint(b, uint64(r.ProtocolVersion))
		b = lenprefix.Append(b, r.RPCHeader.ID)
		b = lenprefix.Append(b, r.RPCHeader.Addr)
		b = binary.AppendUvarint(b, r.Term)
		b = binary.AppendUvarint(b, r.LastLog)
		var flags byte
		if r.Success {
			flags |= hbFlagSuccess
		}
		if r.NoRetryBackoff {
			flags |= hbFlagNoBackoff
		}
		b = append(b, flags)
	}
	return endFrame(b, start)
}

// readHeartbeatFrame reads one frame's body into buf.
func readHeartbeatFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxHeartbeatFrame {
		return buf, fmt.Errorf("%w: frame of %d bytes", ErrMalformedHeartbeat, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}

// hbDecoder reads a frame body; the first error sticks.
type hbDecoder struct {
	b   []byte
	err error
}

func (d *hbDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformedHeartbeat, what)
	}
}

func (d *hbDecoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *hbDecoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *hbDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *hbDecoder) version() raft.ProtocolVersion {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail("protocol version out of range")
	}
	return raft.ProtocolVersion(v)
}

// bytes returns a copy (nil when empty) of a length-prefixed string.
func (d *hbDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxHeartbeatField || n > uint64(len(d.b)) {
		d.fail("field too long")
		return nil
	}
	if n == 0 {
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

// header checks version and kind and returns the entry count.
func (d *hbDecoder) header(kind byte) int {
	if v := d.byte(); d.err == nil && v != hbFrameVersion {
		d.fail(fmt.Sprintf("version %d", v))
	}
	if k := d.byte(); d.err == nil && k != kind {
		d.fail(fmt.Sprintf("kind %d, want %d", k, kind))
	}
	n := d.uvarint()
	if d.err == nil && n > maxHeartbeatEntries {
		d.fail(fmt.Sprintf("%d entries", n))
	}
	return int(n)
}

func (d *hbDecoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// decodeRequestFrame decodes a request frame's body (network bytes).
func decodeRequestFrame(body []byte) ([]hbRequest, error) {
	d := &hbDecoder{b: body}
	n := d.header(hbKindRequest)
	var reqs []hbRequest
	for i := 0; i < n && d.err == nil; i++ {
		var r hbRequest
		r.group = d.uint64()
		r.req.ProtocolVersion = d.version()
		r.req.RPCHeader.ID = d.bytes()
		r.req.RPCHeader.Addr = d.bytes()
		r.req.Term = d.uvarint()
		r.req.Leader = d.bytes()
		reqs = append(reqs, r)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return reqs, nil
}

// decodeReplyFrame decodes a reply frame's body (network bytes).
func decodeReplyFrame(body []byte) ([]hbReply, error) {
	d := &hbDecoder{b: body}
	n := d.header(hbKindReply)
	var replies []hbReply
	for i := 0; i < n && d.err == nil; i++ {
		var r hbReply
		switch d.byte() {
		case hbStatusOK:
			r.resp.ProtocolVersion = d.version()
			r.resp.RPCHeader.ID = d.bytes()
			r.resp.RPCHeader.Addr = d.bytes()
			r.resp.Term = d.uvarint()
			r.resp.LastLog = d.uvarint()
			flags := d.byte()
			if flags&^(hbFlagSuccess|hbFlagNoBackoff) != 0 {
				d.fail("unknown flags")
			}
			r.resp.Success, r.resp.NoRetryBackoff = flags&hbFlagSuccess != 0, flags&hbFlagNoBackoff != 0
		case hbStatusError:
			r.err = string(d.bytes())
			if r.err == "" {
				d.fail("empty error")
			}
		default:
			d.fail("unknown status")
		}
		replies = append(replies, r)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return replies, nil
}
