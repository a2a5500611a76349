package archive

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
)

// Keys of a table's archive (relative to TABLE/). Decrees are zero-padded
// so that keys sort by decree.

// fileKey is where a checkpoint file with this checksum and size lives:
// the same bytes are stored once, whichever base and partition have them.
func fileKey(f checkpoint.FileInfo) string { return fmt.Sprintf("files/%08x-%d", f.CRC32C, f.Size) }

func partitionPrefix(p uint32) string { return fmt.Sprintf("p%05d/", p) }

func basePrefix(p uint32) string { return partitionPrefix(p) + "bases/" }

func walPrefix(p uint32) string { return partitionPrefix(p) + "wal/" }

// baseKey is the manifest of partition p's base at decree.
func baseKey(p uint32, decree uint64) string {
	return fmt.Sprintf("%s%020d.json", basePrefix(p), decree)
}

// segmentKey is partition p's log segment of decrees from..to.
func segmentKey(p uint32, from, to uint64) string {
	return fmt.Sprintf("%s%020d-%020d.seg", walPrefix(p), from, to)
}

// parseBaseKey returns the decree of a base manifest key.
func parseBaseKey(p uint32, key string) (uint64, bool) {
	var d uint64
	rest, ok := strings.CutPrefix(key, basePrefix(p))
	if !ok || len(rest) != 25 {
		return 0, false
	}
	if _, err := fmt.Sscanf(rest, "%020d.json", &d); err != nil {
		return 0, false
	}
	return d, true
}

// parseSegmentKey returns the decree range of a segment key.
func parseSegmentKey(p uint32, key string) (from, to uint64, ok bool) {
	rest, ok := strings.CutPrefix(key, walPrefix(p))
	if !ok || len(rest) != 45 {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(rest, "%020d-%020d.seg", &from, &to); err != nil || from > to {
		return 0, 0, false
	}
	return from, to, true
}

// Base is a base's manifest in the archive: the checkpoint's own manifest
// (its files are under files/ by checksum) and when its decree was
// written.
type Base struct {
	Version    int                  `json:"version"`
	Table      string               `json:"table"`
	Partition  uint32               `json:"partition"`
	Decree     uint64               `json:"decree"`
	DecreeTime time.Time            `json:"decree_time"`
	UploadedAt time.Time            `json:"uploaded_at"`
	Checkpoint *checkpoint.Manifest `json:"checkpoint"`
}

const baseVersion = 1

// decodeBase parses and checks a base manifest.
func decodeBase(p uint32, decree uint64, b []byte) (*Base, error) {
	var m Base
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: base %d of partition %d: %v", ErrCorrupt, decree, p, err)
	}
	if m.Version != baseVersion || m.Checkpoint == nil || m.Partition != p || m.Decree != decree {
		return nil, fmt.Errorf("%w: base %d of partition %d: manifest does not match its key", ErrCorrupt, decree, p)
	}
	raw, _ := json.Marshal(m.Checkpoint)
	cm, err := checkpoint.DecodeManifest(raw)
	if err != nil || cm.Decree != decree {
		return nil, fmt.Errorf("%w: base %d of partition %d: checkpoint manifest: %v", ErrCorrupt, decree, p, err)
	}
	m.Checkpoint = cm
	return &m, nil
}
