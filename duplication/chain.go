package duplication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Chains: a follower table duplicates onward (east → west → south). The
// middle's source side ships what its FSM applied of the shipped entries
// (replica/dupchain.go), its answers carry its own source's replicated
// time (Source.answerTime), and the checks here keep a chain from closing
// into a cycle and a switchover from starting where it cannot finish
// cleanly.

// ErrCycle is returned when a duplication would close a cycle: the table
// already reaches, through its duplications and theirs, the cluster that
// asks to become its source. Only dup switchover reverses a duplication.
var ErrCycle = errors.New("duplication: cycle")

const (
	// maxChainHops bounds how far CheckCycle follows a chain.
	maxChainHops = 8
	// chainAskTimeout bounds each remote cluster's answer to CheckCycle.
	chainAskTimeout = 3 * time.Second
)

// StateFollowing is not recorded anywhere: it is the state `dup ls`
// shows, on a follower table's cluster, for the duplication the table
// follows (the incoming side; the source cluster shows its progress).
const StateFollowing State = "following"

// CheckCycle refuses, with ErrCycle, cluster from becoming the source of
// this cluster's table: the table duplicates, directly or through the
// remotes' own duplications of it, to from already. Remote clusters are
// asked for their duplications of the table (a cluster that does not
// answer ends that branch: the request is refused anyway, since this
// cluster has the table already, only not as a cycle).
func (n *Node) CheckCycle(ctx context.Context, table, from string) error {
	path := map[string]string{n.cfg.Cluster: ""} // cluster -> the one feeding it
	var level []chainHop
	for _, d := range n.cfg.Meta.Duplications() {
		if d.Table == table && d.RemoteCluster != "" && d.State != StateRemoved {
			level = append(level, chainHop{from: n.cfg.Cluster, to: d.RemoteCluster, dupID: d.ID, addrs: append([]string{d.RemoteAddr}, d.RemoteAddrs...)})
		}
	}
	for hop := 0; hop < maxChainHops && len(level) > 0; hop++ {
		var next []chainHop
		for _, h := range level {
			if _, seen := path[h.to]; seen && h.to != from {
				continue
			}
			path[h.to] = h.from
			if h.to == from {
				return fmt.Errorf("%w: table %q of cluster %s reaches cluster %s already (%s); %s following %s would close a cycle (only dup switchover reverses a duplication)",
					ErrCycle, table, n.cfg.Cluster, from, chainText(path, from), from, n.cfg.Cluster)
			}
			next = append(next, n.outgoing(n.remoteList(ctx, h, table), h.to)...)
		}
		level = next
	}
	return nil
}

// chainHop is a duplication of the table from one cluster to another.
type chainHop struct {
	from, to string
	dupID    string
	addrs    []string
}

// outgoing lists the duplications of a dup ls answer that ship from
// cluster (not the incoming or failed-over rows).
func (n *Node) outgoing(list []*tpb.DuplicationInfo, cluster string) []chainHop {
	var out []chainHop
	for _, d := range list {
		st := State(d.GetState())
		if st == StateFollowing || st == StateFailedOver || st == StateRemoved || d.GetRemoteCluster() == "" {
			continue
		}
		out = append(out, chainHop{from: cluster, to: d.GetRemoteCluster(), dupID: d.GetId(), addrs: []string{d.GetRemoteAddr()}})
	}
	return out
}

// remoteList asks the cluster a hop reaches for its duplications of the
// table (nil when it does not answer).
func (n *Node) remoteList(ctx context.Context, h chainHop, table string) []*tpb.DuplicationInfo {
	for _, addr := range h.addrs {
		conn, err := n.cfg.Dial(addr)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, chainAskTimeout)
		resp, err := tpb.NewAdminClient(conn).ListDuplications(cctx, &tpb.ListDuplicationsRequest{Table: table})
		cancel()
		if err == nil {
			return resp.GetDuplications()
		}
	}
	return nil
}

// chainText spells the chain from the table's cluster to cluster to.
func chainText(path map[string]string, to string) string {
	var hops []string
	for c := to; c != ""; c = path[c] {
		hops = append([]string{c}, hops...)
	}
	return strings.Join(hops, " → ")
}

// onwardRefusal refuses a switchover of d when its remote's table feeds
// duplications of its own (a chain's middle): after it the table would
// have two remotes (the reversed duplication and the onward one), and a
// switch back from there would be refused. The remote that does not
// answer is refused too: the switchover needs it anyway.
func (n *Node) onwardRefusal(ctx context.Context, d Info) error {
	addrs := append([]string{d.RemoteAddr}, d.RemoteAddrs...)
	list, err := n.listAt(ctx, addrs, d.Table)
	if err != nil {
		return fmt.Errorf("%w: %s: %v (the switchover needs the remote)", ErrRemoteUnreachable, d.RemoteAddr, err)
	}
	for _, o := range n.outgoing(list, d.RemoteCluster) {
		return fmt.Errorf("%w: the remote's table %q duplicates onward to cluster %s (duplication %s on cluster %s); dup rm it there first, or switch over to the end of the chain",
			ErrRefused, d.Table, o.to, o.dupID, d.RemoteCluster)
	}
	return nil
}

// listAt asks the first of addrs that answers for its duplications of table.
func (n *Node) listAt(ctx context.Context, addrs []string, table string) ([]*tpb.DuplicationInfo, error) {
	var last error = errors.New("no address")
	for _, addr := range addrs {
		conn, err := n.cfg.Dial(addr)
		if err != nil {
			last = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, chainAskTimeout)
		resp, err := tpb.NewAdminClient(conn).ListDuplications(cctx, &tpb.ListDuplicationsRequest{Table: table})
		cancel()
		if err == nil {
			return resp.GetDuplications(), nil
		}
		last = errors.New(status.Convert(err).Message())
	}
	return nil, last
}

// incomingInfo is the row `dup ls` shows for the duplication a follower
// table of this cluster follows: its source, and the replicated time its
// replicas here hold (the minimum over the partitions this node has a
// replica of; the source's dup show has every partition's progress).
func (n *Node) incomingInfo(f Follower) *tpb.DuplicationInfo {
	info := &tpb.DuplicationInfo{Id: f.DupID, Table: f.Table, RemoteCluster: f.SourceCluster, State: string(StateFollowing),
		RemoteNote: fmt.Sprintf("incoming: this cluster's table %q follows duplication %s from cluster %s (read-only here; dup show there for per-partition progress)",
			f.Table, f.DupID, f.SourceCluster)}
	if len(f.SourceAddrs) > 0 {
		info.RemoteAddr = f.SourceAddrs[0]
	}
	var low time.Time
	for p := uint32(0); p < f.Partitions; p++ {
		r, ok := n.cfg.Replicas.Local(f.Table, p)
		if !ok || r.ReplicatedTime().IsZero() {
			return info // a partition not here or without one: no time rather than a wrong one
		}
		if t := r.ReplicatedTime(); p == 0 || t.Before(low) {
			low = t
		}
	}
	if !low.IsZero() {
		info.ReplicatedTimeUnixMs = low.UnixMilli()
		info.ReplicatedAgeSeconds = n.cfg.Now().Sub(low).Seconds()
	}
	return info
}

// incomingRows are the rows of the duplications this cluster's tables
// follow (all tables when table is "").
func (n *Node) incomingRows(table string) []*tpb.DuplicationInfo {
	var out []*tpb.DuplicationInfo
	for _, f := range n.cfg.Meta.Followers() {
		if table == "" || f.Table == table {
			out = append(out, n.incomingInfo(f))
		}
	}
	return out
}
