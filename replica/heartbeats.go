package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Heartbeat coalescing. Every group's leader sends each follower an empty
// AppendEntries every HeartbeatTimeout/10 to /5; with hundreds of groups on
// three nodes that is thousands of tiny RPCs a second, each a syscall pair
// on its own connection and goroutine wake-ups on both sides. The node's
// HeartbeatHub gathers the heartbeats of all groups going to the same node
// into one frame on one connection (CockroachDB's coalesced heartbeats);
// everything else a group sends stays on its own NetworkTransport.

// HeartbeatGroup is the mux route reserved for heartbeat connections: they
// take the raft handshake (and TLS) like a group's, under a group id no
// table can have.
const HeartbeatGroup uint64 = math.MaxUint64

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

var (
	// ErrHeartbeatRefused is returned for a heartbeat the destination node
	// could not deliver: the group is not open there, or not started.
	ErrHeartbeatRefused = errors.New("replica: heartbeat refused")
	// ErrMalformedHeartbeat is returned when a heartbeat frame cannot be
	// decoded.
	ErrMalformedHeartbeat = errors.New("replica: malformed heartbeat frame")
)

// HubConfig configures a node's HeartbeatHub.
type HubConfig struct {
	Mux *Mux
	// Window is how long a periodic heartbeat may wait for others going to
	// the same node, so that several groups share a frame.
	Window time.Duration
	// FrameTimeout bounds a frame's dial, write and reply; past it every
	// heartbeat of the frame fails and the connection is redialled.
	FrameTimeout time.Duration
	Logger       *zap.Logger
}

// HubConfig returns the heartbeat hub settings that suit groups with
// timing t. The window is HeartbeatTimeout/40 (25ms at 1s): heartbeats go
// out every HeartbeatTimeout/10 to /5, so the window stretches that by at
// most an eighth while the groups led by one node to one follower share
// about a tenth as many frames as heartbeats. The frame timeout is one
// HeartbeatTimeout: a heartbeat later than that is useless, followers have
// started an election by then.
func (t RaftTiming) HubConfig(mux *Mux, lg *zap.Logger) HubConfig {
	return HubConfig{Mux: mux, Window: t.HeartbeatTimeout / 40, FrameTimeout: t.HeartbeatTimeout, Logger: lg}
}

// Validate reports a missing or inconsistent field.
func (c HubConfig) Validate() error {
	switch {
	case c.Mux == nil || c.Logger == nil:
		return errors.New("heartbeat hub config: Mux and Logger are required")
	case c.Window < 0 || c.FrameTimeout <= 0:
		return fmt.Errorf("heartbeat hub config: window %s and frame timeout %s", c.Window, c.FrameTimeout)
	}
	return nil
}

// HeartbeatHub carries the raft heartbeats of every data group of a node:
// one connection per destination node for sending, and on the receiving
// side a dispatch to each group's heartbeat handler. One per process.
type HeartbeatHub struct {
	cfg HubConfig
	lg  *zap.Logger
	sl  raft.StreamLayer

	mu     sync.Mutex
	groups map[uint64]*HeartbeatTransport
	peers  map[string]*hbPeer
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup

	heartbeats   atomic.Uint64
	frames       atomic.Uint64
	failedFrames atomic.Uint64
}

// NewHeartbeatHub registers the hub's route on the mux and starts serving
// heartbeat frames from other nodes.
func NewHeartbeatHub(cfg HubConfig) (*HeartbeatHub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sl, err := cfg.Mux.StreamLayer(HeartbeatGroup)
	if err != nil {
		return nil, fmt.Errorf("heartbeat hub: %w", err)
	}
	h := &HeartbeatHub{
		cfg: cfg, lg: cfg.Logger.With(zap.String("component", "heartbeats")), sl: sl,
		groups: map[uint64]*HeartbeatTransport{}, peers: map[string]*hbPeer{}, conns: map[net.Conn]struct{}{},
		done: make(chan struct{}),
	}
	h.wg.Add(1)
	go h.acceptLoop()
	return h, nil
}

