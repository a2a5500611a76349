package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/server/servertest"
)

func TestLocalChecksumMatchesAcrossReplicas(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	c.CreateTable("t", 1, 3)
	servertest.WaitFor(t, 10*time.Second, "a leader", func() bool { return c.LeaderOf("t", 0) >= 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader := c.Replica(c.LeaderOf("t", 0), "t", 0)
	var last uint64
	for i := 0; i < 20; i++ {
		m := replica.Mutation{Op: replica.OpPut, HashKey: []byte("h"), SortKey: []byte(fmt.Sprint(i)), Value: []byte("v")}
		d, err := leader.Write(ctx, []replica.Mutation{m})
		if err != nil {
			t.Fatal(err)
		}
		last = d
	}
	sums := make([]*tpb.LocalChecksumResponse, len(c.Nodes))
	servertest.WaitFor(t, 10*time.Second, "every replica at the last decree", func() bool {
		for i, n := range c.Nodes {
			resp, err := n.Admin().LocalChecksum(ctx, &tpb.LocalChecksumRequest{Table: "t", Partition: 0})
			if err != nil || resp.AppliedDecree < last {
				return false
			}
			sums[i] = resp
		}
		return true
	})
	for i, s := range sums {
		if s.Records != 20 || s.Checksum != sums[0].Checksum || s.AppliedDecree != sums[0].AppliedDecree || s.NodeId != c.Config(i).NodeID {
			t.Fatalf("node %d: %+v; node 0: %+v", i, s, sums[0])
		}
	}
	_, err := c.Nodes[0].Admin().LocalChecksum(ctx, &tpb.LocalChecksumRequest{Table: "t", Partition: 1})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("partition without a local replica: %v, want NotFound", err)
	}
}
