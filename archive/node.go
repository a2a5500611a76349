package archive

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Node is the archive's part of one tandem node: an archiver for each
// partition of an archived table it leads, the release of removed
// archives' floors, status and the operator's commands.
type Node struct {
	cfg Config
	lg  *zap.Logger

	mu        sync.Mutex
	archivers map[archKey]*archiver
	// uploads lets one base upload run at a time on this node: parallel
	// multipart uploads only contend for the same link and store.
	uploads chan struct{}

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
}

// archKey names one archiver: an archive and a raft group of this node.
type archKey struct {
	id    string
	table string
	p     uint32
}

// NewNode returns a node's archive work; Start runs it.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, lg: cfg.Logger, archivers: map[archKey]*archiver{}, uploads: make(chan struct{}, 1),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Changed tells the archive that leadership or the metadata changed, so
// archivers start or stop at once. It does not block.
func (n *Node) Changed() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Start runs the node's archive work until Close.
func (n *Node) Start() { n.startOnce.Do(func() { go n.run() }) }

// Close stops every archiver and waits for them.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.startOnce.Do(func() { close(n.done) })
		<-n.done
		n.mu.Lock()
		defer n.mu.Unlock()
		for k, a := range n.archivers {
			close(a.stop)
			<-a.done
			delete(n.archivers, k)
		}
	})
}

func (n *Node) run() {
	defer close(n.done)
	tick := time.NewTicker(n.cfg.Refresh)
	defer tick.Stop()
	for {
		refresh := false
		select {
		case <-n.stop:
			return
		case <-n.wake:
		case <-tick.C:
			refresh = true
		}
		if !n.cfg.Ready() {
			continue
		}
		n.sync()
		if refresh {
			n.release()
		}
	}
}

// sync starts an archiver for every active archive's partition this node
// leads and stops the others.
func (n *Node) sync() {
	want := map[archKey]Replica{}
	infos := map[archKey]Info{}
	byTable := map[string]Info{}
	for _, a := range n.cfg.Meta.Archives() {
		if a.State == StateActive {
			byTable[a.Table] = a
		}
	}
	for _, r := range n.cfg.Replicas.All() {
		ri := r.Info()
		a, ok := byTable[ri.Table]
		if !ok || !r.IsLeader() {
			continue
		}
		k := archKey{a.ID, ri.Table, ri.Partition}
		want[k], infos[k] = r, a
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, a := range n.archivers {
		if r, ok := want[k]; !ok || r != a.r {
			close(a.stop)
			<-a.done
			delete(n.archivers, k)
		}
	}
	for k, r := range want {
		if _, ok := n.archivers[k]; !ok {
			a := newArchiver(&n.cfg, n.uploads, infos[k], r)
			n.archivers[k] = a
			go a.run()
		}
	}
}

// release drops the floors of removed archives on the partitions this
// node leads; only archives the metadata lists as removed are released.
func (n *Node) release() {
	removed := map[string]bool{}
	for _, id := range n.cfg.Meta.Removed() {
		removed[FloorID(id)] = true
	}
	for _, r := range n.cfg.Replicas.All() {
		if !r.IsLeader() {
			continue
		}
		for id := range r.Confirmed() {
			if !strings.HasPrefix(id, floorPrefix) || !removed[id] {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := r.ProposeDupRelease(ctx, id)
			cancel()
			if err != nil {
				n.lg.Debug("release archive floor", zap.String("floor", id), zap.Error(err))
				continue
			}
			n.lg.Info("archive floor released", zap.String("floor", id), zap.String("table", r.Info().Table), zap.Uint32("partition", r.Info().Partition))
		}
	}
}
