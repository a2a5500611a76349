package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/internal/durable"
)

// ManifestFile is the name of the manifest inside a checkpoint directory.
// A directory is a published checkpoint exactly when its manifest exists.
const ManifestFile = "TANDEM-MANIFEST.json"

const manifestVersion = 1

// FileInfo describes one file of a checkpoint.
type FileInfo struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// Manifest describes a published checkpoint.
type Manifest struct {
	Version    int        `json:"version"`
	ID         string     `json:"id"`
	Table      string     `json:"table"`
	Partition  uint32     `json:"partition"`
	Decree     uint64     `json:"decree"`
	CreatedAt  time.Time  `json:"created_at"`
	Purpose    Purpose    `json:"purpose"`
	Files      []FileInfo `json:"files"`
	TotalBytes int64      `json:"total_bytes"`
	// Empty marks a metadata-only checkpoint of a partition with no
	// records: it has no files, and restoring it means an empty instance
	// at Decree.
	Empty bool `json:"empty"`
	// Foreign marks a duplication base from another cluster: its decrees
	// are the source's, so restoring it records SourceDecree as the last
	// source decree applied and starts the local decree over.
	Foreign      bool   `json:"foreign,omitempty"`
	SourceDecree uint64 `json:"source_decree,omitempty"`
}

// NewManifest describes a checkpoint of a partition at decree, taken at
// at for purpose, before its files are listed (Catalog.Publish does that).
// Its id sorts by decree, then time.
func NewManifest(table string, partition uint32, decree uint64, at time.Time, purpose Purpose) *Manifest {
	return &Manifest{
		Version: manifestVersion, ID: fmt.Sprintf("ckpt-%020d-%019d", decree, at.UnixNano()),
		Table: table, Partition: partition, Decree: decree, CreatedAt: at, Purpose: purpose,
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileCRC32C returns the CRC32C (Castagnoli) checksum and size of a file,
// as manifests record them.
func FileCRC32C(path string) (uint32, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	return h.Sum32(), n, err
}

// describeFiles lists the regular files of dir with sizes and checksums.
// known supplies checksums of immutable files (SSTs) computed before, so a
// checkpoint of a big partition reads only what is new since the last one.
func describeFiles(dir string, known map[string]FileInfo) ([]FileInfo, int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	var files []FileInfo
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == ManifestFile {
			continue
		}
		fi, err := describeFile(dir, e, known)
		if err != nil {
			return nil, 0, err
		}
		files = append(files, fi)
		total += fi.Size
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, total, nil
}

func describeFile(dir string, e os.DirEntry, known map[string]FileInfo) (FileInfo, error) {
	if k, ok := known[e.Name()]; ok && strings.HasSuffix(e.Name(), ".sst") {
		if info, err := e.Info(); err == nil && info.Size() == k.Size {
			return k, nil
		}
	}
	crc, size, err := FileCRC32C(filepath.Join(dir, e.Name()))
	return FileInfo{Name: e.Name(), Size: size, CRC32C: crc}, err
}

// writeManifest writes m into dir durably.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, ManifestFile), b)
}

// ReadManifest reads and validates the manifest of a checkpoint directory.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	return DecodeManifest(b)
}

// DecodeManifest parses and validates a manifest (it may come from disk or
// from another cluster).
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrInvalid, err)
	}
	if m.Version != manifestVersion || !PlainName(m.ID) {
		return nil, fmt.Errorf("%w: manifest version %d id %q", ErrInvalid, m.Version, m.ID)
	}
	var total int64
	for _, f := range m.Files {
		if !PlainName(f.Name) || f.Name == ManifestFile || f.Size < 0 {
			return nil, fmt.Errorf("%w: manifest lists file %q", ErrInvalid, f.Name)
		}
		total += f.Size
	}
	if total != m.TotalBytes || (m.Empty && len(m.Files) > 0) {
		return nil, fmt.Errorf("%w: manifest sizes do not add up", ErrInvalid)
	}
	return &m, nil
}

// PlainName reports whether s names an entry directly inside a directory:
// not empty, no separator, not hidden (so not "." or ".."). Names in
// manifests and snapshot streams come from disk or from another cluster
// and become paths.
func PlainName(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\`) && !strings.HasPrefix(s, ".")
}

// Verify checks every file of dir against the manifest.
func Verify(dir string, m *Manifest) error {
	for _, f := range m.Files {
		crc, size, err := FileCRC32C(filepath.Join(dir, f.Name))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, f.Name, err)
		}
		if size != f.Size || crc != f.CRC32C {
			return fmt.Errorf("%w: %s: size %d crc %08x, manifest says %d %08x", ErrInvalid, f.Name, size, crc, f.Size, f.CRC32C)
		}
	}
	return nil
}

// removeDir deletes a checkpoint crash-safely: the manifest goes
// first (so a crash leaves an unpublished directory the start-up sweep
// removes, never a listed checkpoint with files missing), then the rest.
func removeDir(dir string) error {
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := durable.SyncDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// gofail: var checkpointGCAfterManifestRemoved struct{}
	return os.RemoveAll(dir)
}
