package server_test

import (
	"testing"
	"time"

	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// slowFailureDetection gives data groups a heartbeat timeout longer than
// these tests wait for a leader (raft alone elects 10 to 20 s after the
// last contact), so a leader they see elected was elected by Campaign (new
// groups, at once) or by PeerWatch's expedite (a dead leader, after the
// 3 s lease timeout).
func slowFailureDetection(c *server.Config) {
	c.Raft = replica.FastRaftTiming().WithElectionTimeout(slowTimeout)
	c.Raft.LeaderLeaseTimeout = 3 * time.Second
}

const slowTimeout = 10 * time.Second

func TestNewGroupsElectWithoutWaitingForATimeout(t *testing.T) {
	cl := servertest.MakeCluster(t, 3, slowFailureDetection)
	cl.CreateTable("t", 8, 3) // waits for every partition's leader
	for p := uint32(0); p < 8; p++ {
		if cl.LeaderOf("t", p) < 0 {
			t.Fatalf("partition %d has no leader", p)
		}
	}
}

func TestDeadLeadersNodeIsReplacedAfterTheLeaseTimeout(t *testing.T) {
	cl := servertest.MakeCluster(t, 3, slowFailureDetection)
	cl.CreateTable("t", 4, 3)
	victim := cl.LeaderOf("t", 0)
	led := []uint32{}
	for p := uint32(0); p < 4; p++ {
		if cl.LeaderOf("t", p) == victim {
			led = append(led, p)
		}
	}
	cl.Stop(victim) // its port closes: peers see the process gone
	for _, p := range led {
		servertest.WaitFor(t, slowTimeout-time.Second, "a new leader of a partition the stopped node led", func() bool {
			l := cl.LeaderOf("t", p)
			return l >= 0 && l != victim
		})
	}
	// Once leaders exist, the followers' timeouts are back to the
	// configured ones.
	servertest.WaitFor(t, 10*time.Second, "timeouts restored", func() bool {
		for i := range cl.Nodes {
			if i == victim {
				continue
			}
			for _, p := range led {
				r := cl.Replica(i, "t", p)
				if r == nil || r.RaftSettings().HeartbeatTimeout != slowTimeout {
					return false
				}
			}
		}
		return true
	})
}

// A follower whose node comes back gets the log at once, not at raft's
// next idle commit refresh (30 s here).
func TestReturningFollowerCatchesUpAtOnce(t *testing.T) {
	cl := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Raft.CommitTimeout = 30 * time.Second })
	cl.CreateTable("t", 1, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	writeN(t, tbl, 0, 1)
	leader := cl.LeaderOf("t", 0)
	follower := (leader + 1) % 3
	cl.Stop(follower)
	writeN(t, tbl, 1, 2)
	cl.Restart(follower)
	servertest.WaitFor(t, 20*time.Second, "the restarted follower applies the write it missed", func() bool {
		l, f := cl.Replica(leader, "t", 0), cl.Replica(follower, "t", 0)
		return l != nil && f != nil && f.Applied() >= l.Applied()
	})
}
