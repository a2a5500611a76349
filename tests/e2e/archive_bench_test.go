package e2e

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// BenchmarkArchive measures the archive on real processes and a file://
// bucket: a base's upload against copying the same bytes with the blob
// library alone (same run), the bytes the second base uploads after 5% of
// the records changed, the archive's lag under a steady write load, and
// restore throughput. Figures are reported as metrics; nothing is asserted.
func BenchmarkArchive(b *testing.B) {
	dir := b.TempDir()
	benchArchive(b, benchBucket{archiveURL: "file://" + dir, blobURL: "file://" + dir + "?metadata=skip"}, ClusterOptions{})
}

// BenchmarkArchiveS3 is BenchmarkArchive against SeaweedFS's S3 gateway
// (make test-s3 builds weed; TANDEM_WEED names it).
func BenchmarkArchiveS3(b *testing.B) {
	w := startSeaweed(b)
	for _, kv := range s3Env(nil) {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	bb := benchBucket{archiveURL: w.url("bench"),
		blobURL: "s3://tandem?endpoint=http://" + w.s3 + "&region=us-east-1&use_path_style=true&prefix=bench/"}
	benchArchive(b, bb, ClusterOptions{Env: s3Env})
}

func benchArchive(b *testing.B, bb benchBucket, opts ClusterOptions) {
	src := StartClusterWith(b, "east", 1, opts)
	dst := StartClusterWith(b, "west", 1, opts)
	c := dialB(b, src.Addrs())
	const records, valueSize = 32768, 1024 // 32 MiB of incompressible values
	mustShell(b, src, "config set archive.segment_age 1s; create big --partitions 4 --replicas 1")
	tbl, err := c.Table(context.Background(), "big")
	if err != nil {
		b.Fatal(err)
	}
	loadRecords(b, tbl, records, valueSize, "v1")
	b.Run("base-upload-vs-blob-copy", func(b *testing.B) { benchBaseUpload(b, src, c, bb) })
	b.Run("second-base-after-5pct-change", func(b *testing.B) { benchSecondBase(b, src, c, tbl, bb, records/20, valueSize) })
	b.Run("lag-under-steady-load", func(b *testing.B) { benchArchiveLag(b, c, tbl) })
	b.Run("restore", func(b *testing.B) { benchRestore(b, dst, bb) })
}

// benchBucket is where a benchmark archives: the archive's URL, and the
// same place as the blob library opens it.
type benchBucket struct{ archiveURL, blobURL string }

func (bb benchBucket) open(b testing.TB) *blob.Bucket {
	bk, err := blob.OpenBucket(context.Background(), bb.blobURL)
	if err != nil {
		b.Fatal(err)
	}
	return bk
}

// size is the bytes stored under prefix.
func (bb benchBucket) size(b testing.TB, prefix string) int64 {
	bk := bb.open(b)
	defer bk.Close()
	var n int64
	it := bk.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += o.Size
	}
}

