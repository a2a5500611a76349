package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// archiveCaughtUp waits until every partition of table's archive has
// archived what its leader applied, and returns the archived decrees.
func archiveCaughtUp(t testing.TB, c *client.Client, table string) map[uint32]uint64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.ShowArchive(ctx, table)
		cancel()
		if err == nil {
			done := map[uint32]uint64{}
			for _, p := range resp.GetPartitions() {
				if p.GetState() == "LOG" && p.GetLagDecrees() == 0 && p.GetArchivedDecree() > 0 {
					done[p.GetPartition()] = p.GetArchivedDecree()
				}
			}
			if len(done) == len(resp.GetPartitions()) {
				return done
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive of %s never caught up: %v %v", table, resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustShell runs a shell script on a cluster and fails the test on error.
func mustShell(t testing.TB, c *Cluster, script string) string {
	t.Helper()
	out, err := c.Shell(script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeRound sets keys k0..k(n-1) to value prefix-i and deletes every
// fifth, so a round changes records, adds and removes them.
func writeRound(t testing.TB, tbl *client.Table, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		hk, sk := []byte(fmt.Sprintf("k%03d", i)), []byte("s")
		err := tbl.Set(ctx, hk, sk, []byte(fmt.Sprintf("%s-%d", prefix, i)))
		if errors.Is(err, client.ErrAmbiguous) { // a unique value: retrying is safe in a test
			err = tbl.Set(ctx, hk, sk, []byte(fmt.Sprintf("%s-%d", prefix, i)))
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			if err := tbl.Del(ctx, hk, sk); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustIdentical(t testing.TB, a, b *Cluster, what string) {
	const table = "t"
	t.Helper()
	out, ok := Verify(t, a, b, table)
	if !ok {
		t.Fatalf("%s: tandem-verify %s vs %s:\n%s", what, a.Name, b.Name, out)
	}
	t.Logf("%s: %s", what, lastLine(out))
}

// A table archived while it is written restores on other clusters to its
// newest archived point, to a time and to a decree, each identical (by
// tandem-verify) to the source as it was at that point; an unreachable
// point and a corrupted object are refused with typed errors and leave no
// table behind.
func TestArchiveAndPointInTimeRestore(t *testing.T) {
	src := StartCluster(t, "east", 3)
	at1 := StartCluster(t, "west", 1)    // the source at point 1
	other := StartCluster(t, "north", 1) // restores to check against at1 and src
	bucket := t.TempDir()
	url := "file://" + bucket
	mustShell(t, src, "create t --partitions 2 --replicas 3; config set archive.segment_age 200ms")
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	writeRound(t, tbl, "before-archive", 40)
	out := mustShell(t, src, "archive add t "+url)
	if id := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]); !strings.HasPrefix(id, "ar-") {
		t.Fatalf("archive add printed %q", out)
	}
	writeRound(t, tbl, "one", 60)
	point1 := archiveCaughtUp(t, c, "t")
	time1 := time.Now()
	t.Logf("point 1: decrees %v at %s", point1, time1.Format(time.RFC3339Nano))
	t.Logf("archive show:\n%s", mustShell(t, src, "archive show t"))

	// Restored at the newest point while the source is at it: identical.
	t.Logf("restore:\n%s", mustShell(t, at1, "restore t "+url))
	mustIdentical(t, src, at1, "newest point restored")

	writeRound(t, tbl, "two", 60)
	archiveCaughtUp(t, c, "t")

	restores := []struct{ what, flags string }{
		{"to a time", "--to-time " + time1.UTC().Format(time.RFC3339Nano)},
		{"to a decree per partition", fmt.Sprintf("--to-decree 0:%d,1:%d", point1[0], point1[1])},
	}
	for _, r := range restores {
		t.Logf("restore %s:\n%s", r.what, mustShell(t, other, "restore t "+url+" "+r.flags))
		mustIdentical(t, at1, other, "restored "+r.what)
		if _, same := Verify(t, src, other, "t"); same {
			t.Fatalf("restored %s is identical to the source after its later writes", r.what)
		}
		mustShell(t, other, "drop t")
	}
	mustShell(t, other, "restore t "+url)
	mustIdentical(t, src, other, "newest point after more writes")

	checkUnreachablePoint(t, other, url)
	checkCorruptedObject(t, other, bucket, url)
	checkArchiveLifecycle(t, src, url)
}

// checkUnreachablePoint asks for a decree before the first base: a typed
// error that names the nearest reachable point, and no table.
func checkUnreachablePoint(t *testing.T, cl *Cluster, url string) {
	t.Helper()
	c := dial(t, cl.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Restore(ctx, "t", url, "early", client.RestorePoint{Decree: 1})
	if !errors.Is(err, client.ErrPointUnreachable) || !strings.Contains(err.Error(), "nearest reachable") {
		t.Fatalf("restore before the first base: %v, want ErrPointUnreachable naming the nearest point", err)
	}
	t.Logf("unreachable point: %v", err)
	if out, err := cl.Shell("restore t " + url + " --as early --to-decree 1"); err == nil || !strings.Contains(err.Error(), "nearest reachable after") {
		t.Fatalf("shell restore before the first base: %q %v", out, err)
	}
	if _, err := c.Table(ctx, "early"); !errors.Is(err, client.ErrTableNotFound) {
		t.Fatalf("a refused restore left a table: %v", err)
	}
}

// checkCorruptedObject flips a byte of an archived log segment, then of
// the largest base file: each restore is refused as corrupted (the segment
// by the plan, the base file by the download before its install) and
// leaves no table.
func checkCorruptedObject(t *testing.T, cl *Cluster, bucket, url string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(bucket, "t", "p00000", "wal", "*.seg"))
	files, _ := filepath.Glob(filepath.Join(bucket, "t", "files", "*"))
	if len(segs) == 0 || len(files) == 0 {
		t.Fatalf("nothing archived: segments %v, files %v", segs, files)
	}
	largest := files[0]
	for _, f := range files {
		if a, b := fileSize(f), fileSize(largest); a > b {
			largest = f
		}
	}
	for _, path := range []string{segs[0], largest} {
		restore := flipByte(t, path)
		c := dial(t, cl.Addrs())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := c.Restore(ctx, "t", url, "damaged", client.RestorePoint{})
		if !errors.Is(err, client.ErrArchiveCorrupt) {
			t.Fatalf("restore with %s corrupted: %v, want ErrArchiveCorrupt", path, err)
		}
		t.Logf("corrupted object: %v", err)
		if _, err := c.Table(ctx, "damaged"); !errors.Is(err, client.ErrTableNotFound) {
			t.Fatalf("a corrupted restore left a table: %v", err)
		}
		cancel()
		restore()
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// flipByte changes a byte in the middle of a file and returns the undo.
func flipByte(t *testing.T, path string) func() {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		b[len(b)/2] ^= 0x20
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkArchiveLifecycle pauses, resumes and removes the archive from the
// shell, and checks the typed errors of a second add and of a missing one.
func checkArchiveLifecycle(t *testing.T, src *Cluster, url string) {
	t.Helper()
	if out := mustShell(t, src, "archive pause t; archive show t"); strings.Count(out, " PAUSED ") != 2 {
		t.Fatalf("archive pause:\n%s", out)
	}
	mustShell(t, src, "archive start t")
	c := dial(t, src.Addrs())
	archiveCaughtUp(t, c, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.AddArchive(ctx, "t", "file://"+t.TempDir()); !errors.Is(err, client.ErrAlreadyExists) {
		t.Fatalf("second archive add: %v, want ErrAlreadyExists", err)
	}
	if _, err := c.AddArchive(ctx, "t", "ftp://nowhere/x"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("archive add with a bad url: %v, want ErrInvalidArgument", err)
	}
	mustShell(t, src, "archive rm t")
	if out := mustShell(t, src, "archive ls"); !strings.Contains(out, "(0 archives)") {
		t.Fatalf("archive ls after rm:\n%s", out)
	}
	if _, err := c.ShowArchive(ctx, "t"); !errors.Is(err, client.ErrArchiveNotFound) {
		t.Fatalf("archive show after rm: %v, want ErrArchiveNotFound", err)
	}
	// Another table under the same name may not write into t's archive.
	mustShell(t, src, "drop t; create t --partitions 2 --replicas 3")
	if _, err := c.AddArchive(ctx, "t", url); !errors.Is(err, client.ErrAlreadyExists) || !strings.Contains(err.Error(), "another table") {
		t.Fatalf("archive add of a new table t to the old table's archive: %v, want ErrAlreadyExists", err)
	}
}
