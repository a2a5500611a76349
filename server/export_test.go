package server

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// What the package's external tests (package server_test, whose clusters
// servertest builds) look at inside a node.

// KV is the node's KV service, to call without a client's retries.
func (n *Node) KV() tpb.KVServer { return &kvService{n: n} }

// Admin is the node's Admin service.
func (n *Node) Admin() tpb.AdminServer { return &adminService{n: n} }

// MetaLeader is the meta group's leader as this node knows it.
func (n *Node) MetaLeader() (id, addr string) { return n.meta.leader() }

// IsMetaLeader reports whether this node leads the meta group.
func (n *Node) IsMetaLeader() bool { return n.meta.isLeader() }

// TransferMetaLeadership hands the meta group's leadership, which this
// node holds, to another member.
func (n *Node) TransferMetaLeadership() error { return n.meta.raft.LeadershipTransfer().Error() }

// FindTable looks a table up as a request does (findTable).
func (n *Node) FindTable(ctx context.Context, name string) error {
	_, err := n.findTable(ctx, name)
	return err
}

// PeerAddrs are the addresses a duplication hands a remote as this
// cluster's nodes.
func (n *Node) PeerAddrs() []string { return n.peerAddrs() }

// Registry is the node's Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.met.reg }

// NotLeaderOf returns a status's NotLeader detail, or nil.
var NotLeaderOf = notLeaderOf
