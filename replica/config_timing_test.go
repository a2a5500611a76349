package replica

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestWithElectionTimeoutIsAValidRaftConfig(t *testing.T) {
	for _, d := range []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second} {
		tm := DefaultRaftTiming().WithElectionTimeout(d)
		c := raft.DefaultConfig()
		c.LocalID = "n1"
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout, c.CommitTimeout = tm.HeartbeatTimeout, tm.ElectionTimeout, tm.LeaderLeaseTimeout, tm.CommitTimeout
		if err := raft.ValidateConfig(c); err != nil {
			t.Fatalf("election timeout %v: %v", d, err)
		}
		if tm.LeaderLeaseTimeout >= tm.HeartbeatTimeout || tm.LeaderLeaseTimeout <= 0 {
			t.Fatalf("election timeout %v: lease %v", d, tm.LeaderLeaseTimeout)
		}
	}
}
