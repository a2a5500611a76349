package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func TestRetriedMetadataChangeGetsItsResult(t *testing.T) {
	table := func(rid string) metaCommand {
		return &createTableCmd{Table: &TableMeta{Name: "t", Partitions: 1, Placement: [][]string{{"n1"}}, RequestID: rid}}
	}
	dup := func(id, rid string) metaCommand {
		return &addDupCmd{Dup: &DupMeta{ID: id, Table: "t", RemoteAddr: "r:1", RequestID: rid}}
	}
	s := newMetaState()
	first := table("r1").apply(s)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	if again := table("r1").apply(s); again.Err != nil || again.Table.ID != first.Table.ID {
		t.Fatalf("retry of the create: %+v", again)
	}
	for _, rid := range []string{"r2", ""} {
		if res := table(rid).apply(s); !errors.Is(res.Err, ErrTableExists) {
			t.Fatalf("another create (request %q): %v, want ErrTableExists", rid, res.Err)
		}
	}
	if res := dup("1", "d1").apply(s); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := dup("2", "d1").apply(s); res.Err != nil || res.Dup.ID != "1" || len(s.Dups) != 1 {
		t.Fatalf("retry of the dup add: %+v, dups %v", res, s.Dups)
	}
	for _, rid := range []string{"d2", ""} {
		if res := dup("3", rid).apply(s); !errors.Is(res.Err, duplication.ErrDupExists) {
			t.Fatalf("another dup add (request %q): %v, want ErrDupExists", rid, res.Err)
		}
	}
}

// The request id travels with a change forwarded to the meta leader, so a
// retry through any node is recognised.
func TestRequestIDSurvivesForwarding(t *testing.T) {
	c := MakeCluster(t, 3)
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
