package server_test

import (
	"testing"
	"time"

	"github.com/tandem-kv/tandem/server/servertest"
)

// raft.trailing_logs and raft.snapshot_threshold reach every replica's raft
// at run time, and tables created afterwards start with them.
func TestRaftLogSettingsChangeAtRuntime(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("before", 2, 3)
	cli := mustDial(t, cl.Addrs()...)
	for k, v := range map[string]string{"raft.trailing_logs": "7", "raft.snapshot_threshold": "64"} {
		if _, err := cli.SetConfig(ctx(t), k, v); err != nil {
			t.Fatal(err)
		}
	}
	cl.CreateTable("after", 1, 3)
	servertest.WaitFor(t, 10*time.Second, "every replica's raft has the new settings", func() bool {
		for i := range cl.Nodes {
			for _, tp := range []struct {
				table string
				p     uint32
			}{{"before", 0}, {"before", 1}, {"after", 0}} {
				r := cl.Replica(i, tp.table, tp.p)
				if r == nil {
					return false
				}
				rc := r.RaftSettings()
				if rc.TrailingLogs != 7 || rc.SnapshotThreshold != 64 {
					return false
				}
			}
		}
		return true
	})
	if _, err := cli.SetConfig(ctx(t), "raft.trailing_logs", "-1"); err == nil {
		t.Fatal("raft.trailing_logs -1 accepted")
	}
}
