package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The archive against a real S3-compatible server: SeaweedFS's weed, built
// from its module source by `make test-s3`, which passes its path in
// TANDEM_WEED. Without it these tests are skipped (make test stays fast).

// seaweed is one `weed server -s3` process on 127.0.0.1.
type seaweed struct {
	t    testing.TB
	bin  string
	dir  string
	s3   string // host:port of the S3 gateway
	args []string
	cmd  *exec.Cmd
}

func startSeaweed(t testing.TB) *seaweed {
	t.Helper()
	bin := os.Getenv("TANDEM_WEED")
	if bin == "" {
		t.Skip("TANDEM_WEED (a SeaweedFS weed binary) is not set: run make test-s3")
	}
	port := func() int { _, p, _ := net.SplitHostPort(FreeAddr(t)); var n int; fmt.Sscan(p, &n); return n }
	// weed listens for gRPC at each HTTP port + 10000: pick HTTP ports
	// below 55535 whose neighbours are free as far as we can tell.
	ports := make([]int, 4)
	for i := range ports {
		for ports[i] = port(); ports[i] > 55000; ports[i] = port() {
		}
	}
	w := &seaweed{t: t, bin: bin, dir: t.TempDir(), s3: fmt.Sprintf("127.0.0.1:%d", ports[3])}
	w.args = []string{"server", "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1", "-dir", w.dir, "-s3",
		"-master.port", fmt.Sprint(ports[0]), "-volume.port", fmt.Sprint(ports[1]), "-filer.port", fmt.Sprint(ports[2]),
		"-s3.port", fmt.Sprint(ports[3]), "-s3.port.iceberg", "0", "-s3.port.lance", "0", "-master.volumeSizeLimitMB", "64", "-volume.max", "64"}
	w.start()
	t.Cleanup(w.stop)
	return w
}

// start runs weed and waits until its S3 gateway answers and the bucket
// "tandem" exists.
func (w *seaweed) start() {
	w.t.Helper()
	log, err := os.OpenFile(filepath.Join(w.dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.cmd = exec.Command(w.bin, w.args...)
	w.cmd.Stdout, w.cmd.Stderr = log, log
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPut, "http://"+w.s3+"/tandem", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusConflict {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(w.dir, "weed.log"))
			w.t.Fatalf("seaweedfs s3 at %s never created the bucket: %v\n%s", w.s3, err, tail(string(b), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *seaweed) stop() {
	if w.cmd != nil && w.cmd.Process != nil {
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		_ = w.cmd.Wait()
		w.cmd = nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// url is the archive URL of prefix in the bucket.
func (w *seaweed) url(prefix string) string {
	return "s3://tandem/" + prefix + "?endpoint=http://" + w.s3 + "&region=us-east-1"
}

// s3Env gives the nodes credentials (SeaweedFS without identities accepts
// any; the SDK wants some).
func s3Env(*Node) []string {
	return []string{"AWS_ACCESS_KEY_ID=tandem", "AWS_SECRET_ACCESS_KEY=tandem-secret", "AWS_EC2_METADATA_DISABLED=true"}
}

// Archive to a real S3-compatible store, with the store killed for a while
// under writes: uploads fail, the floor keeps the log, uploads resume when
// it returns, and a restore has every acknowledged write, identical to the
// source; a time restore works on S3 too.
func TestArchiveToS3ThroughStoreOutage(t *testing.T) {
	w := startSeaweed(t)
	src := StartClusterWith(t, "east", 3, ClusterOptions{Env: s3Env})
	dst := StartClusterWith(t, "west", 1, ClusterOptions{Env: s3Env})
	url := w.url("east")
	mustShell(t, src, "config set archive.segment_age 200ms; create t --partitions 2 --replicas 3; archive add t '"+url+"'")
	c := dial(t, src.Addrs())
	tbl := openTable(t, c, "t")
	writeRound(t, tbl, "one", 40)
	archiveCaughtUp(t, c, "t")
	time1 := time.Now()
	mustShell(t, dst, "restore t '"+url+"'")
	mustIdentical(t, src, dst, "restored from s3")
	mustShell(t, dst, "drop t")

	wr := startWriters(tbl, 2)
	wr.waitAcked(t, 100)
	w.stop() // the store is gone
	wr.waitAcked(t, wr.count()+200)
	t.Logf("archive show while the store is down:\n%s", mustShell(t, src, "archive show t"))
	w.start()
	acked := wr.halt()
	archiveCaughtUp(t, c, "t")
	t.Logf("archive show after the outage:\n%s", mustShell(t, src, "archive show t"))
	resp, err := c.ShowArchive(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.GetPartitions() {
		if p.GetGaps() != 0 {
			t.Fatalf("partition %d lost log during the outage (%d gaps): the floor did not hold it", p.GetPartition(), p.GetGaps())
		}
	}
	mustShell(t, dst, "restore t '"+url+"'")
	mustIdentical(t, src, dst, "restored from s3 after the store's outage")
	verifyAcked(t, openTable(t, dial(t, dst.Addrs()), "t"), acked)
	mustShell(t, dst, "drop t")
	out := mustShell(t, dst, "restore t '"+url+"' --to-time "+time1.UTC().Format(time.RFC3339Nano))
	t.Logf("restore to a time from s3:\n%s", out)
}
