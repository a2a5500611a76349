package duplication

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func (m *testMeta) Promotions() []Promotion {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Promotion
	for _, p := range m.promotions {
		out = append(out, p)
	}
	return out
}

func (r testRegistry) Promote(_ context.Context, p Promotion) (Promotion, error) {
	var out Promotion
	var err error
	r.m.change(func(m *testMeta) {
		if done, ok := m.promotions[p.Table]; ok {
			out = done
			return
		}
		if f, ok := m.followers[p.Table]; !ok || f.DupID != p.DupID {
			err = ErrRefused
			return
		}
		delete(m.followers, p.Table)
		m.promotions[p.Table], out = p, p
	})
	return out, err
}

func (a *testAdmin) PromoteFollower(ctx context.Context, req *tpb.PromoteRequest) (*tpb.PromoteResponse, error) {
	resp, err := a.c.node.Promote(ctx, req.Table, req.Force)
	if err != nil {
		return nil, testToStatus(err)
	}
	return resp, nil
}

func (a *testAdmin) CheckFollower(_ context.Context, req *tpb.DuplicationRequest) (*tpb.CheckFollowerResponse, error) {
	if err := a.c.node.CheckFollower(req.Table, req.DupId); err != nil {
		if errors.Is(err, ErrFailedOver) {
			st, _ := statusWithReason(err, tpb.ReasonFailedOver)
			return nil, st
		}
		return nil, testToStatus(err)
	}
	return &tpb.CheckFollowerResponse{}, nil
}

// dup promote: refused while the source answers, then (forced) the
// follower table stops following at an exact source decree and replicated
// time, becomes writable in the metadata, pulls stop, and the source's
// dup show learns from the remote that it failed over.
func TestPromoteForcedWhileSourceAnswers(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	waitFor(t, "a replicated time on both partitions", func() bool {
		return !d.dstReps[0].ReplicatedTime().IsZero() && !d.dstReps[1].ReplicatedTime().IsZero()
	})
	ctx := context.Background()
	// Idle partitions store their replicated time only every idlePersist;
	// promote still starts from what the pullers know.
	mark := time.Now()
	info, _ := d.src.meta.Duplication(d.id)
	waitFor(t, "the replicated time past the mark", func() bool {
		sum := info.Proto()
		Summarize(sum, d.src.node.Status(ctx, info))
		return sum.ReplicatedTimeUnixMs > mark.UnixMilli()
	})
	if _, err := d.dst.node.Promote(ctx, "t", false); !errors.Is(err, ErrRefused) {
		t.Fatalf("promote while the source answers: %v, want ErrRefused", err)
	}
	resp, err := d.dst.node.Promote(ctx, "t", true)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ReplicatedTimeUnixMs <= mark.UnixMilli() || len(resp.SourceDecrees) != 2 || resp.SourceDecrees[0] != d.dstReps[0].SourceDecree() {
		t.Fatalf("promote answered %+v (mark %d)", resp, mark.UnixMilli())
	}
	if _, ok := d.dst.meta.follower("t"); ok {
		t.Fatal("the promoted table is still a follower")
	}
	waitFor(t, "pullers stopped", func() bool { return d.dst.pullers() == 0 })
	again, err := d.dst.node.Promote(ctx, "t", false)
	if err != nil || again.PromotedAtUnixMs != resp.PromotedAtUnixMs {
		t.Fatalf("promote again: %+v %v", again, err)
	}
	write(t, d.srcReps[0], 100, 5) // the old source goes on; nothing ships
	if err := d.dst.node.CheckFollower("t", d.id); !errors.Is(err, ErrFailedOver) {
		t.Fatalf("check of a promoted follower: %v", err)
	}
	d.src.mu.Lock()
	d.src.now = time.Now().Add(time.Minute)
	d.src.mu.Unlock()
	show, err := d.src.node.Show(ctx, "t", d.id)
	if err != nil || !strings.Contains(show.Duplication.RemoteNote, "promoted") {
		t.Fatalf("source's dup show does not say the remote failed over: %q %v", show.GetDuplication().GetRemoteNote(), err)
	}
	remote, err := d.dst.node.Show(ctx, "t", d.id)
	if err != nil || remote.Duplication.StateCode != StateFailedOver.Proto() || remote.Duplication.ReplicatedTimeUnixMs != resp.ReplicatedTimeUnixMs {
		t.Fatalf("remote's dup show: %+v %v", remote.GetDuplication(), err)
	}
}
