package server_test

import (
	"context"
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
	"github.com/tandem-kv/tandem/tests/e2e"
)

// A node restarted with new --peers addresses dials its peers there, for
// raft (votes, replication) and for forwarding to the meta leader, even
// though the groups' stored raft configurations still hold the old ones.
// Before the fix raft dialed the stored addresses.
func TestNodeDialsPeersAtItsOwnPeersAddresses(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	c.CreateTable("t", 1, 3)
	const moved = 1 // n2
	self := c.Config(moved).NodeID
	proxies := map[string]*e2e.Proxy{}
	peers := append([]server.Peer(nil), c.Config(moved).Peers...)
	for i, p := range peers {
		if p.ID != self {
			proxies[p.ID] = e2e.NewProxy(t, p.Addr)
			peers[i].Addr = proxies[p.ID].Addr()
		}
	}
	c.Restart(moved, func(cfg *server.Config) { cfg.Peers = peers })
	c.WaitReady()
	through := func() int {
		n := 0
		for _, p := range proxies {
			n += p.Accepted()
		}
		return n
	}

	// Make n2 lead the partition: it must dial both peers to win the vote.
	servertest.WaitFor(t, 10*time.Second, "n2 leads the partition", func() bool {
		l := c.LeaderOf("t", 0)
		if l < 0 || l == moved || c.Replica(moved, "t", 0) == nil {
			return l == moved
		}
		err := c.Replica(l, "t", 0).TransferLeadership(self)
		return err == nil && c.LeaderOf("t", 0) == moved
	})
	if through() == 0 {
		t.Fatal("n2 won an election without dialing its peers through their --peers addresses")
	}

	// A metadata change made through n2 is forwarded to the meta leader at
	// its --peers address.
	if n := c.Nodes[moved]; n.IsMetaLeader() {
		if err := n.TransferMetaLeadership(); err != nil {
			t.Fatalf("meta leadership transfer: %v", err)
		}
	}
	servertest.WaitFor(t, 10*time.Second, "another meta leader", func() bool {
		id, _ := c.Nodes[moved].MetaLeader()
		return id != "" && id != self
	})
	before := through()
	for _, p := range proxies {
		p.Refuse()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Nodes[moved].CreateTable(ctx, &tpb.CreateTableRequest{Name: "u", Partitions: 1}); err == nil {
		t.Fatal("create table through n2 succeeded with its routes to the meta leader refused")
	}
	if through() == before {
		t.Fatal("forwarding to the meta leader did not go through --peers")
	}
}
