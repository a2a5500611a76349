package raftnet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// The receiving side of the hub: it accepts other nodes' heartbeat
// connections on the HeartbeatGroup route, answers their frames one at a
// time, and hands each heartbeat to its group's raft as NetworkTransport's
// heartbeat fast path would.

// acceptLoop serves every heartbeat connection the mux hands the hub.
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
