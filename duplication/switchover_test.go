package duplication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// The test clusters' side of a switchover, as the server wires it.

func (a *testAdmin) AcceptSwitchover(ctx context.Context, req *tpb.AcceptSwitchoverRequest) (*tpb.AcceptSwitchoverResponse, error) {
	resp, err := a.c.node.AcceptSwitchover(ctx, req)
	if err != nil {
		return nil, testToStatus(err)
	}
	return resp, nil
}

func (a *testAdmin) DupPartitionStep(ctx context.Context, req *tpb.DupStepRequest) (*tpb.DupStepResponse, error) {
	return a.c.node.PartitionStep(ctx, req)
}

func (r testRegistry) AcceptSwitchover(_ context.Context, table, fromDup string, rev Info) (Info, error) {
	var out Info
	var err error
	r.m.change(func(m *testMeta) {
		for _, d := range m.dups {
			if d.ReverseOf == fromDup && d.Table == table {
				out = d
				return
			}
		}
		if f, ok := m.followers[table]; !ok || f.DupID != fromDup {
			err = fmt.Errorf("%w: not the follower of %s", ErrRefused, fromDup)
			return
		}
		delete(m.followers, table)
		m.dups[rev.ID], out = rev, rev
	})
	return out, err
}

func (r testRegistry) CompleteSwitchover(_ context.Context, id string, f Follower) error {
	r.m.change(func(m *testMeta) {
		if d, ok := m.dups[id]; ok {
			delete(m.dups, id)
			m.removed[id], m.removedRemotes[id] = true, d.RemoteAddr
		}
		m.followers[f.Table] = f
	})
	return nil
}

func putKey(r *replica.Replica, key string) error {
	_, err := r.Write(context.Background(), []replica.Mutation{{Op: replica.OpPut, HashKey: []byte(key), SortKey: []byte("s"), Value: []byte("v")}})
	return err
}

// A switchover under writes: the source refuses writes from its fence on
// (none acknowledged is lost), the remote becomes writable, the old source
// follows it in LOG from the cut with no base transfer, and running it
// again on the other side switches back.
func TestSwitchoverAndBack(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 20)
	write(t, d.srcReps[1], 100, 20)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	info, _ := d.src.meta.Duplication(d.id)
	waitFor(t, "every partition in LOG", func() bool {
		for _, st := range d.src.node.Status(context.Background(), info) {
			if st.State != string(PartitionLog) {
				return false
			}
		}
		return true
	})

	// Writers keep writing to the source during the switchover.
	acked := map[string]bool{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("during%06d", i)
			if err := putKey(d.srcReps[i%2], key); err == nil {
				acked[key] = true
			} else if !errors.Is(err, replica.ErrFenced) {
				t.Errorf("write refused with %v, want ErrFenced", err)
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := d.src.node.Switchover(ctx, "t", d.id)
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if err := putKey(d.srcReps[0], "after"); !errors.Is(err, replica.ErrFenced) {
		t.Fatalf("write to the old primary: %v, want ErrFenced", err)
	}
	for key := range acked {
		p := 0
		if _, _, found, _ := d.dstReps[0].Local().Get([]byte(key), []byte("s")); !found {
			p = 1
		}
		if _, _, found, _ := d.dstReps[p].Local().Get([]byte(key), []byte("s")); !found {
			t.Fatalf("acknowledged write %s lost in the switchover", key)
		}
	}
	t.Logf("%d writes acknowledged during the switchover; fences %v, starts %v", len(acked), resp.FenceDecrees, resp.StartDecrees)
	rev, ok := d.dst.meta.Duplication(resp.ReverseDupId)
	if !ok || rev.ReverseOf != d.id || rev.State != StateActive {
		t.Fatalf("reversed duplication on the new primary: %+v %v", rev, ok)
	}
	if f, ok := d.src.meta.follower("t"); !ok || f.DupID != rev.ID || f.SwitchedFrom != d.id {
		t.Fatalf("old primary's table: %+v %v", f, ok)
	}
	if _, ok := d.dst.meta.follower("t"); ok {
		t.Fatal("the new primary's table is still a follower")
	}

	// The new primary takes writes; the old one follows without a base.
	write(t, d.dstReps[0], 1000, 10)
	write(t, d.dstReps[1], 2000, 10)
	waitFor(t, "old primary caught up with the new one", d.caughtUp)
	for p := 0; p < 2; p++ {
		if st := d.dst.node.source.progress[progressKey{rev.ID, uint32(p)}]; st == nil || st.baseID != "" {
			t.Fatalf("partition %d: the reversed duplication took a base: %+v", p, st)
		}
	}

	// Switch back.
	back, err := d.dst.node.Switchover(ctx, "t", rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.src.meta.follower("t"); ok {
		t.Fatal("switched back, the table is still a follower")
	}
	if err := putKey(d.srcReps[0], "back"); err != nil {
		t.Fatalf("write after switching back: %v", err)
	}
	if err := putKey(d.dstReps[1], "refused"); !errors.Is(err, replica.ErrFenced) {
		t.Fatalf("write to the switched-back remote: %v, want ErrFenced", err)
	}
	waitFor(t, "remote caught up after switching back", d.caughtUp)
	t.Logf("switched back: reverse dup %s", back.ReverseDupId)

	// The remote, fenced when it was switched away from, is promoted:
	// it takes writes again.
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	if err := putKey(d.dstReps[1], "promoted"); err != nil {
		t.Fatalf("write to a promoted table that was switched over before: %v", err)
	}
}

func TestSwitchoverRefusesPausedDuplication(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{}, clusterOptions{})
	d.src.meta.change(func(m *testMeta) { i := m.dups[d.id]; i.State = StatePaused; m.dups[d.id] = i })
	_, err := d.src.node.Switchover(context.Background(), "t", d.id)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("switchover of a paused duplication: %v, want ErrRefused", err)
	}
	if _, err := d.src.node.Switchover(context.Background(), "t", "nope"); !errors.Is(err, ErrDupNotFound) {
		t.Fatalf("unknown duplication: %v", err)
	}
	if err := putKey(d.srcReps[0], "k"); err != nil {
		t.Fatalf("a refused switchover left the table fenced: %v", err)
	}
}

