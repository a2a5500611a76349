package replica

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
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

// FuzzUntarSnapshot: a raft snapshot stream comes from another node. Any
// stream unpacks to plain files inside the destination or fails with
// ErrMalformedSnapshot (or a file error); nothing lands outside it.
func FuzzUntarSnapshot(f *testing.F) {
	f.Add(tarSeed(f, map[string]string{"000001.sst": "data", ManifestFile: `{"version":1}`}, tar.TypeReg))
	f.Add(tarSeed(f, map[string]string{"../escape": "x"}, tar.TypeReg))
	f.Add(tarSeed(f, map[string]string{"link": ""}, tar.TypeSymlink))
	f.Add(tarSeed(f, map[string]string{"a/b": "x"}, tar.TypeReg))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		dst := filepath.Join(root, "dst")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = untarFlat(bytes.NewReader(b), dst)
		outside, err := os.ReadDir(root)
		if err != nil || len(outside) != 1 {
			t.Fatalf("untarFlat wrote outside its directory: %v %v", outside, err)
		}
		inside, err := os.ReadDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range inside {
			if !e.Type().IsRegular() {
				t.Fatalf("untarFlat created %s of type %v", e.Name(), e.Type())
			}
		}
	})
}

// FuzzMuxRoute: whatever a connecting peer sends first, the mux routes the
// connection (gRPC, a known raft group, or a refusal) without panicking or
// holding it forever.
func FuzzMuxRoute(f *testing.F) {
	hello := func(group uint64) []byte {
		b := append([]byte(nil), raftMagic...)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(group>>(8*i)))
		}
		return b
	}
	f.Add(hello(1))
	f.Add(hello(2))
	f.Add([]byte("TND"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	m := NewMux(ln, zap.NewNop())
	f.Cleanup(func() { m.Close() })
	sl, err := m.StreamLayer(1)
	if err != nil {
		f.Fatal(err)
	}
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	gl := m.GRPCListener()
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f.Fuzz(func(t *testing.T, first []byte) {
		client, server := net.Pipe()
		defer client.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.route(server)
		}()
		// net.Pipe is synchronous: the mux reads only what it needs, so the
		// write runs on its own and the close ends whatever it left.
		client.SetDeadline(time.Now().Add(time.Second))
		go func() { _, _ = io.Copy(io.Discard, client) }() // answers, refusals
		go func() {
			_, _ = client.Write(first)
			client.Close()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("mux still holds a connection that sent %x and closed", first)
		}
	})
}

func TestUntarRefusesNonPlainEntries(t *testing.T) {
	for name, stream := range map[string][]byte{
		"parent path": tarSeed(t, map[string]string{"../escape": "x"}, tar.TypeReg),
		"subdir":      tarSeed(t, map[string]string{"a/b": "x"}, tar.TypeReg),
		"symlink":     tarSeed(t, map[string]string{"link": ""}, tar.TypeSymlink),
		"dot file":    tarSeed(t, map[string]string{".hidden": "x"}, tar.TypeReg),
		"garbage":     []byte("not a tar stream at all, but long enough to be read as one block...."),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := untarFlat(bytes.NewReader(stream), t.TempDir()); !errors.Is(err, ErrMalformedSnapshot) {
				t.Fatalf("untarFlat = %v, want ErrMalformedSnapshot", err)
			}
		})
	}
}
