package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
)

func mustOpen(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(context.Background(), "file://"+root, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

// writeCheckpoint writes files into dir and describes them as a manifest.
func writeCheckpoint(t *testing.T, dir string, decree uint64, files map[string]string) *checkpoint.Manifest {
	t.Helper()
	m := checkpoint.NewManifest("t", 0, decree, time.Unix(1000, 0), checkpoint.PurposeDuplication)
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		crc, size, err := checkpoint.FileCRC32C(path)
		if err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, checkpoint.FileInfo{Name: name, Size: size, CRC32C: crc})
		m.TotalBytes += size
	}
	return m
}

// A second base uploads only the files the bucket does not hold.
func TestUploadBaseSendsOnlyNewFiles(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)
	dir := t.TempDir()
	big := strings.Repeat("x", 10000)
	m1 := writeCheckpoint(t, dir, 10, map[string]string{"000001.sst": big, "CURRENT": "MANIFEST-1\n"})
	st, err := s.UploadBase(ctx, 0, dir, m1, time.Unix(1000, 0), time.Unix(1001, 0))
	if err != nil || st.ReusedFiles != 0 || st.UploadedBytes < 10000 {
		t.Fatalf("first base: %+v %v", st, err)
	}
	m2 := writeCheckpoint(t, dir, 20, map[string]string{"000001.sst": big, "000002.sst": "new", "CURRENT": "MANIFEST-1\n"})
	st, err = s.UploadBase(ctx, 0, dir, m2, time.Unix(1002, 0), time.Unix(1003, 0))
	if err != nil || st.ReusedFiles != 2 || st.ReusedBytes < 10000 || st.UploadedBytes > 5000 {
		t.Fatalf("second base: %+v %v", st, err)
	}
	b, err := s.readBase(ctx, 0, 20)
	if err != nil || b.Decree != 20 || len(b.Checkpoint.Files) != 3 {
		t.Fatalf("base manifest: %+v %v", b, err)
	}
}

// A base file missing from the bucket is found by the plan, before
// anything is created; one whose bytes changed is found by the download
// that precedes its install.
func TestCorruptedBaseFileIsFoundBeforeInstall(t *testing.T) {
	ctx := context.Background()
	s, root := mustOpen(t)
	if err := s.PutTableInfo(ctx, TableInfo{Table: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := writeCheckpoint(t, dir, 10, map[string]string{"000001.sst": strings.Repeat("y", 4096)})
	if _, err := s.UploadBase(ctx, 0, dir, m, time.Unix(1000, 0), time.Unix(1001, 0)); err != nil {
		t.Fatal(err)
	}
	if _, plans, err := Plan(ctx, s, Point{}); err != nil || plans[0].Base != 10 {
		t.Fatalf("plan of an intact archive: %+v %v", plans, err)
	}
	f := m.Files[0]
	if err := download(ctx, s, f, filepath.Join(t.TempDir(), f.Name)); err != nil {
		t.Fatalf("download of an intact file: %v", err)
	}
	path := filepath.Join(root, "t", fileKey(f))
	b, _ := os.ReadFile(path)
	b[100] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := download(ctx, s, f, filepath.Join(t.TempDir(), f.Name)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("download of a changed file: %v, want ErrCorrupt", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Plan(ctx, s, Point{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("plan with a base file missing: %v, want ErrCorrupt", err)
	}
}

func TestBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x/y", "file://host/path", "file:///", "::", "s3://"} {
		if err := CheckURL(u); !errors.Is(err, ErrBadURL) {
			t.Errorf("CheckURL(%q) = %v, want ErrBadURL", u, err)
		}
	}
	if err := CheckURL("file:///tmp/a"); err != nil {
		t.Fatal(err)
	}
}

func TestS3URLs(t *testing.T) {
	got, err := bucketURL("s3://bk/backups/east?endpoint=http://127.0.0.1:8333&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"s3://bk?", "prefix=backups%2Feast%2F", "use_path_style=true", "endpoint=http%3A%2F%2F127.0.0.1%3A8333", "region=us-east-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("bucketURL = %q, want it to contain %q", got, want)
		}
	}
	if err := CheckURL("s3:///nobucket"); !errors.Is(err, ErrBadURL) {
		t.Fatalf("s3 without a bucket: %v", err)
	}
}
