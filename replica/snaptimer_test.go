package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A snapshot interval lowered at run time takes effect at the new interval,
// not once the old one (here an hour) has passed: raft snapshots and
// compacts its log behind the trailing entries.
func TestLoweredSnapshotIntervalTakesEffect(t *testing.T) {
	timing := FastRaftTiming()
	timing.SnapshotInterval, timing.SnapshotThreshold, timing.TrailingLogs = time.Hour, 16, 4
	n := mustNewHBNode(t, "n1", timing, time.Millisecond)
	r := n.open(1, []*hbNode{n})
	leaderOf(t, []*hbNode{n}, 1)
	for i := 0; i < 40; i++ {
		put(t, r, fmt.Sprintf("k%d", i), "v")
	}
	if st := r.LogStats(); st.Entries < 40 {
		t.Fatalf("log compacted before the interval was lowered: %+v", st)
	}
	if err := r.UpdateRaft(func(c *raft.ReloadableConfig) { c.SnapshotInterval = 50 * time.Millisecond }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a raft snapshot compacting the log at the lowered interval", func() bool {
		return r.LogStats().Entries <= 16
	})
}
