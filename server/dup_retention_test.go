package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A remote down while the source writes well past dup.log_retain_bytes,
// with raft's snapshot settings lowered at run time after the table was
// created (as the duplication chaos run does): the source's raft snapshots
// compact the log past the remote's confirmed decree (the byte cap
// overrides its floor), so the remote, back, is told the log is gone and
// re-bootstraps. Raft used to keep its snapshot timer armed with the old
// interval (10 to 20 minutes), so the log was not compacted at all.
func TestDuplicationByteCapCompactsPastADownRemote(t *testing.T) {
	src := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 1, 1)
	cli := mustDial(t, src.Addrs()...)
	for _, kv := range [][2]string{{"dup.log_retain_bytes", "16384"}, {"raft.trailing_logs", "16"}, {"raft.snapshot_threshold", "64"}, {"checkpoint.interval", "1s"}} {
		if _, err := cli.SetConfig(ctx(t), kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	srcTbl := mustTable(t, cli, "t")
	writeN(t, srcTbl, 0, 20)
	dup, err := cli.AddDuplication(ctx(t), "t", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, cli, "t", dup.Id)

	dst.Stop(0)
	leader := src.Replica(0, "t", 0)
	reached := leader.Applied() // the remote got no further
	writeN(t, srcTbl, 20, 1500) // ~43 bytes of log each: 4 times the cap
	servertest.WaitFor(t, 30*time.Second, "log compacted past the down remote's decree", func() bool {
		_, _, err := leader.ReadLog(reached+1, 1<<20)
		return errors.Is(err, replica.ErrLogGone)
	})

	dst.Restart(0)
	dst.WaitReady()
	waitSame(t, srcTbl, mustTable(t, mustDial(t, dst.Addrs()...), "t"), "remote re-bootstrapped")
	resp, err := cli.ShowDuplication(ctx(t), "t", dup.Id)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Partitions[0]; p.Rebootstraps < 1 || !strings.Contains(p.LastError, "gone") || p.BaseDecree <= reached {
		t.Fatalf("dup show after the log was gone: rebootstraps %d, base decree %d (remote was at %d), last error %q", p.Rebootstraps, p.BaseDecree, reached, p.LastError)
	}
}
