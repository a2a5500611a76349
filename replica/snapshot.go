package replica

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/internal/durable"
	"github.com/tandem-kv/tandem/rocksdb"
)

// snapshotter turns catalog checkpoints into raft snapshot streams (a tar
// of the checkpoint's files and manifest) and installs such streams.
type snapshotter struct {
	store *dataStore
	lg    *zap.Logger
	// checkpoint returns a published checkpoint at decree >= min, acquired
	// for the transfer, and its directory.
	checkpoint func(min uint64) (*checkpoint.Manifest, string, func(), error)
}

type checkpointSnapshot struct {
	s   *snapshotter
	min uint64
}

// Persist streams a checkpoint at or above the snapshot's decree.
func (c *checkpointSnapshot) Persist(sink raft.SnapshotSink) error {
	m, dir, release, err := c.s.checkpoint(c.min)
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("checkpoint for raft snapshot at decree %d: %w", c.min, err)
	}
	defer release()
	if err := tarCheckpoint(dir, m, sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	c.s.lg.Info("raft snapshot persisted", zap.String("checkpoint", m.ID), zap.Uint64("decree", m.Decree), zap.Int64("bytes", m.TotalBytes))
	return sink.Close()
}

func (c *checkpointSnapshot) Release() {}

// tarCheckpoint writes the manifest first, then the files it lists.
func tarCheckpoint(dir string, m *checkpoint.Manifest, w io.Writer) error {
	tw := tar.NewWriter(w)
	names := []string{checkpoint.ManifestFile}
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	for _, name := range names {
		if err := tarFile(tw, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return tw.Close()
}

func tarFile(tw *tar.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: filepath.Base(path), Mode: 0o644, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// install unpacks the stream into the restore dir, verifies it against its
// manifest, then swaps it in. A bad stream leaves the live data untouched.
func (s *snapshotter) install(r io.Reader) error {
	dst := s.store.restore()
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	m, err := s.unpackVerified(r, dst)
	if err != nil {
		os.RemoveAll(dst)
		return fmt.Errorf("install snapshot: %w", err)
	}
	s.lg.Info("snapshot unpacked and verified", zap.String("checkpoint", m.ID), zap.Uint64("decree", m.Decree), zap.Int64("bytes", m.TotalBytes))
	// gofail: var snapshotInstallBeforeSwap struct{}
	return s.store.swapIn()
}

func (s *snapshotter) unpackVerified(r io.Reader, dst string) (*checkpoint.Manifest, error) {
	if _, err := untarFlat(r, dst); err != nil {
		return nil, err
	}
	m, err := checkpoint.ReadManifest(dst)
	if err != nil {
		return nil, fmt.Errorf("%w: no valid manifest: %v", ErrMalformedSnapshot, err)
	}
	if err := checkpoint.Verify(dst, m); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dst, checkpoint.ManifestFile)); err != nil {
		return nil, err
	}
	if err := stampRestored(dst, s.store, m); err != nil {
		return nil, err
	}
	return m, durable.SyncDir(dst)
}

// stampRestored writes what a restored instance must record besides its
// data: for a raft snapshot, that raft log entries at or below its decree on
// this node are not to be served to duplications (they may predate the
// snapshot's history); for a foreign base, the source decree, with the local
// decree starting over and no floors of the source's duplications.
func stampRestored(dir string, like *dataStore, m *checkpoint.Manifest) error {
	db, err := rocksdb.Open(dir, like.shared, like.opts)
	if err != nil {
		return err
	}
	decree := m.Decree
	meta := map[string][]byte{string(trustedFromKey): u64(m.Decree + 1)}
	if m.Foreign {
		decree = 0
		meta = map[string][]byte{string(sourceDecreeKey): u64(m.SourceDecree), string(confirmedKey): []byte("{}"), string(trustedFromKey): u64(0)}
		// Nor the source's own switchover fence, promotion or replicated
		// time (fence.go): they are of the source's log, not this one.
		for k, v := range foreignResets() {
			meta[k] = v
		}
	}
	if err := writeMutations(db, nil, decree, meta); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

// untarFlat unpacks regular files into dst, refusing anything that is not a
// plain file name (the stream comes from the network).
func untarFlat(r io.Reader, dst string) (int64, error) {
	tr := tar.NewReader(r)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("%w: %v", ErrMalformedSnapshot, err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || !checkpoint.PlainName(name) {
			return total, fmt.Errorf("%w: entry %q", ErrMalformedSnapshot, name)
		}
		n, err := writeFile(filepath.Join(dst, name), tr)
		total += n
		if err != nil {
			return total, err
		}
	}
}

func writeFile(path string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