// statusWithReason is err as a FailedPrecondition status with Tandem's
// ErrorInfo reason, as the server's edge makes it.
func statusWithReason(err error, reason string) (error, bool) {
	st, derr := status.New(codes.FailedPrecondition, err.Error()).WithDetails(&errdetails.ErrorInfo{Domain: tpb.ErrorDomain, Reason: reason})
	if derr != nil {
		return err, false
	}
	return st.Err(), true
}

// refusingRegistry refuses the first n AcceptSwitchover metadata steps.
type refusingRegistry struct {
	testRegistry
	n *atomic.Int32
}

func (r refusingRegistry) AcceptSwitchover(ctx context.Context, table, fromDup string, rev Info) (Info, error) {
	if r.n.Add(-1) >= 0 {
		return Info{}, fmt.Errorf("%w: injected refusal of the metadata step", ErrRefused)
	}
	return r.testRegistry.AcceptSwitchover(ctx, table, fromDup, rev)
}

// A switchover whose metadata step on the new primary is refused leaves no
// floor there that no duplication owns (the cut raised one for the
// reversed duplication, which was never recorded): it would hold the log
// up to the retention cap forever. Run again, the switchover completes and
// the reversed duplication owns its floors.
func TestSwitchoverRefusedMetadataStepReleasesItsFloors(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	write(t, d.srcReps[1], 100, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	info, _ := d.src.meta.Duplication(d.id)
	waitFor(t, "every partition in LOG", func() bool {
		for _, st := range d.src.node.Status(context.Background(), info) {
			if st.State != string(PartitionLog) {
				return false
			}
		}
		return true
	})
	refusals := &atomic.Int32{}
	refusals.Store(1)
	d.dst.node.cfg.Registry = refusingRegistry{testRegistry{d.dst.meta}, refusals}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.src.node.Switchover(ctx, "t", d.id); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("switchover with its metadata step refused: %v", err)
	}
	rid := reverseID(d.id)
	for p, r := range d.dstReps {
		if c, held := r.Confirmed()[rid]; held {
			t.Fatalf("partition %d of the new primary holds a floor %d for duplication %s, which the metadata never recorded", p, c, rid)
		}
	}
	resp, err := d.src.node.Switchover(ctx, "t", d.id)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ReverseDupId != rid {
		t.Fatalf("reversed duplication %s, want %s", resp.ReverseDupId, rid)
	}
	for p, r := range d.dstReps {
		if c := r.Confirmed()[rid]; c < resp.StartDecrees[p] {
			t.Fatalf("partition %d: the reversed duplication's floor %d is below its start %d", p, c, resp.StartDecrees[p])
		}
	}
	write(t, d.dstReps[0], 1000, 5)
	waitFor(t, "the old primary follows the new one", d.caughtUp)
}