// HubStats counts what a hub sent.
type HubStats struct {
	// Heartbeats is the number of heartbeats sent in frames.
	Heartbeats uint64
	// Frames is the number of frames sent (each answered or failed).
	Frames uint64
	// FailedFrames is the number of frames that got no reply in time.
	FailedFrames uint64
}

// Stats reports the hub's counters.
func (h *HeartbeatHub) Stats() HubStats {
	return HubStats{Heartbeats: h.heartbeats.Load(), Frames: h.frames.Load(), FailedFrames: h.failedFrames.Load()}
}

// Collectors exposes the hub's counters to a Prometheus registry.
func (h *HeartbeatHub) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		counter("tandem_raft_heartbeats_sent_total", "Raft heartbeats sent through the node's heartbeat hub.", &h.heartbeats),
		counter("tandem_raft_heartbeat_frames_sent_total", "Frames of coalesced raft heartbeats sent.", &h.frames),
		counter("tandem_raft_heartbeat_frames_failed_total", "Frames of coalesced raft heartbeats that failed (no reply in time, connection lost).", &h.failedFrames),
	}
}

// Expedite sends the queued and coming heartbeats of group at once rather
// than after the window: a linearizable read is waiting on them
// (VerifyLeader). It holds for one heartbeat interval (HeartbeatTimeout/10,
// the frame timeout's tenth), long enough for raft to act on the request.
func (h *HeartbeatHub) Expedite(group uint64) {
	h.mu.Lock()
	t := h.groups[group]
	peers := make([]*hbPeer, 0, len(h.peers))
	for _, p := range h.peers {
		peers = append(peers, p)
	}
	h.mu.Unlock()
	if t == nil {
		return
	}
	t.expediteUntil.Store(time.Now().Add(h.cfg.FrameTimeout / 10).UnixNano())
	for _, p := range peers {
		p.expedite(group)
	}
}

// Close stops the hub: queued heartbeats fail, connections close.
func (h *HeartbeatHub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	err := h.sl.Close()
	h.wg.Wait()
	return err
}

// Transport wraps a group's NetworkTransport so its heartbeats go through
// the hub. addrs resolves follower ids to dial addresses as the
// NetworkTransport's ServerAddressProvider does (nil: raft's address).
func (h *HeartbeatHub) Transport(group uint64, nt *raft.NetworkTransport, addrs raft.ServerAddressProvider) (*HeartbeatTransport, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if _, ok := h.groups[group]; ok {
		return nil, fmt.Errorf("heartbeat hub: group %d: %w", group, ErrGroupExists)
	}
	t := &HeartbeatTransport{NetworkTransport: nt, hub: h, group: group, addrs: addrs}
	h.groups[group] = t
	return t, nil
}

func (h *HeartbeatHub) unregister(t *HeartbeatTransport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.groups[t.group] == t {
		delete(h.groups, t.group)
	}
}

// HeartbeatTransport is a group's raft transport: its NetworkTransport for
// everything but heartbeats, which go through the node's HeartbeatHub.
// Embedding forwards every optional interface the NetworkTransport has
// (raft.WithClose, raft.WithPreVote): raft checks for them by type
// assertion, and a wrapper without them would silently turn off pre-vote.
type HeartbeatTransport struct {
	*raft.NetworkTransport
	hub   *HeartbeatHub
	group uint64
	addrs raft.ServerAddressProvider

	handler       atomic.Pointer[func(raft.RPC)]
	expediteUntil atomic.Int64
	closeOnce     sync.Once
	// acks are the heartbeats followers accepted, for read leases.
	acks heartbeatAcks
}

// groupTransport is what a replica needs of its raft transport: a
// NetworkTransport, or a HeartbeatTransport around one.
type groupTransport interface {
	raft.Transport
	raft.WithClose
}

var (
	_ groupTransport   = (*HeartbeatTransport)(nil)
	_ raft.Transport   = (*HeartbeatTransport)(nil)
	_ raft.WithClose   = (*HeartbeatTransport)(nil)
	_ raft.WithPreVote = (*HeartbeatTransport)(nil)
)

