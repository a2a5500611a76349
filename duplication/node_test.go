package duplication

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-kv/tandem/replica"
)

// Pullers start when a follower partition's replica becomes leader and
// stop when its table stops following: driven by the replica's leadership
// callback and the metadata's change signal alone (the periodic check is
// an hour away here).
func TestPullersFollowLeadershipAndMetadata(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{refresh: time.Hour})
	write(t, d.srcReps[0], 0, 20)
	write(t, d.srcReps[1], 20, 20)
	d.follow() // no replica of the follower table yet: nothing to pull
	if n := d.dst.pullers(); n != 0 {
		t.Fatalf("%d pullers before the follower table has replicas", n)
	}
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "a puller per led partition", func() bool { return d.dst.pullers() == 2 })
	waitFor(t, "the remote's data equal to the source's", d.caughtUp)
	write(t, d.srcReps[1], 40, 5)
	waitFor(t, "new writes shipped", d.caughtUp)

	d.dst.meta.change(func(m *testMeta) { delete(m.followers, "t") }) // detached
	waitFor(t, "pullers stopped", func() bool { return d.dst.pullers() == 0 })
}

// dup show's partition states come from the remote's reports through the
// source leader; a partition no leader reports is UNKNOWN; a pause shows
// at once; a remote that stopped pulling does not look healthy.
func TestStatusAssembledFromTheSourceLeaders(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
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
	info.Partitions = 3 // a partition this cluster has no leader of
	parts := d.src.node.Status(context.Background(), info)
	if len(parts) != 3 || parts[2].State != string(PartitionUnknown) || parts[2].StateCode != PartitionUnknown.Proto() {
		t.Fatalf("partition without a leader: %v", parts)
	}
	for _, st := range parts[:2] {
		if st.StateCode != PartitionLog.Proto() || st.SourceLeader != d.src.node.cfg.NodeID || st.LastContactUnixMs == 0 {
			t.Fatalf("led partition: %v", st)
		}
	}
	sum := info.Proto()
	Summarize(sum, parts)
	if sum.Progress != "LOG:2 UNKNOWN:1" || sum.StateCode != StateActive.Proto() || sum.State != "active" {
		t.Fatalf("summary %q, state %q (%v)", sum.Progress, sum.State, sum.StateCode)
	}

	d.src.meta.change(func(m *testMeta) { i := m.dups[d.id]; i.State = StatePaused; m.dups[d.id] = i })
	paused, _ := d.src.meta.Duplication(d.id)
	for _, st := range d.src.node.Status(context.Background(), paused) {
		if st.StateCode != PartitionPaused.Proto() {
			t.Fatalf("paused duplication shows %v", st)
		}
	}
	d.src.meta.change(func(m *testMeta) { i := m.dups[d.id]; i.State = StateActive; m.dups[d.id] = i })
	d.dst.node.Close() // the remote stops pulling
	d.src.mu.Lock()
	d.src.now = time.Now().Add(time.Minute)
	d.src.mu.Unlock()
	for _, st := range d.src.node.Status(context.Background(), info) {
		if st.Partition < 2 && !strings.HasPrefix(st.LastError, "no pull from the remote for") {
			t.Fatalf("silent remote: last error %q", st.LastError)
		}
	}
}

// A removed duplication's floors, base pins and metrics go: every node
// releases them once its metadata lists the duplication as removed.
func TestRemovedDuplicationReleasesFloorsPinsAndMetrics(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{refresh: 20 * time.Millisecond}, clusterOptions{})
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 1)
	waitFor(t, "caught up", d.caughtUp)
	src := d.srcReps[0]
	if _, ok := src.Confirmed()[d.id]; !ok {
		t.Fatal("no floor for the duplication on the source")
	}
	if !pinnedBy(src, d.id) {
		t.Fatal("the base is not pinned for the duplication")
	}
	waitFor(t, "lag gauges", func() bool { return series(d.src.node.met.lagDecrees) == 1 })

	d.dst.node.Close()
	d.src.meta.change(func(m *testMeta) { delete(m.dups, d.id); m.removed[d.id] = true })
	waitFor(t, "floor released", func() bool { _, ok := src.Confirmed()[d.id]; return !ok })
	waitFor(t, "base unpinned", func() bool { return !pinnedBy(src, d.id) })
	waitFor(t, "metrics forgotten", func() bool { return series(d.src.node.met.lagDecrees) == 0 })
}

