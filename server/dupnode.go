package server

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tandem-kv/tandem/duplication"
	"github.com/tandem-kv/tandem/replica"
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
	cfg.Replicas, cfg.Meta = dupReplicas{n}, dupMeta{n}
	cfg.Dial = n.dial
	cfg.Ready = n.Ready
	cfg.RetentionCap = func() replica.RetentionCap { return n.limits().Retention }
	cfg.ToStatus = toStatus
	cfg.Now, cfg.Logger = n.cfg.Now, n.lg
	return duplication.NewNode(cfg)
}

// startDuplication runs the node's duplication work, told of every
// metadata change.
func (n *Node) startDuplication() {
	n.meta.fsm.watch(n.dup.MetaChanged)
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
	var info duplication.Info
	ok := false
	d.n.meta.fsm.view(func(s *MetaState) {
		if dm, found := s.Dups[id]; found {
			info, ok = dupInfoOf(s, dm), true
		}
	})
	return info, ok
}

func (d dupMeta) Duplications() []duplication.Info {
	var out []duplication.Info
	d.n.meta.fsm.view(func(s *MetaState) {
		for _, dm := range s.Dups {
			out = append(out, dupInfoOf(s, dm))
		}
	})
	return out
}

func (d dupMeta) Followers() []duplication.Follower {
	var out []duplication.Follower
	d.n.meta.fsm.view(func(s *MetaState) {
		for name, t := range s.Tables {
			if f := t.Follower; f != nil {
				out = append(out, duplication.Follower{Table: name, DupID: f.DupID, SourceCluster: f.SourceCluster,
					SourceAddrs: append([]string(nil), f.SourceAddrs...)})
			}
		}
	})
	return out
}

func (d dupMeta) Removed() []string {
	var out []string
	d.n.meta.fsm.view(func(s *MetaState) {
		for id := range s.RemovedDups {
			out = append(out, id)
		}
	})
	return out
}

// dupInfoOf is a duplication as the duplication package sees it.
func dupInfoOf(s *MetaState, d *DupMeta) duplication.Info {
	info := duplication.Info{ID: d.ID, Table: d.Table, RemoteAddr: d.RemoteAddr, RemoteCluster: d.RemoteCluster,
		State: duplication.State(d.State), CreatedAtMs: d.CreatedAtMs}
	if t, ok := s.Tables[d.Table]; ok {
		info.Partitions = t.Partitions
	}
	return info
}