// isHeartbeat tells a heartbeat from other AppendEntries exactly as
// hashicorp's NetworkTransport does on receipt, so every request it would
// hand its heartbeat fast path goes through the hub and nothing else does.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	leader := req.RPCHeader.Addr
	if len(leader) == 0 {
		leader = req.Leader
	}
	return req.Term != 0 && leader != nil && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

// AppendEntries sends heartbeats through the hub and everything else over
// the group's own connections.
func (t *HeartbeatTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if !isHeartbeat(req) {
		return t.NetworkTransport.AppendEntries(id, target, req, resp)
	}
	sent := time.Now()
	err := t.heartbeat(id, target, req, resp, sent)
	if err == nil && resp.Success && resp.Term == req.Term {
		t.acks.record(id, req.Term, sent)
	}
	return err
}

// heartbeat sends one heartbeat through the hub when it can.
func (t *HeartbeatTransport) heartbeat(id raft.ServerID, target raft.ServerAddress, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, now time.Time) error {
	if !fitsFrame(req) {
		return t.NetworkTransport.AppendEntries(id, target, req, resp)
	}
	addr := target
	if t.addrs != nil {
		if a, err := t.addrs.ServerAddr(id); err == nil {
			addr = a
		}
	}
	urgent := now.UnixNano() < t.expediteUntil.Load()
	err := t.hub.heartbeat(string(addr), t.group, req, resp, urgent)
	if errors.Is(err, ErrUnknownGroup) {
		// The destination runs no hub (an older node): heartbeat the
		// plain way.
		return t.NetworkTransport.AppendEntries(id, target, req, resp)
	}
	return err
}

// fitsFrame reports whether a heartbeat's fields fit the frame format.
func fitsFrame(req *raft.AppendEntriesRequest) bool {
	return len(req.RPCHeader.ID) <= maxHeartbeatField && len(req.RPCHeader.Addr) <= maxHeartbeatField &&
		len(req.Leader) <= maxHeartbeatField && req.ProtocolVersion >= 0
}

// SetHeartbeatHandler keeps raft's heartbeat fast path for the hub and
// passes it on, so heartbeats that still come the plain way are served too.
func (t *HeartbeatTransport) SetHeartbeatHandler(cb func(raft.RPC)) {
	if cb == nil {
		t.handler.Store(nil)
	} else {
		t.handler.Store(&cb)
	}
	t.NetworkTransport.SetHeartbeatHandler(cb)
}

// Close leaves the hub and closes the NetworkTransport; it is idempotent.
func (t *HeartbeatTransport) Close() error {
	t.closeOnce.Do(func() { t.hub.unregister(t) })
	return t.NetworkTransport.Close()
}

// hbCall is one heartbeat waiting for its frame.
type hbCall struct {
	group uint64
	req   *raft.AppendEntriesRequest
	resp  *raft.AppendEntriesResponse
	at    time.Time
	done  chan error
}

func (h *HeartbeatHub) heartbeat(addr string, group uint64, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, urgent bool) error {
	p, err := h.peer(addr)
	if err != nil {
		return err
	}
	c := &hbCall{group: group, req: req, resp: resp, at: time.Now(), done: make(chan error, 1)}
	if !p.enqueue(c, urgent) {
		return ErrClosed
	}
	return <-c.done
}

// peer returns the sender for addr, starting it on first use.
func (h *HeartbeatHub) peer(addr string) (*hbPeer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	p := h.peers[addr]
	if p == nil {
		p = &hbPeer{hub: h, addr: addr, kick: make(chan struct{}, 1)}
		h.peers[addr] = p
		h.wg.Add(1)
		go p.run()
	}
	return p, nil
}

