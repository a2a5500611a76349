package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/tandem-kv/tandem/archive"
	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/duplication"
	"github.com/tandem-kv/tandem/logdb"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/raftnet"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
)

// Node is one tandem-server process: the shared RocksDB resources and raft
// log, the mux on the node's one port, the meta group, the partition
// replicas placed on this node, and the gRPC and HTTP services.
type Node struct {
	cfg   Config
	lg    *zap.Logger
	peers []Peer
	// book resolves node ids to addresses (--peers, then the registry).
	book *addressBook
	// live is the meta leader's view of nodes' heartbeats.
	live *liveness
	// movesDone counts the replica moves this node finished as meta leader.
	movesDone atomic.Int64
	// rounds counts the membership rounds this node ran as meta leader.
	rounds atomic.Int64
	// unevenSince is when the leader balancer first saw the leaders
	// uneven (zero: even); only the membership loop uses it.
	unevenSince time.Time
	unevenTerm  uint64
	// removed is set once the registry says this node was removed: it
	// stops serving (refuseIfRemoved) and reports not ready.
	removed atomic.Bool

	shared *rocksdb.Shared
	logDB  *logdb.DB
	mux    *raftnet.Mux
	hub    *raftnet.HeartbeatHub
	watch  *raftnet.PeerWatch
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	httpLn net.Listener
	status *statusHistory // the status page's sampled history (statushistory.go)
	meta   *metaGroup
	conns  *connPool
	met    *metrics
	sched  *checkpoint.Scheduler

	dup *duplication.Node
	// archive is the node's archive work (issue 16).
	archive *archive.Node

	mu       sync.RWMutex
	replicas map[uint64]*replica.Replica
	runtime  atomic.Pointer[runtimeConfig]

	ready atomic.Bool
	stop  chan struct{}
	wg    sync.WaitGroup
	// loops tracks the reconcile loop, which opens and closes replicas:
	// Close waits for it (and stops duplication's work) before closing
	// replicas, so none is opened or used behind its back.
	loops   sync.WaitGroup
	closeMu sync.Once
}

// NewNode opens the node's storage, joins its raft groups and starts
// serving. It returns once the node listens; Ready reports when it serves.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, lg: cfg.Logger.With(zap.String("node", cfg.NodeID)), replicas: map[uint64]*replica.Replica{}, stop: make(chan struct{})}
	rc := effectiveConfig(nil)
	n.runtime.Store(&rc)
	if err := n.open(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open() error {
	if err := os.MkdirAll(filepath.Join(n.cfg.DataDir, "replicas"), 0o755); err != nil {
		return err
	}
	if err := checkIdentity(n.cfg.DataDir, identityOf(n.cfg, n.cfg.peers(n.cfg.Addr))); err != nil {
		return err
	}
	// Leaders' read leases count on a node not voting for anyone else for a
	// lease timeout after it last accepted their heartbeat, and a restarted
	// node would vote at once: one with raft state waits that long before
	// it takes part in raft again (replica/lease.go).
	if _, err := os.Stat(filepath.Join(n.cfg.DataDir, "raftlog")); err == nil {
		time.Sleep(n.cfg.Raft.LeaderLeaseTimeout)
	}
	ln := n.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", n.cfg.Addr, err)
		}
	}
	n.mux = n.newMux(ln)
	n.peers = n.cfg.peers(n.Addr())
	n.book = newAddressBook(n.peers)
	n.live = newLiveness()
	var err error
	// Data groups' heartbeats to a node share one connection and frame
	// (the meta group keeps its own transport).
	if n.hub, err = raftnet.NewHeartbeatHub(n.cfg.Raft.HubConfig(n.mux, n.lg)); err != nil {
		return err
	}
	if n.watch, err = raftnet.NewPeerWatch(n.mux, n.peerDown, n.peerUp, n.lg); err != nil {
		return err
	}
	for _, p := range n.peers {
		if p.ID != n.cfg.NodeID {
			n.watch.Watch(p.ID, p.Addr)
		}
	}
	if n.shared, err = rocksdb.NewShared(n.cfg.RocksDB); err != nil {
		return err
	}
	if n.logDB, err = logdb.Open(filepath.Join(n.cfg.DataDir, "raftlog"), n.shared); err != nil {
		return err
	}
	n.sched = checkpoint.NewScheduler(checkpoint.SchedulerConfig{Policy: n.limits().Checkpoint, Now: n.cfg.Now, Logger: n.lg})
	if n.dup, err = n.newDuplication(); err != nil {
		return err
	}
	if n.archive, err = n.newArchive(); err != nil {
		return err
	}
	n.met = newMetrics(n)
	n.conns = newConnPool(n.dialOptions()...)
	if n.cfg.Join != "" {
		// Ask to be registered before the meta group opens: the leader adds
		// this node to it and catches it up.
		_, statErr := os.Stat(filepath.Join(n.cfg.DataDir, "meta", "joined"))
		if err := n.join(statErr == nil); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(n.cfg.DataDir, "meta"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(n.cfg.DataDir, "meta", "joined"), nil, 0o644); err != nil {
			return err
		}
	}
	if n.meta, err = openMetaGroup(n.cfg, n.peers, n.book, n.mux, n.logDB, n.lg); err != nil {
		return fmt.Errorf("open meta group: %w", err)
	}
	n.meta.watch(n.onRegistryChange)
	n.onRegistryChange()
	// Serve only now: every KV and Admin call reads the meta group, and a
	// client retrying against a restarting node must not find it nil.
	n.startGRPC()
	if err := n.startHTTP(); err != nil {
		return err
	}
	n.loops.Add(2)
	go n.reconcileLoop()
	go n.membershipLoop()
	n.startDuplication()
	n.startArchive()
	return nil
}

