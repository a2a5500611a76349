package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server/servertest"
)

// The request id travels with a change forwarded to the meta leader, so a
// retry through any node is recognised.
func TestRequestIDSurvivesForwarding(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func(addr, rid string) error {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		// Retry like the SDK does while the meta group has no leader.
		for {
			_, err = tpb.NewAdminClient(cc).CreateTable(metadata.AppendToOutgoingContext(ctx, tpb.RequestIDHeader, rid),
				&tpb.CreateTableRequest{Name: "t", Partitions: 1, Replicas: 3})
			if status.Code(err) != codes.Unavailable || ctx.Err() != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	addrs := c.Addrs()
	for i, addr := range addrs {
		if err := call(addr, "same"); err != nil {
			t.Fatalf("create through node %d with the same request id: %v", i, err)
		}
	}
	if err := call(addrs[0], "other"); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("create with another request id: %v, want AlreadyExists", err)
	}
}