// hbPeer sends the heartbeats for one destination address, one frame at a
// time on its own connection, so a slow destination delays only its own.
type hbPeer struct {
	hub  *HeartbeatHub
	addr string
	kick chan struct{}

	mu     sync.Mutex
	queue  []*hbCall
	urgent bool
	closed bool

	// Only run's goroutine uses these.
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func (p *hbPeer) enqueue(c *hbCall, urgent bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.queue = append(p.queue, c)
	if urgent || len(p.queue) == 1 || len(p.queue) >= maxHeartbeatEntries {
		p.urgent = p.urgent || urgent
		p.signal()
	}
	return true
}

func (p *hbPeer) expedite(group uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.queue {
		if c.group == group {
			p.urgent = true
			p.signal()
			return
		}
	}
}

func (p *hbPeer) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *hbPeer) run() {
	defer p.hub.wg.Done()
	defer p.shutdown()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch := p.next(timer)
		if batch == nil {
			return
		}
		p.send(batch)
	}
}

// next waits until the oldest queued heartbeat has waited the window, or
// one is urgent, and takes a frame's worth; nil once the hub closes.
func (p *hbPeer) next(timer *time.Timer) []*hbCall {
	for {
		p.mu.Lock()
		wait := time.Duration(-1)
		if n := len(p.queue); n > 0 {
			wait = p.hub.cfg.Window - time.Since(p.queue[0].at)
			if p.urgent || wait <= 0 || n >= maxHeartbeatEntries {
				k := min(n, maxHeartbeatEntries)
				batch := append([]*hbCall(nil), p.queue[:k]...)
				p.queue = append(p.queue[:0], p.queue[k:]...)
				p.urgent = p.urgent && len(p.queue) > 0
				p.mu.Unlock()
				return batch
			}
		}
		p.mu.Unlock()
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-p.kick:
		case <-tick:
		case <-p.hub.done:
			timer.Stop()
			return nil
		}
		timer.Stop()
	}
}

// send writes one frame and answers each heartbeat of it: with its reply,
// or, when the frame fails, with the frame's error.
func (p *hbPeer) send(batch []*hbCall) {
	p.hub.frames.Add(1)
	p.hub.heartbeats.Add(uint64(len(batch)))
	replies, err := p.roundTrip(batch)
	if err != nil {
		p.hub.failedFrames.Add(1)
		if p.conn != nil {
			p.hub.lg.Debug("heartbeat connection dropped", zap.String("peer", p.addr), zap.Error(err))
			p.hub.untrack(p.conn)
			p.conn = nil
		}
		err = fmt.Errorf("heartbeats to %s: %w", p.addr, err)
		for _, c := range batch {
			c.done <- err
		}
		return
	}
	for i, c := range batch {
		if replies[i].err != "" {
			c.done <- fmt.Errorf("%w: %s", ErrHeartbeatRefused, replies[i].err)
			continue
		}
		*c.resp = replies[i].resp
		c.done <- nil
	}
}

func (p *hbPeer) roundTrip(batch []*hbCall) ([]hbReply, error) {
	deadline := time.Now().Add(p.hub.cfg.FrameTimeout)
	if p.conn == nil {
		conn, err := p.hub.sl.Dial(raft.ServerAddress(p.addr), p.hub.cfg.FrameTimeout)
		if err != nil {
			return nil, err
		}
		if !p.hub.track(conn) {
			return nil, ErrClosed
		}
		p.hub.lg.Debug("heartbeat connection dialled", zap.String("peer", p.addr))
		p.conn, p.r = conn, bufio.NewReader(conn)
	}
	if err := p.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	reqs := make([]hbRequest, len(batch))
	for i, c := range batch {
		reqs[i] = hbRequest{group: c.group, req: *c.req}
	}
	p.buf = appendRequestFrame(p.buf[:0], reqs)
	if _, err := p.conn.Write(p.buf); err != nil {
		return nil, timeoutErr(err)
	}
	var err error
	if p.buf, err = readHeartbeatFrame(p.r, p.buf[:0]); err != nil {
		return nil, timeoutErr(err)
	}
	replies, err := decodeReplyFrame(p.buf)
	if err != nil {
		return nil, err
	}
	if len(replies) != len(batch) {
		return nil, fmt.Errorf("%w: %d replies to %d heartbeats", ErrMalformedHeartbeat, len(replies), len(batch))
	}
	return replies, nil
}

