package replica

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/rocksdb"
)

func mustNewShared(t *testing.T) *rocksdb.Shared {
	t.Helper()
	cfg := rocksdb.DefaultConfig()
	cfg.BlockCacheBytes = 4 << 20
	sh, err := rocksdb.NewShared(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Close)
	return sh
}

func mustNewLogDB(t *testing.T, dir string, sh *rocksdb.Shared) *logdb.DB {
	t.Helper()
	db, err := logdb.Open(dir, sh)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func writeTar(t *testing.T, buf *bytes.Buffer, name, content string) {
	t.Helper()
	tw := tar.NewWriter(buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
}

// corruptFirstDataFile rewrites a snapshot stream with one byte flipped in
// the first file after the manifest.
func corruptFirstDataFile(t *testing.T, raw []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	flipped := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if hdr.Name != checkpoint.ManifestFile && !flipped && len(body) > 0 {
			body[len(body)/2] ^= 0xff
			flipped = true
		}
		tw.WriteHeader(hdr)
		tw.Write(body)
	}
	tw.Close()
	if !flipped {
		t.Fatal("no data file to corrupt")
	}
	return out.Bytes()
}
