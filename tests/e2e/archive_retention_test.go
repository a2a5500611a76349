package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// waitSnapshotAtLeast waits until nd's log says it persisted a raft
// snapshot of partition 0 of table at decree d or later: raft compacts
// its log right after, as far as the retention floor lets it.
func waitSnapshotAtLeast(t *testing.T, nd *Node, table string, d uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(nd.LogPath())
		for _, line := range strings.Split(string(b), "\n") {
			var e struct {
				Msg    string `json:"msg"`
				Table  string `json:"table"`
				Decree uint64 `json:"decree"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "raft snapshot persisted" && e.Table == table && e.Decree >= d {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no raft snapshot of %s at decree %d or later in %s", table, d, nd.LogPath())
}

func appliedDecree(t *testing.T, c *client.Client, table string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Partitions(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	var d uint64
	for _, p := range resp.GetPartitions() {
		d = max(d, p.GetAppliedDecree())
	}
	return d
}

// The archive's confirmed decree holds the log back while the archive is
// paused and raft compacts, so resuming uploads the log without a gap; past
// the retention cap the log goes, and the archive reports the gap and
// starts a new base. Restores are identical to the source either way.
func TestArchiveFloorHoldsLogAndGapStartsNewBase(t *testing.T) {
	src := StartCluster(t, "east", 1)
	dst := StartCluster(t, "west", 1)
	url := "file://" + t.TempDir()
	// Raft reads its snapshot timings when a group starts: set them first.
	mustShell(t, src, "config set raft.trailing_logs 1; config set raft.snapshot_threshold 16; config set checkpoint.interval 1s;"+
		" config set archive.segment_age 200ms; create t --partitions 1 --replicas 1; archive add t "+url)
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	writeRound(t, tbl, "one", 30)
	archiveCaughtUp(t, c, "t")
	if _, body := src.Nodes[0].httpGet("/metrics"); !strings.Contains(body, `tandem_archive_lag_seconds{partition="0",table="t"}`) ||
		!strings.Contains(body, `tandem_archive_uploaded_bytes{partition="0",table="t"}`) {
		t.Fatalf("/metrics has no archive lag of t/0:\n%s", body)
	}

	mustShell(t, src, "archive pause t")
	writeRound(t, tbl, "two", 60)
	waitSnapshotAtLeast(t, src.Nodes[0], "t", appliedDecree(t, c, "t"))
	mustShell(t, src, "archive start t")
	archiveCaughtUp(t, c, "t")
	show := mustShell(t, src, "archive show t")
	if gaps := archiveGaps(t, c); gaps != 0 {
		t.Fatalf("the floor did not hold the log while paused (%d gaps):\n%s", gaps, show)
	}
	mustShell(t, dst, "restore t "+url)
	mustIdentical(t, src, dst, "restored after a pause")
	mustShell(t, dst, "drop t")

	mustShell(t, src, "archive pause t; config set dup.log_retain_bytes 1")
	writeRound(t, tbl, "three", 60)
	waitSnapshotAtLeast(t, src.Nodes[0], "t", appliedDecree(t, c, "t"))
	mustShell(t, src, "archive start t")
	archiveCaughtUp(t, c, "t")
	show = mustShell(t, src, "archive show t")
	if archiveGaps(t, c) != 1 || !strings.Contains(show, "new base taken") {
		t.Fatalf("a log gone past the cap was not reported as a gap:\n%s", show)
	}
	t.Logf("archive show after the gap:\n%s", show)
	mustShell(t, dst, "restore t "+url)
	mustIdentical(t, src, dst, "restored after a gap")
}

func archiveGaps(t *testing.T, c *client.Client) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.ShowArchive(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetPartitions()[0].GetGaps()
}
