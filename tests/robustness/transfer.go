package robustness

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/tests/e2e"
)

// transferTo asks the leader of every partition that nd follows to hand
// leadership to nd (Admin.TransferLeader, as the meta leader's leader
// balancing does), one partition after the other. Refusals (no leader, a
// follower not caught up) are logged: the fault is the attempt.
func (r *run) transferTo(nd *e2e.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := r.cli.Partitions(ctx, tableName)
	if err != nil {
		r.t.Logf("transfer: partitions: %v", err)
		return
	}
	moved := 0
	for _, p := range resp.Partitions {
		if p.LeaderId == "" || p.LeaderId == nd.ID {
			continue
		}
		conn, err := grpc.NewClient(p.LeaderAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			continue
		}
		_, err = tpb.NewAdminClient(conn).TransferLeader(ctx, &tpb.TransferLeaderRequest{Table: tableName, Partition: p.Index, ToNode: nd.ID})
		conn.Close()
		if err != nil {
			r.t.Logf("transfer of partition %d from %s to %s: %v", p.Index, p.LeaderId, nd.ID, err)
			continue
		}
		moved++
	}
	r.t.Logf("transfer: %d leaderships moved to %s", moved, nd.ID)
}
