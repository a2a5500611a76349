package duplication

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/replica"
)

// gaugeValue returns the value of metric name on reg with label
// partition, and whether there is one.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, partition string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "partition" && lp.GetValue() == partition {
					return m.Gauge.GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// The source's leader exports the re-bootstraps the remote's puller
// reports, so the re-bootstrap alert can fire.
func TestRebootstrapsAreExported(t *testing.T) {
	compactFast := func(rt *replica.RaftTiming) {
		rt.SnapshotThreshold, rt.TrailingLogs, rt.SnapshotInterval = 16, 0, 20*time.Millisecond
	}
	d := mustNewDupPair(t, 1, clusterOptions{refresh: 20 * time.Millisecond, timing: compactFast}, clusterOptions{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.src.node.Collectors()...)
	d.src.mu.Lock()
	d.src.retention = logdb.RetentionCap{MaxBytes: 1, MaxAge: time.Hour}
	d.src.mu.Unlock()
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 1)
	waitFor(t, "caught up", d.caughtUp)
	waitFor(t, "no re-bootstrap exported", func() bool {
		v, ok := gaugeValue(t, reg, "tandem_duplication_rebootstraps", "0")
		return ok && v == 0
	})

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
	waitFor(t, "one re-bootstrap exported", func() bool {
		v, _ := gaugeValue(t, reg, "tandem_duplication_rebootstraps", "0")
		return v == 1
	})
}
