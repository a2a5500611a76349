package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// baseServedBytes is what src's nodes sent as base files for duplication
// id (tandem_duplication_base_served_bytes_total, summed over nodes).
func baseServedBytes(t *testing.T, src *Cluster, id string) float64 {
	t.Helper()
	var sum float64
	prefix := `tandem_duplication_base_served_bytes_total{dup="` + id + `"`
	for _, nd := range src.Nodes {
		_, body := nd.httpGet("/metrics")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, prefix) {
				v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
				if err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				sum += v
			}
		}
	}
	return sum
}

// waitDupLog waits until every partition of duplication id is in LOG.
func waitDupLog(t *testing.T, src *Cluster, id string, partitions int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := src.Shell("dup show t " + id)
		if err == nil && strings.Count(out, " LOG ") == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every partition reached LOG: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// copyTree copies the directory from into to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A duplication seeded from the table's archive (dup add --from-archive)
// takes every partition's base from the bucket: the source serves no base
// file, the remote ends identical (through a kill -9 while it seeds) and
// follows new writes. A plain dup add
// of the same table to a third cluster is the same run's baseline for the
// bytes the source serves. An archive of another table, one without a
// base, and an archive whose point the source's log no longer reaches are
// refused with ErrDupRefused and leave no duplication behind.
func TestDupAddFromArchive(t *testing.T) {
	src := StartCluster(t, "east", 1)
	seeded := StartCluster(t, "west", 1)
	plain := StartCluster(t, "north", 1)
	bucket := t.TempDir()
	url := "file://" + bucket
	mustShell(t, src, "config set raft.trailing_logs 1; config set raft.snapshot_threshold 16; config set checkpoint.interval 1s;"+
		" config set archive.segment_age 200ms; create t --partitions 2 --replicas 1; create u --partitions 2 --replicas 1")
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	loadRecords(t, tbl, 3000, 1024, "bulk")
	mustShell(t, src, "archive add t "+url)
	writeRound(t, tbl, "one", 60)
	archiveCaughtUp(t, c, "t")

	checkSeedRefusals(t, src, seeded, bucket, url)
	checkSeedLogGone(t, src, seeded, c, tbl, url)

	writeRound(t, tbl, "three", 60)
	archiveCaughtUp(t, c, "t")
	writeRound(t, tbl, "four", 60) // after the archived point: the source ships it
	out := mustShell(t, src, "dup add t "+seeded.Nodes[0].Addr+" --from-archive "+url)
	id := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	// kill -9 the remote while it seeds (or just after): the seed resumes
	// from what its replicas stored, still without a base from the source.
	seeded.Nodes[0].Kill()
	seeded.Nodes[0].Start()
	seeded.Nodes[0].WaitHealthy(30 * time.Second)
	waitDupLog(t, src, id, 2)
	writeRound(t, tbl, "five", 60) // the remote follows new writes
	t.Logf("seeded: %s", lastLine(waitIdentical(t, src, seeded, "t", 60*time.Second)))
	t.Logf("dup show:\n%s", mustShell(t, src, "dup show t "+id))
	seededBytes := baseServedBytes(t, src, id)
	if seededBytes != 0 {
		t.Fatalf("the source served %.0f base bytes to a duplication seeded from the archive", seededBytes)
	}

	plainID := dupAdd(t, src, plain, "t")
	waitDupLog(t, src, plainID, 2)
	t.Logf("plain: %s", lastLine(waitIdentical(t, src, plain, "t", 60*time.Second)))
	plainBytes := baseServedBytes(t, src, plainID)
	if plainBytes == 0 {
		t.Fatalf("the base-served counter says 0 for a plain dup add: it measures nothing")
	}
	t.Logf("FIGURE base bytes served by the source: dup add --from-archive %.0f, dup add %.0f (same table, same run)", seededBytes, plainBytes)
}

// checkSeedRefusals: no archive of the table at the URL, an archive of
// another table, an archive without a base.
func checkSeedRefusals(t *testing.T, src, dst *Cluster, bucket, url string) {
	t.Helper()
	other := t.TempDir()
	copyTree(t, filepath.Join(bucket, "t"), filepath.Join(other, "u")) // t's archive where u's would be
	nobase := t.TempDir()
	copyTree(t, filepath.Join(bucket, "t"), filepath.Join(nobase, "t"))
	for _, d := range []string{"bases", "wal"} {
		for _, p := range []string{"p00000", "p00001"} {
			os.RemoveAll(filepath.Join(nobase, "t", p, d))
		}
	}
	c := dial(t, src.Addrs())
	cases := []struct{ what, table, url, want string }{
		{"no archive of the table", "u", url, "not found"},
		{"an archive of another table", "u", "file://" + other, `is of table "t"`},
		{"an archive without a base", "t", "file://" + nobase, "no base"},
	}
	for _, k := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := c.AddDuplication(ctx, k.table, dst.Nodes[0].Addr, client.FromArchive(k.url))
		cancel()
		if !errors.Is(err, client.ErrDupRefused) || !strings.Contains(err.Error(), k.want) {
			t.Fatalf("dup add --from-archive with %s: %v, want ErrDupRefused saying %q", k.what, err, k.want)
		}
		t.Logf("%s: %v", k.what, err)
	}
	if out := mustShell(t, src, "dup ls"); strings.Contains(out, dst.Nodes[0].Addr) {
		t.Fatalf("a refused dup add left a duplication:\n%s", out)
	}
	if _, err := dial(t, dst.Addrs()).Table(context.Background(), "u"); !errors.Is(err, client.ErrTableNotFound) {
		t.Fatalf("a refused dup add left a table on the remote: %v", err)
	}
}

// checkSeedLogGone pauses the archive and lets the source's log go past
// the retention cap: the archive's point is then older than the source's
// log, and dup add --from-archive is refused saying so; the archive,
// started again, takes a new base after its gap.
func checkSeedLogGone(t *testing.T, src, dst *Cluster, c *client.Client, tbl *client.Table, url string) {
	t.Helper()
	mustShell(t, src, "archive pause t; config set dup.log_retain_bytes 1")
	// The cap reaches the log store with the next settings push (each
	// second): a snapshot taken before it leaves the log in place, so write
	// and snapshot again until every partition's log is down to its
	// trailing entries.
	for round := 0; ; round++ {
		writeRound(t, tbl, fmt.Sprintf("two-%d", round), 60)
		waitSnapshotAtLeast(t, src.Nodes[0], "t", appliedDecree(t, c, "t"))
		if logsCompacted(t, src.Nodes[0], "t", 2) {
			break
		}
		if round == 20 {
			t.Fatal("the source's log of t was never compacted past the archived point")
		}
	}
	out, err := src.Shell("dup add t " + dst.Nodes[0].Addr + " --from-archive " + url)
	if err == nil || !strings.Contains(err.Error(), "no longer holds its log") {
		t.Fatalf("dup add --from-archive past the source's log: %q %v", out, err)
	}
	t.Logf("log gone: %v", err)
	mustShell(t, src, "config set dup.log_retain_bytes 1073741824; archive start t")
	archiveCaughtUp(t, c, "t")
}

// logsCompacted reports whether every partition of table on nd keeps at
// most max raft log entries (tandem_raft_log_entries).
func logsCompacted(t *testing.T, nd *Node, table string, max float64) bool {
	t.Helper()
	_, body := nd.httpGet("/metrics")
	seen := 0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, `tandem_raft_log_entries{`) || !strings.Contains(line, `table="`+table+`"`) {
			continue
		}
		seen++
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		if v > max {
			return false
		}
	}
	return seen > 0
}
