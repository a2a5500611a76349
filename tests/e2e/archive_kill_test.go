package e2e

import (
	"testing"
	"time"
)

// The leader of an archived partition is killed with -9 while writes and
// uploads go on: a new leader resumes from what the bucket holds, and a
// restore of the newest archived point is identical to the source and has
// every acknowledged write.
func TestArchiveThroughLeaderKill9(t *testing.T) {
	src := StartCluster(t, "east", 3)
	dst := StartCluster(t, "west", 1)
	url := "file://" + t.TempDir()
	mustShell(t, src, "config set archive.segment_age 200ms; config set archive.segment_bytes 4096; create t --partitions 2 --replicas 3; archive add t "+url)
	c := dial(t, src.Addrs())
	w := startWriters(openTable(t, c, "t"), 4)
	w.waitAcked(t, 300)
	victim := src.Node(leaderOf(t, c, "t", 0))
	victim.Kill()
	w.waitAcked(t, w.count()+300)
	victim.Start()
	victim.WaitHealthy(30 * time.Second)
	w.waitAcked(t, w.count()+200)
	acked := w.halt()
	archiveCaughtUp(t, c, "t")
	t.Logf("archive show after the kill:\n%s", mustShell(t, src, "archive show t"))

	t.Logf("restore:\n%s", mustShell(t, dst, "restore t "+url))
	mustIdentical(t, src, dst, "restored after a leader's kill -9")
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), acked)
}