// loadRecords writes n records of size bytes with 64 writers.
func loadRecords(b testing.TB, tbl *client.Table, n, size int, tag string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				v := append([]byte(fmt.Sprintf("%s-%d-", tag, i)), randomBytes(size)...)
				if err := tbl.Set(context.Background(), []byte(fmt.Sprintf("k%06d", i)), []byte("s"), v[:size]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// waitBases waits until every partition of big's archive reports at
// least n bases and returns the show answer.
func waitBases(b testing.TB, c *client.Client, n uint64) *tpb.ShowArchiveResponse {
	for deadline := time.Now().Add(5 * time.Minute); ; {
		resp, err := c.ShowArchive(context.Background(), "big")
		if err == nil {
			ok := true
			for _, p := range resp.GetPartitions() {
				ok = ok && p.GetBases() >= n && p.GetState() == "LOG"
			}
			if ok {
				return resp
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("archive never reached %d bases per partition: %v %v", n, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func benchBaseUpload(b *testing.B, src *Cluster, c *client.Client, bb benchBucket) {
	start := time.Now()
	mustShell(b, src, "archive add big '"+bb.archiveURL+"'")
	resp := waitBases(b, c, 1)
	took := time.Since(start)
	var uploaded uint64
	var upload float64 // the partitions' upload times, summed: one after another, as the copy runs
	for _, p := range resp.GetPartitions() {
		uploaded += p.GetBaseBytesUploaded()
		upload += p.GetLastBaseUploadSeconds()
	}
	copyTook := blobCopy(b, bb)
	mib := float64(uploaded) / (1 << 20)
	b.ReportMetric(mib, "MiB")
	b.ReportMetric(mib/upload, "base-MiB/s")
	b.ReportMetric(mib/copyTook.Seconds(), "blob-copy-MiB/s")
	b.ReportMetric(copyTook.Seconds()/upload, "base/blob-copy-speed")
	b.Logf("base of 4 partitions: %.1f MiB uploaded in %.3fs (summed over partitions; archive add to every base listed: %s, checkpoints included); the same files copied with gocloud blob alone: %s",
		mib, upload, took.Round(time.Millisecond), copyTook.Round(time.Millisecond))
}

// blobCopy copies the base's files (fetched to local files first, not
// timed) back into the bucket under copy/ with the blob library alone, as
// the archive uploads them, and returns how long the uploads took.
func blobCopy(b testing.TB, bb benchBucket) time.Duration {
	ctx := context.Background()
	bk := bb.open(b)
	defer bk.Close()
	dir := b.TempDir()
	var names []string
	it := bk.List(&blob.ListOptions{Prefix: "big/files/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		data, err := bk.ReadAll(ctx, o.Key)
		if err != nil {
			b.Fatal(err)
		}
		name := filepath.Base(o.Key)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	start := time.Now()
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		w, err := bk.NewWriter(ctx, "copy/"+name, nil)
		if err == nil {
			_, err = io.Copy(w, f)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func benchSecondBase(b *testing.B, src *Cluster, c *client.Client, tbl *client.Table, bb benchBucket, changed, size int) {
	waitBases(b, c, 1)
	before := bb.size(b, "big/files/")
	loadRecords(b, tbl, changed, size, "v2") // k000000.. overwritten: 5% of the records
	mustShell(b, src, "config set archive.base_interval 1s")
	waitBases(b, c, 2)
	mustShell(b, src, "config set archive.base_interval 6h")
	added := bb.size(b, "big/files/") - before // content-addressed: only files no earlier base had
	b.ReportMetric(float64(added)/(1<<20), "second-base-new-MiB")
	b.ReportMetric(float64(added)/float64(before), "new/first")
	b.Logf("first base: %.2f MiB of files; after 5%% of the records changed, the next base added %.2f MiB (%.1f%%) to the bucket",
		float64(before)/(1<<20), float64(added)/(1<<20), 100*float64(added)/float64(before))
}

// benchArchiveLag writes 200 records a second for 10 s and samples the
// archive's worst partition lag every 100 ms.
func benchArchiveLag(b *testing.B, c *client.Client, tbl *client.Table) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = tbl.Set(context.Background(), []byte(fmt.Sprintf("lag%06d", i)), []byte("s"), []byte("value"))
			}
		}
	}()
	var lags []float64
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if resp, err := c.ShowArchive(context.Background(), "big"); err == nil {
			lags = append(lags, resp.GetArchive().GetMaxLagSeconds())
		}
	}
	close(stop)
	wg.Wait()
	sort.Float64s(lags)
	if len(lags) == 0 {
		b.Fatal("no lag sample")
	}
	p := func(q float64) float64 { return lags[int(q*float64(len(lags)-1))] }
	b.ReportMetric(p(0.5), "lag-p50-s")
	b.ReportMetric(p(0.99), "lag-p99-s")
	b.Logf("archive lag under ~200 writes/s, archive.segment_age 1s: p50 %.3fs p99 %.3fs max %.3fs (%d samples)", p(0.5), p(0.99), lags[len(lags)-1], len(lags))
}

func benchRestore(b *testing.B, dst *Cluster, bb benchBucket) {
	c := dialB(b, dst.Addrs())
	start := time.Now()
	resp, err := c.Restore(context.Background(), "big", bb.archiveURL, "", client.RestorePoint{})
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	var logBytes uint64
	for _, p := range resp.GetPartitions() {
		logBytes += p.GetBytes()
	}
	size := bb.size(b, "big/files/")
	mib := float64(size+int64(logBytes)) / (1 << 20)
	b.ReportMetric(mib/took.Seconds(), "restore-MiB/s")
	b.ReportMetric(took.Seconds(), "restore-s")
	b.Logf("restored big (4 partitions, %.1f MiB of base files in the bucket, %.2f MiB of log replayed) in %s: %.1f MiB/s",
		float64(size)/(1<<20), float64(logBytes)/(1<<20), took.Round(time.Millisecond), mib/took.Seconds())
}

// randomBytes returns n incompressible bytes, so the table's size on disk
// is its values' size.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return b
}
