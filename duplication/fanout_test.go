package duplication

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/replica"
)

// Fan-out as the code has it since issue 12 (floors, pins, progress and
// pullers keyed by duplication id): a table duplicates to two remotes at
// once; one goes away past the retention cap while the other keeps up (the
// away one's floor does not hold the log back beyond the cap), and the
// away one comes back through a new base. Both end identical.
func TestFanOutOneRemoteAwayPastTheRetentionCap(t *testing.T) {
	compactFast := func(rt *replica.RaftTiming) {
		rt.SnapshotThreshold, rt.TrailingLogs, rt.SnapshotInterval = 16, 0, 20*time.Millisecond
	}
	d := mustNewDupPair(t, 1, clusterOptions{refresh: 20 * time.Millisecond, timing: compactFast}, clusterOptions{})
	south := mustNewCluster(t, "south", clusterOptions{})
	const second = "18"
	d.src.meta.change(func(m *testMeta) {
		m.dups[second] = Info{ID: second, Table: "t", RemoteAddr: south.addr(), RemoteCluster: "south", State: StateActive, Partitions: 1}
	})
	d.src.mu.Lock()
	d.src.retention = logdb.RetentionCap{MaxBytes: 1, MaxAge: time.Hour}
	d.src.mu.Unlock()
	write(t, d.srcReps[0], 0, 10)
	d.follow()
	followSouth := func() {
		south.meta.change(func(m *testMeta) {
			m.followers["t"] = Follower{Table: "t", DupID: second, SourceCluster: "east", SourceAddrs: []string{d.src.addr()}}
		})
	}
	followSouth()
	d.dstReps = d.dst.mustOpenTable("t", 1)
	southReps := south.mustOpenTable("t", 1)
	src := d.srcReps[0]
	waitFor(t, "both remotes caught up", func() bool { return sameData(src, d.dstReps[0]) && sameData(src, southReps[0]) })
	if c := src.Confirmed(); c[d.id] == 0 || c[second] == 0 {
		t.Fatalf("floors per duplication: %v", c)
	}

	south.meta.change(func(m *testMeta) { delete(m.followers, "t") }) // south goes away
	waitFor(t, "south's pullers stopped", func() bool { return south.pullers() == 0 })
	waitFor(t, "south's next decree compacted away (the cap, not its floor, bounds the log)", func() bool {
		write(t, src, 100, 20)
		_, _, err := src.ReadLog(southReps[0].SourceDecree()+1, 1)
		return errors.Is(err, replica.ErrLogGone)
	})
	waitFor(t, "west kept up while south was away", func() bool { return sameData(src, d.dstReps[0]) })
	info, _ := d.src.meta.Duplication(d.id)
	for _, st := range d.src.node.Status(context.Background(), info) {
		if st.Rebootstraps != 0 {
			t.Fatalf("west re-bootstrapped because south was away: %+v", st)
		}
	}
	followSouth()
	waitFor(t, "south caught up through a new base", func() bool { return sameData(src, southReps[0]) })

	// A switched-over table would become a follower, which feeds no one.
	if _, err := d.src.node.Switchover(context.Background(), "t", d.id); !errors.Is(err, ErrRefused) {
		t.Fatalf("switchover of a table with two remotes: %v, want ErrRefused", err)
	}
	write(t, src, 500, 1) // and the refusal left the table writable
}
