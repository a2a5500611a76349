package raftnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// WatchGroup is the mux route of PeerWatch connections, a group id no
// table can have (below probeBit, like every group but HeartbeatGroup).
const WatchGroup uint64 = probeBit - 1

// watchFirstRedial and watchRedial bound the pause between connection
// attempts to a peer: short at first (a cluster starting, a peer
// restarting), then at most a second.
const (
	watchFirstRedial = 20 * time.Millisecond
	watchRedial      = time.Second
)

// PeerWatch keeps one idle connection to every peer node's port and reports
// a peer whose process is gone: its connection ends (the kernel closes the
// sockets of a killed process at once) and a new one is refused, because
// nothing listens on its port any more. Raft alone would notice only when a
// failure-detection timeout passes without heartbeats; this lets followers
// of the dead node's groups elect after the (shorter) lease timeout. A
// connection refused by a firewall or a proxy looks the same: that only
// makes the followers' elections earlier, which raft's pre-vote keeps from
// disturbing a live leader.
type PeerWatch struct {
	mux    *Mux
	lg     *zap.Logger
	onDown func(id string)
	onUp   func(id string)
	sl     interface {
		Accept() (net.Conn, error)
		Close() error
	}

	mu     sync.Mutex
	peers  map[string]chan struct{} // id -> stop
	held   map[net.Conn]struct{}    // accepted connections
	closed bool
	wg     sync.WaitGroup
}

// NewPeerWatch registers the watch route on mux and calls onDown (in its
// own goroutine) with a peer's id when the peer's process is gone, and
// onUp (may be nil) when a peer reported gone is back.
func NewPeerWatch(mux *Mux, onDown, onUp func(id string), lg *zap.Logger) (*PeerWatch, error) {
	sl, err := mux.StreamLayer(WatchGroup)
	if err != nil {
		return nil, fmt.Errorf("peer watch: %w", err)
	}
	w := &PeerWatch{mux: mux, lg: lg.With(zap.String("component", "peerwatch")), onDown: onDown, onUp: onUp, sl: sl, peers: map[string]chan struct{}{}, held: map[net.Conn]struct{}{}}
	w.wg.Add(1)
	go w.acceptLoop()
	return w, nil
}

// Watch starts watching node id at addr; watching an id again is a no-op.
func (w *PeerWatch) Watch(id, addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.peers[id] != nil {
		return
	}
	stop := make(chan struct{})
	w.peers[id] = stop
	w.wg.Add(1)
	go w.watch(id, addr, stop)
}

// Unwatch stops watching node id.
func (w *PeerWatch) Unwatch(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if stop := w.peers[id]; stop != nil {
		close(stop)
		delete(w.peers, id)
	}
}

// Close stops every watch and the accept side.
func (w *PeerWatch) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	for id, stop := range w.peers {
		close(stop)
		delete(w.peers, id)
	}
	// Closing what others hold open tells them this node is stopping, as
	// a process exit would.
	for conn := range w.held {
		conn.Close()
	}
	w.mu.Unlock()
	err := w.sl.Close()
	w.wg.Wait()
	return err
}

// acceptLoop holds the watch connections of other nodes open until they
// end; nothing is ever sent on them.
func (w *PeerWatch) acceptLoop() {
	defer w.wg.Done()
	for {
		conn, err := w.sl.Accept()
		if err != nil {
			return
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			conn.Close()
			return
		}
		w.held[conn] = struct{}{}
		w.mu.Unlock()
		go func() {
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
			w.mu.Lock()
			delete(w.held, conn)
			w.mu.Unlock()
		}()
	}
}

// watch connects to the peer and waits for the connection to end, again
// and again; a connection refused right after one ended (or after one was
// ever made) means the process is gone.
func (w *PeerWatch) watch(id, addr string, stop <-chan struct{}) {
	defer w.wg.Done()
	connected, reported := false, false
	pause := watchFirstRedial
	for {
		select {
		case <-stop:
			return
		default:
		}
		conn, err := dialRaft(addr, WatchGroup, WatchGroup, ProbeTimeout, w.mux.dialTLS)
		switch {
		case err == nil:
			if reported && w.onUp != nil {
				w.lg.Info("peer is back", zap.String("peer", id), zap.String("addr", addr))
				go w.onUp(id)
			}
			connected, reported, pause = true, false, watchFirstRedial
			w.hold(conn, stop)
			continue // ended: look again at once
		case connected && !reported && isRefused(err):
			reported = true
			w.lg.Info("peer's port refuses connections: its process is gone", zap.String("peer", id), zap.String("addr", addr))
			go w.onDown(id)
		}
		select {
		case <-stop:
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, watchRedial)
	}
}

// hold blocks until conn ends or stop closes.
func (w *PeerWatch) hold(conn net.Conn, stop <-chan struct{}) {
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(ended)
	}()
	select {
	case <-ended:
	case <-stop:
	}
	conn.Close()
	<-ended
}

// isRefused reports a connection refused or reset by the peer's host.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
