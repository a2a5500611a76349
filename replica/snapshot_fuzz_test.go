package replica

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/checkpoint"
)

func tarSeed(t testing.TB, files map[string]string, typ byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzUntarSnapshot: a raft snapshot stream comes from another node. A
// stream of one entry with any name, type and body, followed by any bytes,
// unpacks to plain files inside the destination or fails; nothing lands
// outside it. (The input is the entry's parts rather than raw tar bytes: Go's
// fuzzer stalls mutating kilobyte-sized zero-padded tar blocks, and
// archive/tar itself is fuzzed upstream; what is ours is the entry check.)
func FuzzUntarSnapshot(f *testing.F) {
	f.Add("000001.sst", byte(tar.TypeReg), []byte("data"), []byte{})
	f.Add(checkpoint.ManifestFile, byte(tar.TypeReg), []byte(`{"version":1}`), []byte("junk"))
	f.Add("../escape", byte(tar.TypeReg), []byte("x"), []byte{})
	f.Add("link", byte(tar.TypeSymlink), []byte{}, []byte{})
	f.Add("a/b", byte(tar.TypeReg), []byte("x"), []byte{})
	f.Fuzz(func(t *testing.T, name string, typ byte, body, trailing []byte) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Size: int64(len(body))}); err != nil {
			return
		}
		_, _ = tw.Write(body)
		_ = tw.Flush()
		buf.Write(trailing)
		root, err := os.MkdirTemp("", "fuzz-untar")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(root)
		dst := filepath.Join(root, "dst")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = untarFlat(&buf, dst)
		outside, err := os.ReadDir(root)
		if err != nil || len(outside) != 1 {
			t.Fatalf("untarFlat wrote outside its directory: %v %v", outside, err)
		}
		inside, err := os.ReadDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range inside {
			if !e.Type().IsRegular() || strings.ContainsAny(e.Name(), "/\\") {
				t.Fatalf("untarFlat created %q of type %v", e.Name(), e.Type())
			}
		}
	})
}

func TestUntarRefusesNonPlainEntries(t *testing.T) {
	for name, stream := range map[string][]byte{
		"parent path": tarSeed(t, map[string]string{"../escape": "x"}, tar.TypeReg),
		"subdir":      tarSeed(t, map[string]string{"a/b": "x"}, tar.TypeReg),
		"symlink":     tarSeed(t, map[string]string{"link": ""}, tar.TypeSymlink),
		"dot file":    tarSeed(t, map[string]string{".hidden": "x"}, tar.TypeReg),
		"backslash":   tarSeed(t, map[string]string{`\\`: "x"}, tar.TypeReg),
		"garbage":     []byte("not a tar stream at all, but long enough to be read as one block...."),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := untarFlat(bytes.NewReader(stream), t.TempDir()); !errors.Is(err, ErrMalformedSnapshot) {
				t.Fatalf("untarFlat = %v, want ErrMalformedSnapshot", err)
			}
		})
	}
}