// timeoutErr marks a deadline hit as ErrTimeout.
func timeoutErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: no reply within the frame timeout: %v", ErrTimeout, err)
	}
	return err
}

// shutdown fails whatever is still queued once the hub closes.
func (p *hbPeer) shutdown() {
	if p.conn != nil {
		p.hub.untrack(p.conn)
	}
	p.mu.Lock()
	p.closed = true
	queue := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, c := range queue {
		c.done <- ErrClosed
	}
}

// track records a connection for Close; false if the hub is closed.
func (h *HeartbeatHub) track(conn net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		conn.Close()
		return false
	}
	h.conns[conn] = struct{}{}
	return true
}

func (h *HeartbeatHub) untrack(conn net.Conn) {
	h.mu.Lock()
	delete(h.conns, conn)
	h.mu.Unlock()
	conn.Close()
}

func (h *HeartbeatHub) acceptLoop() {
	defer h.wg.Done()
	for {
		conn, err := h.sl.Accept()
		if err != nil {
			return
		}
		if !h.track(conn) {
			return
		}
		h.lg.Debug("heartbeat connection accepted", zap.Stringer("remote", conn.RemoteAddr()))
		h.wg.Add(1)
		go h.serve(conn)
	}
}

// serve answers the frames of one sending node, one at a time.
func (h *HeartbeatHub) serve(conn net.Conn) {
	defer h.wg.Done()
	defer h.untrack(conn)
	r := bufio.NewReader(conn)
	var buf []byte
	for {
		var err error
		// No read deadline: the connection idles between frames, and the
		// sender closes it on failure.
		if buf, err = readHeartbeatFrame(r, buf[:0]); err != nil {
			if !errors.Is(err, io.EOF) {
				h.lg.Debug("heartbeat connection closed", zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
			}
			return
		}
		reqs, err := decodeRequestFrame(buf)
		if err != nil {
			h.lg.Warn("bad heartbeat frame", zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
			return
		}
		replies := make([]hbReply, len(reqs))
		for i := range reqs {
			replies[i] = h.deliver(&reqs[i])
		}
		buf = appendReplyFrame(buf[:0], replies)
		_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.FrameTimeout))
		if _, err := conn.Write(buf); err != nil {
			h.lg.Debug("heartbeat reply failed", zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
			return
		}
	}
}

// deliver hands one heartbeat to its group's raft, as NetworkTransport's
// fast path does. raft's processHeartbeat answers before it returns, or
// not at all when the group is shutting down.
func (h *HeartbeatHub) deliver(r *hbRequest) hbReply {
	h.mu.Lock()
	t := h.groups[r.group]
	h.mu.Unlock()
	if t == nil {
		return hbReply{err: fmt.Sprintf("raft group %d is not open on this node", r.group)}
	}
	fn := t.handler.Load()
	if fn == nil {
		return hbReply{err: fmt.Sprintf("raft group %d has not started", r.group)}
	}
	ch := make(chan raft.RPCResponse, 1)
	(*fn)(raft.RPC{Command: &r.req, RespChan: ch})
	select {
	case resp := <-ch:
		if resp.Error != nil {
			return hbReply{err: resp.Error.Error()}
		}
		if ar, ok := resp.Response.(*raft.AppendEntriesResponse); ok {
			return hbReply{resp: *ar}
		}
		return hbReply{err: fmt.Sprintf("raft group %d answered %T", r.group, resp.Response)}
	default:
		return hbReply{err: fmt.Sprintf("raft group %d is shutting down", r.group)}
	}
}

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
		b = appendBytes(b, q.RPCHeader.ID)
		b = appendBytes(b, q.RPCHeader.Addr)
		b = binary.AppendUvarint(b, q.Term)
		b = appendBytes(b, q.Leader)
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
			b = appendBytes(b, []byte(msg))
			continue
		}
		r := &replies[i].resp
		b = append(b, hbStatusOK)
		b = binary.AppendUvarint(b, uint64(r.ProtocolVersion))
		b = appendBytes(b, r.RPCHeader.ID)
		b = appendBytes(b, r.RPCHeader.Addr)
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
