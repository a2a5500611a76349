package raftnet

import (
	"errors"
	"fmt"
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
	t := &HeartbeatTransport{VoteTransport: NewVoteTransport(nt), hub: h, group: group, addrs: addrs}
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
