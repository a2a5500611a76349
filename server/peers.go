package server

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// peerAddresses resolves raft server ids to the addresses in this node's
// --peers. Every raft transport of the node dials through it, so a node
// reaches its peers where its own configuration says, not where the
// replicated raft configuration (the bootstrapping node's view) says: an
// operator can change a node's address with --peers, and each node can
// have its own route to a peer.
type peerAddresses []Peer

var _ raft.ServerAddressProvider = peerAddresses(nil)

// ServerAddr implements raft.ServerAddressProvider.
func (p peerAddresses) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	for _, peer := range p {
		if peer.ID == string(id) {
			return raft.ServerAddress(peer.Addr), nil
		}
	}
	return "", fmt.Errorf("raft server %q: %w", id, ErrUnknownPeer)
}

// dialAddr is where this node dials node id: its --peers address, or addr
// (what raft reported: that node's own view of its address) when id is not
// in --peers.
func (n *Node) dialAddr(id, addr string) string {
	if a := n.peerAddr(id); a != "" {
		return a
	}
	return addr
}
