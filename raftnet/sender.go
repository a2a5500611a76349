package raftnet

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// The sending side of the hub: one send loop per destination node gathers
// the heartbeats queued for it during the window into a frame, writes it,
// and answers each heartbeat with its entry of the reply frame.

// hbCall is one heartbeat waiting for its frame.
type hbCall struct {
	group uint64
	req   *raft.AppendEntriesRequest
	resp  *raft.AppendEntriesResponse
	at    time.Time
	done  chan error
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