func (n *Node) startGRPC() {
	n.grpc = grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.MaxSendMsgSize(maxMessageBytes),
		grpc.ChainUnaryInterceptor(n.met.unaryInterceptor, n.refuseIfRemoved),
		// Long-lived workers serve the calls: a fresh goroutine per call
		// grows its stack on the way through the handlers (stack copying
		// was a tenth of a node's CPU profile under a read load).
		grpc.NumStreamWorkers(uint32(4 * runtime.GOMAXPROCS(0))),
	}, append(n.securityServerOptions(), keepaliveServerOptions()...)...)...)
	tpb.RegisterKVServer(n.grpc, &kvService{n: n})
	tpb.RegisterAdminServer(n.grpc, &adminService{n: n})
	tpb.RegisterDuplicationServer(n.grpc, n.dup.Source())
	n.registerOps()
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		if err := n.mux.Serve(); err != nil {
			n.lg.Error("mux stopped", zap.Error(err))
		}
	}()
	go func() {
		defer n.wg.Done()
		_ = n.grpc.Serve(n.mux.GRPCListener())
	}()
}

// Addr is the node's RPC address.
func (n *Node) Addr() string {
	if n.cfg.AdvertiseAddr != "" {
		return n.cfg.AdvertiseAddr
	}
	return n.mux.Addr().String()
}

// HTTPAddr is the node's HTTP address, empty when HTTP is off.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Ready reports whether the node serves: the meta group has a leader and
// this node has applied its metadata.
func (n *Node) Ready() bool { return n.ready.Load() && !n.removed.Load() }

// peerAddr returns the address of node id.
func (n *Node) peerAddr(id string) string { return n.book.addr(id) }

// limits returns the runtime configuration in force.
func (n *Node) limits() *runtimeConfig { return n.runtime.Load() }

// replica returns the local replica of a group, nil if not hosted here.
func (n *Node) replica(group uint64) *replica.Replica {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.replicas[group]
}

// Replica returns this node's replica of a table partition, nil when it
// hosts none. Requests reach replicas through the node's services; tools
// and tests look at them directly.
func (n *Node) Replica(table string, partition uint32) *replica.Replica {
	t, ok := n.table(table)
	if !ok {
		return nil
	}
	return n.replica(groupID(t.ID, partition))
}

// localReplicas lists hosted replicas with their group ids.
func (n *Node) localReplicas() map[uint64]*replica.Replica {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make(map[uint64]*replica.Replica, len(n.replicas))
	for g, r := range n.replicas {
		out[g] = r
	}
	return out
}

// peerDown shortens the wait for new leaders of the groups that node id
// led, once PeerWatch saw its process go (replica.Elections.Expedite).
func (n *Node) peerDown(id string) {
	if !n.Ready() { // the meta group may not be open yet
		return
	}
	count := 0
	for _, r := range n.localReplicas() {
		if r.ExpediteIfLeader(id) {
			count++
		}
	}
	if n.meta.expedite(id) {
		count++
	}
	if count > 0 {
		n.lg.Info("peer down: electing new leaders after the lease timeout", zap.String("peer", id), zap.Int("groups", count))
	}
}

// peerUp sends the log at once to node id, back after being down, in the
// groups this node leads (replica.NudgeFollower).
func (n *Node) peerUp(id string) {
	if !n.Ready() {
		return
	}
	count := 0
	for _, r := range n.localReplicas() {
		if r.NudgeFollower(id) {
			count++
		}
	}
	if n.meta.isLeader() {
		go n.tellMetaWhenOpen(n.peerAddr(id))
	}
	if count > 0 {
		n.lg.Info("peer back: sending it the log now", zap.String("peer", id), zap.Int("groups", count))
	}
}

// tellMetaWhenOpen tells a node that came back the meta commit index as
// soon as its meta group is open, so it is ready at once.
func (n *Node) tellMetaWhenOpen(addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && n.meta.isLeader() {
		if n.mux.ProbeGroup(addr, metaGroupID, time.Second) == nil {
			n.meta.tell()
			return
		}
		select {
		case <-n.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops serving and closes every replica, the meta group and storage.
func (n *Node) Close() error {
	var errs []error
	n.closeMu.Do(func() {
		close(n.stop)
		n.markStopping()
		if n.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = n.http.Shutdown(ctx)
			cancel()
		}
		if n.grpc != nil {
			stopGRPC(n.grpc, 2*time.Second)
		}
		n.loops.Wait()
		if n.dup != nil {
			n.dup.Close()
		}
		if n.archive != nil {
			n.archive.Close()
		}
		for _, r := range n.localReplicas() {
			errs = append(errs, r.Close())
		}
		if n.sched != nil {
			n.sched.Close()
		}
		if n.meta != nil {
			errs = append(errs, n.meta.close())
		}
		if n.hub != nil {
			errs = append(errs, n.hub.Close())
		}
		if n.watch != nil {
			errs = append(errs, n.watch.Close())
		}
		if n.mux != nil {
			errs = append(errs, n.mux.Close())
		}
		n.wg.Wait()
		if n.conns != nil {
			n.conns.close()
		}
		if n.logDB != nil {
			errs = append(errs, n.logDB.Close())
		}
		if n.shared != nil {
			n.shared.Close()
		}
	})
	return errors.Join(errs...)
}

// stopGRPC drains in-flight calls, then forces the rest closed.
func stopGRPC(s *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.Stop()
	}
}
