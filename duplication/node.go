package duplication

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Node is duplication's part of one tandem node: the source side it serves
// to remote clusters, the pullers of the follower partitions it leads, and
// the upkeep of floors, base pins, retention caps and metrics.
type Node struct {
	cfg       Config
	lg        *zap.Logger
	met       *Metrics
	reboots   *rebootstrapGauge
	source    *Source
	followers *followers

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
}

// peers lists this cluster's nodes now (Config.Members), or the nodes it
// started with.
func (n *Node) peers() []Peer { return peersOf(&n.cfg) }

// sourceAddrs lists the addresses remote clusters reach this cluster's
// nodes at now.
func (n *Node) sourceAddrs() []string {
	if n.cfg.Members == nil {
		return n.cfg.SourceAddrs
	}
	var out []string
	for _, p := range n.peers() {
		out = append(out, p.Addr)
	}
	return out
}

// NewNode returns a node's duplication work; Start runs it.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, lg: cfg.Logger, met: NewMetrics(), reboots: newRebootstrapGauge(),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	n.source = newSource(&n.cfg, n.met)
	n.followers = newFollowers(&n.cfg, n.met)
	return n, nil
}

// Source is the pull API this node serves to remote clusters.
func (n *Node) Source() tpb.DuplicationServer { return n.source }

// Collectors lists the metrics to register.
func (n *Node) Collectors() []prometheus.Collector {
	return append(n.met.Collectors(), n.reboots.g)
}

// LeaderChanged tells duplication that a replica of this node saw its
// group's leader change (replica.Config.OnLeaderChange), so pullers start
// or stop at once. It does not block.
func (n *Node) LeaderChanged() { n.poke() }

// MetaChanged tells duplication that the metadata changed (a follower
// table created or detached), so pullers start or stop at once. It does
// not block.
func (n *Node) MetaChanged() { n.poke() }

func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Start runs the node's duplication work until Close.
func (n *Node) Start() {
	n.startOnce.Do(func() { go n.run() })
}

// Close stops the work and every puller, and waits for them.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.startOnce.Do(func() { close(n.done) }) // never started
		<-n.done
		n.followers.close()
	})
}

// run keeps pullers in step with leadership and metadata, at once on a
// change and every Refresh to be sure, and every Refresh releases what
// removed duplications hold, pushes retention caps and refreshes gauges.
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
		n.followers.sync()
		if refresh {
			n.release()
			n.observe()
		}
	}
}
