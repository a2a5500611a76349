package replica

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/rocksdb"
)

// ErrMalformedSnapshot is returned when a streamed snapshot is not a flat
// archive of regular files.
var ErrMalformedSnapshot = errors.New("replica: malformed snapshot stream")

// snapshotter turns the replica's RocksDB into raft snapshots: a checkpoint
// (hard links, so taking one costs a memtable flush, not a copy) streamed
// as a tar archive, and unpacks such a stream into a new instance.
type snapshotter struct {
	store  *dataStore
	tmpDir string
	lg     *zap.Logger
}

func (s *snapshotter) take(decree uint64) (raft.FSMSnapshot, error) {
	if err := os.MkdirAll(s.tmpDir, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.tmpDir, fmt.Sprintf("raft-%d-%d", decree, time.Now().UnixNano()))
	start := time.Now()
	if err := s.store.with(func(db *rocksdb.DB) error { return db.Checkpoint(dir) }); err != nil {
		return nil, fmt.Errorf("checkpoint for raft snapshot at decree %d: %w", decree, err)
	}
	s.lg.Info("raft snapshot checkpoint taken", zap.Uint64("decree", decree), zap.Duration("took", time.Since(start)))
	return &checkpointSnapshot{dir: dir, lg: s.lg}, nil
}

// install unpacks the archive into the restore dir, then swaps it in.
func (s *snapshotter) install(r io.Reader) error {
	dst := s.store.restore()
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	n, err := untarFlat(r, dst)
	if err != nil {
		os.RemoveAll(dst)
		return fmt.Errorf("unpack snapshot: %w", err)
	}
	if err := syncDir(dst); err != nil {
		return err
	}
	s.lg.Info("snapshot unpacked", zap.Int64("bytes", n))
	return s.store.swapIn()
}

type checkpointSnapshot struct {
	dir string
	lg  *zap.Logger
}

// Persist streams the checkpoint's files into the sink.
func (c *checkpointSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := tarDir(c.dir, sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release removes the checkpoint; raft's snapshot store holds the stream.
func (c *checkpointSnapshot) Release() {
	if err := os.RemoveAll(c.dir); err != nil {
		c.lg.Warn("remove snapshot checkpoint", zap.String("dir", c.dir), zap.Error(err))
	}
}

func tarDir(dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := tarFile(tw, filepath.Join(dir, e.Name())); err != nil {
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
		if hdr.Typeflag != tar.TypeReg || name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
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
