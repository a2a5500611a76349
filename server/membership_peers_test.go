package server_test

import (
	"errors"
	"testing"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A --peers node is known from the start: `node rm n2` right after the
// cluster started is refused as not drained, not as an unknown node (the
// registry was filled only by the meta leader's first membership round,
// a second later).
func TestPeersAreKnownBeforeTheFirstMembershipRound(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cli := mustDial(t, cl.Addrs()...)
	_, err := cli.RemoveNode(ctx(t), "n2")
	if !errors.Is(err, client.ErrNotDrained) {
		t.Fatalf("node rm n2 at start: %v, want ErrNotDrained", err)
	}
	if _, err := cli.RemoveNode(ctx(t), "n9"); !errors.Is(err, client.ErrUnknownNode) {
		t.Fatalf("node rm n9: %v, want ErrUnknownNode", err)
	}
}
