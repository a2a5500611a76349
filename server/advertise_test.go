package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A node reached through a proxy or NAT tells others the address it
// advertises, not the one it listens on: in replica status (which routes and
// leader hints use) and in the source addresses a duplication hands a remote.
func TestAdvertiseAddrIsWhatOthersAreTold(t *testing.T) {
	const adv = "front.example:7100"
	c := servertest.MakeCluster(t, 1, func(cfg *server.Config) { cfg.AdvertiseAddr = adv })
	n := c.Nodes[0]
	if n.Addr() != adv {
		t.Fatalf("Addr() = %q, want %q", n.Addr(), adv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.CreateTable(ctx, &tpb.CreateTableRequest{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := n.Admin().LocalReplicas(ctx, &tpb.LocalReplicasRequest{Table: "t"})
	if err != nil || len(resp.Replicas) != 1 {
		t.Fatalf("LocalReplicas = %v, %v", resp, err)
	}
	if got := resp.Replicas[0].Addr; got != adv {
		t.Fatalf("replica status address %q, want %q", got, adv)
	}
	if got := n.PeerAddrs(); !slices.Equal(got, []string{adv}) {
		t.Fatalf("duplication source addresses %v, want [%s]", got, adv)
	}
}

func TestAdvertiseAddrMustBeHostPort(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.NodeID, cfg.DataDir, cfg.AdvertiseAddr = "n1", t.TempDir(), "no-port"
	if err := cfg.Validate(); err == nil {
		t.Fatal("advertise address without a port accepted")
	}
}
