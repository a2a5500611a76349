package duplication

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// ListDuplications answers as a node does (CheckCycle walks a chain with it).
func (a *testAdmin) ListDuplications(ctx context.Context, req *tpb.ListDuplicationsRequest) (*tpb.ListDuplicationsResponse, error) {
	return &tpb.ListDuplicationsResponse{Duplications: a.c.node.List(ctx, req.Table)}, nil
}

// cycleStatus is a cycle refusal as the server sends it.
func cycleStatus(err error) error {
	st, derr := status.New(codes.AlreadyExists, err.Error()).WithDetails(&errdetails.ErrorInfo{Domain: tpb.ErrorDomain, Reason: tpb.ReasonDupCycle})
	if derr != nil {
		return err
	}
	return st.Err()
}

// testChain is table t duplicated east → west (duplication 17) → south
// (duplication 18), every partition caught up.
type testChain struct {
	*dupPair
	south     *testCluster
	southReps []*replica.Replica
}

const southDup = "18"

func mustNewChain(t *testing.T, partitions uint32) *testChain {
	t.Helper()
	d := mustNewDupPair(t, partitions, clusterOptions{}, clusterOptions{})
	c := &testChain{dupPair: d, south: mustNewCluster(t, "south", clusterOptions{})}
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", partitions)
	waitFor(t, "west caught up with east", d.caughtUp)
	d.dst.meta.change(func(m *testMeta) {
		m.dups[southDup] = Info{ID: southDup, Table: "t", RemoteAddr: c.south.addr(), RemoteCluster: "south", State: StateActive, Partitions: partitions}
	})
	c.south.meta.change(func(m *testMeta) {
		m.followers["t"] = Follower{Table: "t", DupID: southDup, SourceCluster: "west", SourceAddrs: []string{d.dst.addr()}}
	})
	c.southReps = c.south.mustOpenTable("t", partitions)
	waitFor(t, "south caught up through a base of west's", c.allSame)
	return c
}

// allSame reports whether every partition holds the same data on the
// three clusters.
func (c *testChain) allSame() bool {
	for p := range c.srcReps {
		if !sameData(c.srcReps[p], c.dstReps[p]) || !sameData(c.dstReps[p], c.southReps[p]) {
			return false
		}
	}
	return true
}

func putValue(t *testing.T, r *replica.Replica, key, value string) uint64 {
	t.Helper()
	d, err := r.Write(context.Background(), []replica.Mutation{{Op: replica.OpPut, HashKey: []byte(key), SortKey: []byte("s"), Value: []byte(value)}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The middle of a chain ships onward exactly what its FSM applied: a batch
// re-shipped to west after a leader change (its source decree already
// applied, so west skipped it) does not reach south, where it would put an
// old value back. South's replicated time is east's, never past west's.
func TestChainShipsOnwardExactlyWhatTheMiddleApplied(t *testing.T) {
	c := mustNewChain(t, 1)
	east, west, south := c.srcReps[0], c.dstReps[0], c.southReps[0]
	old := putValue(t, east, "k", "v1")
	putValue(t, east, "k", "v2")
	waitFor(t, "k=v2 everywhere", c.allSame)
	ents, _, err := east.ReadLog(old, 1<<20)
	if err != nil || len(ents) == 0 || ents[0].Decree != old {
		t.Fatalf("east's entry %d: %v %v", old, ents, err)
	}
	// What a puller whose proposal was in flight over a leader change
	// sends again: west's FSM skips it.
	if _, err := west.ProposeDuplicated(context.Background(), []replica.DupEntry{{SourceDecree: old, Command: ents[0].Command}}, old); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	write(t, east, 100, 5)
	waitFor(t, "the three clusters identical after the re-shipped batch", c.allSame)
	waitFor(t, "south's replicated time past a write made on east", func() bool { return !south.ReplicatedTime().Before(mark) })
	if s, w := south.ReplicatedTime(), west.ReplicatedTime(); s.After(w) {
		t.Fatalf("south's replicated time %v is past west's %v", s, w)
	}
	list := c.dst.node.List(context.Background(), "t")
	states := map[State]string{}
	for _, d := range list {
		states[State(d.State)] = d.Id
	}
	if states[StateFollowing] != c.id || states[StateActive] != southDup {
		t.Fatalf("west's dup ls shows %v, want the incoming %s and the outgoing %s", states, c.id, southDup)
	}
	if show, err := c.dst.node.Show(context.Background(), "t", c.id); err != nil || !strings.Contains(show.Duplication.RemoteNote, "incoming") {
		t.Fatalf("west's dup show of the duplication it follows: %+v %v", show.GetDuplication(), err)
	}
}

// A cycle through a chain is refused with ErrCycle, the dup add record is
// undone; a switchover is refused from the middle and from the head while
// the middle feeds onward.
func TestCycleRefusedThroughAChain(t *testing.T) {
	c := mustNewChain(t, 1)
	ctx := context.Background()
	err := c.src.node.CheckCycle(ctx, "t", "south")
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "cycle") || !strings.Contains(err.Error(), "east → west → south") {
		t.Fatalf("south following east: %v, want a cycle naming the chain", err)
	}
	if err := c.dst.node.CheckCycle(ctx, "t", "south"); !errors.Is(err, ErrCycle) {
		t.Fatalf("south following west: %v, want ErrCycle", err)
	}
	if err := c.src.node.CheckCycle(ctx, "t", "north"); err != nil {
		t.Fatalf("north is no part of the chain: %v", err)
	}
	if _, err := c.south.node.Add(ctx, Table{Name: "t", Partitions: 1}, c.src.addr()); !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("dup add south → east: %v, want ErrCycle", err)
	}
	if ds := c.south.meta.Duplications(); len(ds) != 0 {
		t.Fatalf("a refused dup add left %+v", ds)
	}
	if _, err := c.src.node.Switchover(ctx, "t", c.id); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), southDup) {
		t.Fatalf("switchover to a middle that feeds onward: %v, want ErrRefused naming %s", err, southDup)
	}
	if _, err := c.dst.node.Switchover(ctx, "t", southDup); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "middle") {
		t.Fatalf("switchover from the middle: %v, want ErrRefused", err)
	}
	write(t, c.srcReps[0], 100, 1) // the refusals fenced nothing
	waitFor(t, "still shipping", c.allSame)
}

// dup promote on the middle: west becomes a primary and keeps feeding
// south; a batch from east still in flight after the unfollow is ignored
// by west and not shipped on.
func TestPromoteTheMiddleKeepsShippingOnward(t *testing.T) {
	c := mustNewChain(t, 1)
	east, west, south := c.srcReps[0], c.dstReps[0], c.southReps[0]
	ctx := context.Background()
	if _, err := c.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "west's pullers stopped", func() bool { return c.dst.pullers() == 0 })
	late := putValue(t, east, "late", "east")
	ents, _, err := east.ReadLog(late, 1<<20)
	if err != nil || len(ents) == 0 {
		t.Fatalf("east's entry %d: %v %v", late, ents, err)
	}
	if _, err := west.ProposeDuplicated(ctx, []replica.DupEntry{{SourceDecree: late, Command: ents[0].Command}}, late); err != nil {
		t.Fatal(err)
	}
	putValue(t, west, "k", "west")
	waitFor(t, "south follows the promoted west", func() bool { return sameData(west, south) })
	if sameData(east, west) {
		t.Fatal("the batch in flight after the unfollow applied on west")
	}
}
