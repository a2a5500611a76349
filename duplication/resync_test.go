package duplication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/logdb"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// The test clusters' side of a resync, as the server wires it.

func (a *testAdmin) AcceptResync(ctx context.Context, req *tpb.AcceptResyncRequest) (*tpb.AcceptResyncResponse, error) {
	return resyncAnswer(a.c.node.AcceptResync(ctx, req))
}

func (a *testAdmin) ResyncDuplication(ctx context.Context, req *tpb.ResyncRequest) (*tpb.ResyncResponse, error) {
	return resyncAnswer(a.c.node.Resync(ctx, req.Table, req.DupId))
}

// resyncAnswer is a node's answer as the server's edge sends it: a refusal
// with its reason.
func resyncAnswer[T any](resp T, err error) (T, error) {
	var none T
	if errors.Is(err, ErrRefused) {
		st, _ := statusWithReason(err, tpb.ReasonDupRefused)
		return none, st
	}
	if err != nil {
		return none, testToStatus(err)
	}
	return resp, nil
}

func (r testRegistry) AcceptResync(_ context.Context, table, fromDup string, d Info) (Info, error) {
	var out Info
	var err error
	r.m.change(func(m *testMeta) {
		for _, o := range m.dups {
			if o.ReverseOf == fromDup && o.Table == table {
				out = o
				return
			}
		}
		if p, ok := m.promotions[table]; !ok || p.DupID != fromDup {
			err = fmt.Errorf("%w: not failed over from %s", ErrRefused, fromDup)
			return
		}
		delete(m.promotions, table)
		m.dups[d.ID], out = d, d
	})
	return out, err
}

// dup resync on the old source after its remote was promoted: refused
// while the remote follows; then the writes only the old source took are
// in the divergence file, and the old source loads a base from the new
// primary and follows it, even where an earlier direction left a source
// decree stored (it must not resume the new primary's log from it).
func TestResyncMakesTheOldSourceAFollower(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	write(t, d.srcReps[1], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	ctx := context.Background()
	if _, err := d.src.node.Resync(ctx, "t", d.id); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "still follows") {
		t.Fatalf("resync while the remote follows: %v, want ErrRefused", err)
	}
	if _, err := d.src.node.Resync(ctx, "t", "99"); !errors.Is(err, ErrDupNotFound) {
		t.Fatalf("resync of an unknown duplication: %v, want ErrDupNotFound", err)
	}
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	// A source decree an earlier direction left that names a decree of the
	// new primary's log, which a resumed puller would ship from.
	if err := d.srcReps[1].FollowFrom(ctx, d.dstReps[1].Applied()); err != nil {
		t.Fatal(err)
	}
	write(t, d.srcReps[0], 100, 5) // acknowledged by the old source only
	write(t, d.srcReps[1], 150, 2)
	write(t, d.dstReps[1], 200, 3) // the new primary's own writes
	resp, err := d.src.node.Resync(ctx, "t", d.id)
	if err != nil {
		t.Fatal(err)
	}
	checkDivergenceFile(t, resp, map[uint32][]int{0: {100, 101, 102, 103, 104}, 1: {150, 151}})
	if f, ok := d.src.meta.follower("t"); !ok || f.DupID != resp.NewDupId || f.SourceCluster != "west" {
		t.Fatalf("the old source's table follows %+v (%v), want duplication %s from west", f, ok, resp.NewDupId)
	}
	if nd, ok := d.dst.meta.Duplication(resp.NewDupId); !ok || nd.ReverseOf != d.id || len(d.dst.meta.Promotions()) != 0 {
		t.Fatalf("the new primary records %+v (%v), promotions %v", nd, ok, d.dst.meta.Promotions())
	}
	identical := func() bool { return sameData(d.dstReps[0], d.srcReps[0]) && sameData(d.dstReps[1], d.srcReps[1]) }
	waitFor(t, "the old source identical to the new primary", identical)
	write(t, d.dstReps[0], 300, 2)
	waitFor(t, "the new primary's next writes shipped", identical)
	if _, err := d.src.node.Resync(ctx, "t", d.id); !errors.Is(err, ErrDupNotFound) || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("resync after it finished: %v, want ErrDupNotFound (removed)", err)
	}
	again, err := d.dst.node.AcceptResync(ctx, &tpb.AcceptResyncRequest{Table: "t", DupId: d.id, Cluster: "east", Addrs: []string{d.src.addr()}, Partitions: 2})
	if err != nil || again.NewDupId != resp.NewDupId {
		t.Fatalf("the new primary's part run again: %+v %v, want duplication %s", again, err, resp.NewDupId)
	}
}