func pinnedBy(r *replica.Replica, id string) bool {
	for _, v := range r.Catalog().List() {
		for _, o := range v.PinnedBy {
			if o == PinOwner(id) {
				return true
			}
		}
	}
	return false
}

// A remote that stayed away past the retention cap (pushed to every
// replica) finds the log it needs gone and re-bootstraps from a new base;
// dup show counts it and says why.
func TestRemoteBehindTheRetentionCapRebootstraps(t *testing.T) {
	compactFast := func(rt *replica.RaftTiming) {
		rt.SnapshotThreshold, rt.TrailingLogs, rt.SnapshotInterval = 16, 0, 20*time.Millisecond
	}
	d := mustNewDupPair(t, 1, clusterOptions{refresh: 20 * time.Millisecond, timing: compactFast}, clusterOptions{})
	d.src.mu.Lock()
	d.src.retention = replica.RetentionCap{MaxBytes: 1, MaxAge: time.Hour}
	d.src.mu.Unlock()
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 1)
	waitFor(t, "caught up", d.caughtUp)

	d.dst.meta.change(func(m *testMeta) { delete(m.followers, "t") }) // the remote goes away
	waitFor(t, "pullers stopped", func() bool { return d.dst.pullers() == 0 })
	src, dst := d.srcReps[0], d.dstReps[0]
	waitFor(t, "the remote's next decree compacted away", func() bool {
		write(t, src, 100, 20)
		_, _, err := src.ReadLog(dst.SourceDecree()+1, 1)
		return errors.Is(err, replica.ErrLogGone)
	})
	d.follow()
	waitFor(t, "caught up through a new base", d.caughtUp)
	info, _ := d.src.meta.Duplication(d.id)
	waitFor(t, "the re-bootstrap reported", func() bool {
		st := d.src.node.Status(context.Background(), info)[0]
		return st.Rebootstraps == 1 && strings.HasPrefix(st.LastError, ErrRebootstrap.Error())
	})
}

// pinBase keeps one base pinned per duplication; unpinRemoved drops the
// pins of removed duplications only.
func TestBasePinsPerDuplication(t *testing.T) {
	c := mustNewCluster(t, "east", clusterOptions{})
	r := c.mustOpenTable("t", 1)[0]
	write(t, r, 0, 3)
	first, err := r.Checkpoint(context.Background(), replica.PurposeManual)
	if err != nil {
		t.Fatal(err)
	}
	write(t, r, 3, 3)
	second, err := r.Checkpoint(context.Background(), replica.PurposeManual)
	if err != nil {
		t.Fatal(err)
	}
	cat := r.Catalog()
	for _, step := range []struct{ id, dup string }{{first.ID, "a"}, {first.ID, "b"}, {second.ID, "a"}} {
		if err := pinBase(cat, step.id, step.dup); err != nil {
			t.Fatal(err)
		}
	}
	if got := pins(cat); got[first.ID] != "dup:b" || got[second.ID] != "dup:a" {
		t.Fatalf("pins after moving a's base: %v", got)
	}
	unpinRemoved(cat, map[string]bool{"a": true})
	if got := pins(cat); got[first.ID] != "dup:b" || got[second.ID] != "" {
		t.Fatalf("pins after removing a: %v", got)
	}
}

func pins(cat *replica.Catalog) map[string]string {
	out := map[string]string{}
	for _, v := range cat.List() {
		out[v.ID] = strings.Join(v.PinnedBy, ",")
	}
	return out
}

// series counts the series a collector has.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
