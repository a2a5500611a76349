package server

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/duplication"
	"github.com/tandem-kv/tandem/logdb"
)

// Duplication's wiring: the node hands the duplication package its
// replicas and metadata through narrow adapters; everything else about
// duplication lives there.

// newDuplication makes the node's duplication work (started by
// startDuplication once the meta group is open).
func (n *Node) newDuplication() (*duplication.Node, error) {
	cfg := duplication.DefaultConfig()
	cfg.NodeID, cfg.Cluster = n.cfg.NodeID, n.cfg.Cluster
	for _, p := range n.peers {
		cfg.Peers = append(cfg.Peers, duplication.Peer{ID: p.ID, Addr: p.Addr})
	}
	cfg.SourceAddrs = n.peerAddrs()
	cfg.Members = func() []duplication.Peer {
		var out []duplication.Peer
		for _, p := range n.members() {
			if p.ID == n.cfg.NodeID {
				p.Addr = n.Addr()
			}
			out = append(out, duplication.Peer{ID: p.ID, Addr: p.Addr})
		}
		return out
	}
	cfg.Replicas, cfg.Meta, cfg.Registry = dupReplicas{n}, dupMeta{n}, dupRegistry{n}
	cfg.Dial = n.dial
	cfg.Ready = n.Ready
	cfg.RetentionCap = func() logdb.RetentionCap { return n.limits().Retention }
	cfg.ToStatus = toStatus
	cfg.Now, cfg.Logger = n.cfg.Now, n.lg
	cfg.DataDir = n.cfg.DataDir
	return duplication.NewNode(cfg)
}

// startDuplication runs the node's duplication work, told of every
// metadata change.
func (n *Node) startDuplication() {
	n.meta.watch(n.dup.MetaChanged)
	n.dup.Start()
}

func (n *Node) dial(addr string) (*grpc.ClientConn, error) { return n.conns.get(addr) }

// dupReplicas adapts the node's replicas to duplication.Replicas.
type dupReplicas struct{ n *Node }

func (d dupReplicas) Leader(table string, p uint32) (duplication.Replica, error) {
	r, _, _, err := d.n.leaderFor(context.Background(), table, p, true, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (d dupReplicas) Local(table string, p uint32) (duplication.Replica, bool) {
	t, ok := d.n.table(table)
	if !ok {
		return nil, false
	}
	if r := d.n.replica(groupID(t.ID, p)); r != nil {
		return r, true
	}
	return nil, false
}

func (d dupReplicas) All() []duplication.Replica {
	var out []duplication.Replica
	for _, r := range d.n.localReplicas() {
		out = append(out, r)
	}
	return out
}

func (d dupReplicas) Dir(group uint64) string { return d.n.replicaDir(group) }

// dupMeta adapts the meta group's state to duplication.Meta.
type dupMeta struct{ n *Node }

func (d dupMeta) Duplication(id string) (duplication.Info, bool) {
	dm, ok := d.n.meta.dup(id)
	if !ok {
		return duplication.Info{}, false
	}
	return d.info(dm), true
}

func (d dupMeta) Duplications() []duplication.Info {
	var out []duplication.Info
	for _, dm := range d.n.meta.dups("") {
		out = append(out, d.info(dm))
	}
	return out
}

func (d dupMeta) Followers() []duplication.Follower {
	var out []duplication.Follower
	for _, t := range d.n.meta.followerTables() {
		f := t.Follower
		out = append(out, duplication.Follower{Table: t.Name, DupID: f.DupID, SourceCluster: f.SourceCluster, SourceAddrs: f.SourceAddrs,
			Partitions: t.Partitions, SwitchedFrom: f.SwitchedFrom, SeedURL: f.SeedURL, SeedDecrees: f.SeedDecrees})
	}
	return out
}

func (d dupMeta) Removed() []string { return d.n.meta.removedDups() }

func (d dupMeta) RemovedRemote(id string) (string, bool) { return d.n.meta.removedDup(id) }

// info is a duplication as the duplication package sees it.
func (d dupMeta) info(dm *DupMeta) duplication.Info {
	info := duplication.Info{ID: dm.ID, Table: dm.Table, RemoteAddr: dm.RemoteAddr, RemoteCluster: dm.RemoteCluster,
		State: dm.State, CreatedAtMs: dm.CreatedAtMs, ReverseOf: dm.ReverseOf, Starts: dm.Starts, RemoteAddrs: dm.RemoteAddrs,
		Divergence: dm.Divergence}
	if t, ok := d.n.meta.table(dm.Table); ok {
		info.Partitions = t.Partitions
	}
	return info
}

// dupRegistry applies duplication's metadata changes through the meta
// group (on its leader).
type dupRegistry struct{ n *Node }

func (r dupRegistry) Add(ctx context.Context, d duplication.Info) (duplication.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &addDupCmd{Dup: &DupMeta{ID: d.ID, Table: d.Table, RemoteAddr: d.RemoteAddr,
		State: d.State, CreatedAtMs: d.CreatedAtMs, RequestID: requestID(ctx)}})
	if err != nil {
		return duplication.Info{}, err
	}
	return dupMeta(r).info(res.Dup), nil
}

func (r dupRegistry) SetRemoteCluster(ctx context.Context, id, cluster string) error {
	_, _, err := r.n.meta.apply(ctx, &setDupRemoteCmd{ID: id, Cluster: cluster})
	return err
}

func (r dupRegistry) SetState(ctx context.Context, id string, s duplication.State) (duplication.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &setDupStateCmd{ID: id, State: s})
	if err != nil {
		return duplication.Info{}, err
	}
	return dupMeta(r).info(res.Dup), nil
}

func (r dupRegistry) Remove(ctx context.Context, id string) error {
	_, _, err := r.n.meta.apply(ctx, &removeDupCmd{ID: id})
	return err
}

// peerAddrs lists the cluster's nodes for another cluster: this node at
// the address it advertises, the others as --peers names them.
func (n *Node) peerAddrs() []string {
	out := make([]string, len(n.peers))
	for i, p := range n.peers {
		out[i] = p.Addr
		if p.ID == n.cfg.NodeID {
			out[i] = n.Addr()
		}
	}
	return out
}