// A resync refused after the fence (a partition's divergent log is gone:
// the retention cap, not the floor, bounded it) leaves everything as it
// was: the old source takes writes and still has its duplication, the new
// primary is still promoted.
func TestResyncRefusedLeavesTheTableAsItWas(t *testing.T) {
	compactFast := func(rt *replica.RaftTiming) {
		rt.SnapshotThreshold, rt.TrailingLogs, rt.SnapshotInterval = 16, 0, 20*time.Millisecond
	}
	d := mustNewDupPair(t, 2, clusterOptions{refresh: 20 * time.Millisecond, timing: compactFast}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	ctx := context.Background()
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	d.src.mu.Lock()
	d.src.retention = logdb.RetentionCap{MaxBytes: 1, MaxAge: time.Hour}
	d.src.mu.Unlock()
	waitFor(t, "the divergent log compacted away past the cap", func() bool {
		write(t, d.srcReps[1], 100, 20)
		_, _, err := d.srcReps[1].ReadLog(d.dstReps[1].SourceDecree()+1, 1)
		return errors.Is(err, replica.ErrLogGone)
	})
	if _, err := d.src.node.Resync(ctx, "t", d.id); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("resync of a divergent log that is gone: %v, want ErrRefused", err)
	}
	write(t, d.srcReps[0], 200, 1) // unfenced: the old source takes writes again
	write(t, d.srcReps[1], 200, 1)
	if _, err := d.src.node.Find("t", d.id); err != nil || len(d.dst.meta.Promotions()) != 1 || len(d.dst.meta.Duplications()) != 0 {
		t.Fatalf("after a refused resync: source dup %v, remote promotions %v, remote dups %v", err, d.dst.meta.Promotions(), d.dst.meta.Duplications())
	}
	if _, ok := d.src.meta.follower("t"); ok {
		t.Fatal("a refused resync made the table a follower")
	}
}

// A divergence larger than a page travels in pages: with pages of about
// 100 bytes, 40 divergent writes on one partition and 7 on the other are
// all in the file, once each, in order; the new primary records the file,
// its node and its counts on the duplication back (dup show names them).
func TestResyncPagesTheDivergence(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	d.src.node.cfg.DivergePageBytes = 100
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	ctx := context.Background()
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	write(t, d.srcReps[0], 100, 40)
	write(t, d.srcReps[1], 500, 7)
	resp, err := d.src.node.Resync(ctx, "t", d.id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]int{}
	for i := 0; i < 40; i++ {
		want[0] = append(want[0], 100+i)
	}
	for i := 0; i < 7; i++ {
		want[1] = append(want[1], 500+i)
	}
	checkDivergenceFile(t, resp, want)
	nd, ok := d.dst.meta.Duplication(resp.NewDupId)
	wantDiv := Divergence{File: resp.DivergenceFile, Node: "east-n1", Cluster: "east", Entries: 47, Mutations: 47, Bytes: resp.DivergenceBytes, FromDup: d.id}
	if !ok || nd.Divergence == nil || nd.Divergence.AtMs == 0 {
		t.Fatalf("the new primary's duplication back records no divergence: %+v (%v)", nd, ok)
	}
	got := *nd.Divergence
	if got.AtMs = 0; got != wantDiv {
		t.Fatalf("recorded divergence %+v, want %+v", got, wantDiv)
	}
	show, err := d.dst.node.Show(ctx, "t", resp.NewDupId)
	if err != nil || show.Duplication.GetDivergence().GetFile() != resp.DivergenceFile || show.Duplication.GetDivergence().GetMutations() != 47 {
		t.Fatalf("dup show on the new primary: %v %v", show, err)
	}
	waitFor(t, "the old source identical to the new primary", d.caughtUpReverse)
}

