package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Retention in the bucket: each partition keeps its newest K bases and
// the log after the oldest of them; files no kept base references are
// deleted. It is crash-safe in the checkpoint catalog's way: a base's
// manifest is deleted before anything it references, and a file only once
// two GC passes in a row found no manifest (nor pending upload) naming it,
// so an interrupted GC leaves orphans for the next pass, never a listed
// base with files missing.

// pendingKey records a base upload in progress: the files it is sending
// or reusing count as referenced until it finishes.
func pendingKey(p uint32, decree uint64) string {
	return fmt.Sprintf("%spending/%020d.json", partitionPrefix(p), decree)
}

// abandonedAfter is how old a pending upload's record must be before GC
// no longer counts its files (its uploader died).
const abandonedAfter = 24 * time.Hour

// GCStats says what one GC pass removed.
type GCStats struct {
	Bases    int
	Segments int
	Files    int
}

// gcPartition deletes partition p's bases beyond the newest keep (their
// manifests first) and the segments that end before the oldest kept base.
func (s *Store) gcPartition(ctx context.Context, p uint32, keep int) (GCStats, error) {
	var st GCStats
	c, err := s.catalog(ctx, p)
	if err != nil || keep <= 0 || len(c.bases) <= keep {
		return st, err
	}
	oldest := c.bases[len(c.bases)-keep]
	for _, d := range c.bases[:len(c.bases)-keep] {
		if err := s.Delete(ctx, baseKey(p, d)); err != nil {
			return st, err
		}
		st.Bases++
	}
	for _, sg := range c.segments {
		if sg.to <= oldest {
			if err := s.Delete(ctx, segmentKey(p, sg.from, sg.to)); err != nil {
				return st, err
			}
			st.Segments++
		}
	}
	return st, nil
}

// referencedFiles lists the files every base manifest and every live
// pending upload of the table's partitions names.
func (s *Store) referencedFiles(ctx context.Context, partitions uint32, now time.Time) (map[string]bool, error) {
	refs := map[string]bool{}
	for p := range partitions {
		objs, err := s.List(ctx, partitionPrefix(p))
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, ".json") || !(strings.Contains(o.Key, "/bases/") || strings.Contains(o.Key, "/pending/")) {
				continue
			}
			b, err := s.Get(ctx, o.Key)
			if err != nil {
				return nil, err
			}
			var m Base
			if err := json.Unmarshal(b, &m); err != nil || m.Checkpoint == nil {
				return nil, fmt.Errorf("%w: %s", ErrCorrupt, o.Key)
			}
			if strings.Contains(o.Key, "/pending/") && now.Sub(m.UploadedAt) > abandonedAfter {
				continue
			}
			for _, f := range m.Checkpoint.Files {
				refs[fileKey(f)] = true
			}
		}
	}
	return refs, nil
}

// FileGC deletes the table's unreferenced files, each only once two passes
// in a row found it unreferenced. One FileGC runs per table (partition
// 0's archiver holds it).
type FileGC struct {
	candidates map[string]bool
}

// Pass runs one pass.
func (g *FileGC) Pass(ctx context.Context, s *Store, partitions uint32, now time.Time) (int, error) {
	refs, err := s.referencedFiles(ctx, partitions, now)
	if err != nil {
		return 0, err
	}
	files, err := s.List(ctx, "files/")
	if err != nil {
		return 0, err
	}
	next := map[string]bool{}
	deleted := 0
	for _, f := range files {
		if refs[f.Key] {
			continue
		}
		if !g.candidates[f.Key] {
			next[f.Key] = true
			continue
		}
		if err := s.Delete(ctx, f.Key); err != nil {
			return deleted, err
		}
		deleted++
	}
	g.candidates = next
	return deleted, nil
}
