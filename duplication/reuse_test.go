package duplication

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/replica"
)

// dirHolder is a FileHolder over a plain directory of files (and an empty
// catalog): what a replica's data directory looks like to base reuse.
type dirHolder struct {
	dir string
	cat *checkpoint.Catalog
}

func (h dirHolder) DataDir() string              { return h.dir }
func (h dirHolder) Catalog() *checkpoint.Catalog { return h.cat }

func newDirHolder(t *testing.T) dirHolder {
	t.Helper()
	cat, err := checkpoint.OpenCatalog(t.TempDir(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return dirHolder{dir: t.TempDir(), cat: cat}
}

// baseBytes reads what the node's pullers loaded from source (dup 17).
func baseBytes(c *testCluster, source string) int64 {
	return loadedBytes(c, "17", source)
}

// loadedBytes reads tandem_duplication_base_bytes_total of dup id, table t.
func loadedBytes(c *testCluster, id, source string) int64 {
	var m dto.Metric
	if err := c.node.met.baseLoaded.WithLabelValues(id, "t", source).Write(&m); err != nil {
		return -1
	}
	return int64(m.GetCounter().GetValue())
}

// sourceBase takes a checkpoint of r with records in two SST files and
// returns its manifest: a puller's Prepare then gets a base listing the
// same SSTs (nothing is written in between).
func sourceBase(t *testing.T, r *replica.Replica) *checkpoint.Manifest {
	t.Helper()
	write(t, r, 0, 200)
	if _, err := r.CreateCheckpoint(checkpoint.PurposeDuplication); err != nil {
		t.Fatal(err)
	}
	write(t, r, 200, 200)
	m, err := r.CreateCheckpoint(checkpoint.PurposeDuplication)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// split returns the SST files of m.
func split(m *checkpoint.Manifest) (ssts []checkpoint.FileInfo) {
	for _, f := range m.Files {
		if strings.HasSuffix(f.Name, ".sst") {
			ssts = append(ssts, f)
		}
	}
	return ssts
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// startReusingPuller runs a puller of dup 17 on a new one-partition table
// of cluster c with reuse, waits until it holds the source's data, and
// returns the base it loaded.
func startReusingPuller(t *testing.T, d *dupPair, c *testCluster, reuse Reuse) *checkpoint.Manifest {
	t.Helper()
	rs := c.mustOpenTable("t", 1)
	reuse.Metrics = c.node.met
	p := StartPuller(PullerConfig{DupID: d.id, Table: "t", Partition: 0, SourceAddrs: []string{d.src.addr()}, Replica: rs[0],
		WorkDir: filepath.Join(t.TempDir(), "dup-base"), Dial: c.dial, NodeID: c.name + "-n1", Logger: zap.NewNop(), Reuse: reuse})
	t.Cleanup(p.Stop)
	waitFor(t, "the base loaded and the data identical", func() bool { return rs[0].SourceDecree() > 0 && sameData(d.srcReps[0], rs[0]) })
	p.mu.Lock()
	id := p.baseID
	p.mu.Unlock()
	m, ok := d.srcReps[0].Catalog().Get(id)
	if !ok {
		t.Fatalf("base %q is not in the source's catalog", id)
	}
	return m
}

// bytesOf sums the sizes of the files of m that are in want.
func bytesOf(m *checkpoint.Manifest, want []checkpoint.FileInfo) int64 {
	var n int64
	for _, f := range m.Files {
		for _, w := range want {
			if f == w {
				n += f.Size
			}
		}
	}
	return n
}

// A base whose SST files the puller's own replica holds takes them from
// there, hard-linked, not from the remote; a file of the right name and
// size but other content is not used: it comes from the remote.
func TestBaseReusesLocalFilesWithTheirChecksum(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{}, clusterOptions{})
	m := sourceBase(t, d.srcReps[0])
	ssts := split(m)
	if len(ssts) < 2 {
		t.Fatalf("base has SSTs %v, want two or more", ssts)
	}
	h := newDirHolder(t)
	srcDir := d.srcReps[0].Catalog().Dir(m.ID)
	for _, f := range ssts {
		copyFile(t, filepath.Join(srcDir, f.Name), filepath.Join(h.dir, f.Name))
	}
	bad := ssts[0] // same name and size, one byte changed
	b, err := os.ReadFile(filepath.Join(h.dir, bad.Name))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(h.dir, bad.Name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded := startReusingPuller(t, d, d.dst, Reuse{Holder: h})
	wantLocal := bytesOf(loaded, ssts[1:])
	if bytesOf(loaded, ssts[:1]) != bad.Size || wantLocal == 0 {
		t.Fatalf("the base loaded %+v does not list the SSTs %+v", loaded.Files, ssts)
	}
	if local, remote := baseBytes(d.dst, fromLocal), baseBytes(d.dst, fromRemote); local != wantLocal || remote != loaded.TotalBytes-wantLocal {
		t.Fatalf("base bytes local %d remote %d, want local %d (the SSTs but the altered one) and remote %d (the rest, the altered SST included)",
			local, remote, wantLocal, loaded.TotalBytes-wantLocal)
	}
}

// A base whose SST files another node of the cluster holds (here one that
// loaded the same base) fetches them from that node, not from the remote.
func TestBaseReusesAPeersFiles(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{}, clusterOptions{})
	m := sourceBase(t, d.srcReps[0])
	d.follow() // d.dst loads the base: it then holds the same SSTs
	d.dstReps = d.dst.mustOpenTable("t", 1)
	waitFor(t, "the peer caught up", d.caughtUp)
	ssts := split(m)
	c := mustNewCluster(t, "west2", clusterOptions{})
	loaded := startReusingPuller(t, d, c, Reuse{Holder: newDirHolder(t), Peers: func() []string { return []string{"127.0.0.1:1", d.dst.addr()} }})
	wantPeer := bytesOf(loaded, ssts)
	if wantPeer == 0 {
		t.Fatalf("the base loaded %+v lists none of the SSTs %+v", loaded.Files, ssts)
	}
	if peer, remote := baseBytes(c, fromPeer), baseBytes(c, fromRemote); peer != wantPeer || remote != loaded.TotalBytes-wantPeer {
		t.Fatalf("base bytes peer %d remote %d, want peer %d (the SSTs the peer holds) and remote %d (the rest)", peer, remote, wantPeer, loaded.TotalBytes-wantPeer)
	}
}

// A peer serves a file only when name, size and checksum all match, and
// never a file outside its replica's directories.
func TestFetchPeerFileServesOnlyMatchingFiles(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{}, clusterOptions{})
	m := sourceBase(t, d.srcReps[0])
	ssts := split(m)
	f := ssts[0]
	c := mustNewCluster(t, "west2", clusterOptions{})
	p := &Puller{cfg: PullerConfig{Table: "t", Partition: 0, Dial: c.dial}, lg: zap.NewNop()}
	for _, tc := range []struct {
		name string
		f    checkpoint.FileInfo
		want string
	}{
		{"wrong crc", checkpoint.FileInfo{Name: f.Name, Size: f.Size, CRC32C: f.CRC32C + 1}, "NotFound"},
		{"wrong size", checkpoint.FileInfo{Name: f.Name, Size: f.Size + 1, CRC32C: f.CRC32C}, "NotFound"},
		{"not an sst", checkpoint.FileInfo{Name: "CURRENT", Size: 16}, "InvalidArgument"},
		{"a path", checkpoint.FileInfo{Name: "../" + f.Name, Size: f.Size, CRC32C: f.CRC32C}, "InvalidArgument"},
	} {
		path := filepath.Join(t.TempDir(), "f.sst")
		if _, err := p.fetchFromPeer(context.Background(), d.src.addr(), tc.f, path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), f.Name)
	if n, err := p.fetchFromPeer(context.Background(), d.src.addr(), f, path); err != nil || n != f.Size {
		t.Fatalf("matching file: %d bytes, %v", n, err)
	}
}

// Failback reuses the old source's own files: after a promote and a few
// writes on the new primary, dup resync loads a base from it whose SSTs
// that came from the old source's base are hard-linked, not fetched.
func TestResyncReusesTheOldSourcesFiles(t *testing.T) {
	d := mustNewDupPair(t, 1, clusterOptions{}, clusterOptions{})
	sourceBase(t, d.srcReps[0])
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 1)
	waitFor(t, "caught up", d.caughtUp)
	ctx := context.Background()
	if _, err := d.dst.node.Promote(ctx, "t", true); err != nil {
		t.Fatal(err)
	}
	write(t, d.dstReps[0], 1000, 10) // the new primary's own writes
	resp, err := d.src.node.Resync(ctx, "t", d.id)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old source identical to the new primary", d.caughtUpReverse)
	var loaded *checkpoint.Manifest
	waitFor(t, "the old source's puller loaded its base", func() bool {
		d.src.node.followers.mu.Lock()
		defer d.src.node.followers.mu.Unlock()
		for _, p := range d.src.node.followers.pullers {
			p.mu.Lock()
			id := p.baseID
			p.mu.Unlock()
			loaded, _ = d.dstReps[0].Catalog().Get(id)
		}
		return loaded != nil
	})
	if loaded.Purpose != checkpoint.PurposeFailback {
		t.Fatalf("the failback base is a %q checkpoint, want %q (taken as the data is)", loaded.Purpose, checkpoint.PurposeFailback)
	}
	local, remote := loadedBytes(d.src, resp.NewDupId, fromLocal), loadedBytes(d.src, resp.NewDupId, fromRemote)
	if local == 0 || local+remote != loaded.TotalBytes {
		t.Fatalf("failback base of %d bytes: %d reused locally, %d from the remote; want most reused", loaded.TotalBytes, local, remote)
	}
	t.Logf("failback base of %d bytes: %d reused locally, %d from the remote", loaded.TotalBytes, local, remote)
}