// caughtUpReverse reports whether every old-source partition holds the
// new primary's data.
func (d *dupPair) caughtUpReverse() bool {
	for p, s := range d.dstReps {
		if !sameData(s, d.srcReps[p]) {
			return false
		}
	}
	return true
}

// checkDivergenceFile checks that resp's file holds exactly the writes of
// keys want[p] to each partition p, in order, above its source decree.
func checkDivergenceFile(t *testing.T, resp *tpb.ResyncResponse, want map[uint32][]int) {
	t.Helper()
	b, err := os.ReadFile(resp.DivergenceFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	n := len(want[0]) + len(want[1])
	if len(lines) != n || resp.DivergentEntries != uint64(n) || resp.DivergentMutations != uint64(n) || resp.DivergenceBytes != uint64(len(b)) {
		t.Fatalf("divergence file of %d lines, answer %+v:\n%s", len(lines), resp, b)
	}
	for i, l := range lines {
		var e DivergentEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		p := uint32(0)
		if i >= len(want[0]) {
			p = 1
		}
		w := DivergentMutation{Op: "set", HashKey: fmt.Sprintf("k%06d", want[p][i-int(p)*len(want[0])]), SortKey: "s", Value: "v"}
		if e.Table != "t" || e.Partition != p || e.Decree <= resp.SourceDecrees[p] || e.CommitUnixMs == 0 || len(e.Mutations) != 1 || e.Mutations[0] != w {
			t.Fatalf("divergence line %d: %s, want %+v on partition %d above decree %d", i, l, w, p, resp.SourceDecrees[p])
		}
	}
}

// Keys and values that are not UTF-8 travel as base64; deletes carry no
// value.
func TestDivergentEntryKeepsBinaryKeys(t *testing.T) {
	if txt, b64 := textOrBase64([]byte{0xff, 0x00}); txt != "" || b64 != "/wA=" {
		t.Fatalf("binary key: %q %q", txt, b64)
	}
	if txt, b64 := textOrBase64([]byte("u1")); txt != "u1" || b64 != "" {
		t.Fatalf("text key: %q %q", txt, b64)
	}
}

// dup resync TABLE OLD_SOURCE_ADDR on the promoted side (INTERFACE.md's
// spelling) is refused before a promote, says an old source that does not
// answer is unreachable with nothing changed, and otherwise has the old
// source run the resync: it follows the new primary, its divergence saved.
func TestResyncFromThePromotedSide(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)
	ctx := context.Background()
	if _, err := d.dst.node.ResyncFrom(ctx, "t", d.src.addr()); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not promoted") {
		t.Fatalf("resync of a table that was not promoted: %v, want ErrRefused", err)
	}
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	write(t, d.srcReps[0], 100, 3) // acknowledged by the old source only
	if _, err := d.dst.node.ResyncFrom(ctx, "t", "127.0.0.1:1"); !errors.Is(err, ErrRemoteUnreachable) {
		t.Fatalf("resync from an old source that does not answer: %v, want ErrRemoteUnreachable", err)
	}
	if _, ok := d.src.meta.follower("t"); ok || len(d.dst.meta.Promotions()) != 1 {
		t.Fatal("a resync that reached nobody changed something")
	}
	resp, err := d.dst.node.ResyncFrom(ctx, "t", d.src.addr())
	if err != nil {
		t.Fatal(err)
	}
	checkDivergenceFile(t, resp, map[uint32][]int{0: {100, 101, 102}})
	if f, ok := d.src.meta.follower("t"); !ok || f.DupID != resp.NewDupId {
		t.Fatalf("the old source's table follows %+v (%v), want duplication %s", f, ok, resp.NewDupId)
	}
	waitFor(t, "the old source identical to the new primary", func() bool {
		return sameData(d.dstReps[0], d.srcReps[0]) && sameData(d.dstReps[1], d.srcReps[1])
	})
}
