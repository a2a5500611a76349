package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
)

// BaseStats says what uploading a base cost: bytes sent and bytes the
// bucket already held (content-addressed files of earlier bases).
type BaseStats struct {
	Decree        uint64
	UploadedBytes int64
	ReusedBytes   int64
	Files         int
	ReusedFiles   int
}

// UploadBase uploads checkpoint m, whose files are in dir, as partition
// p's base. Files the bucket holds (same checksum and size) are not sent
// again; the base's manifest is written last, so a base is listed only
// once every file it names is stored.
func (s *Store) UploadBase(ctx context.Context, p uint32, dir string, m *checkpoint.Manifest, decreeTime, now time.Time) (BaseStats, error) {
	st := BaseStats{Decree: m.Decree}
	b, err := json.MarshalIndent(&Base{Version: baseVersion, Table: s.table, Partition: p, Decree: m.Decree,
		DecreeTime: decreeTime, UploadedAt: now, Checkpoint: m}, "", "  ")
	if err != nil {
		return st, err
	}
	// While the files go up, a pending record keeps GC off them.
	if err := s.Put(ctx, pendingKey(p, m.Decree), b); err != nil {
		return st, err
	}
	for _, f := range m.Files {
		key := fileKey(f)
		ok, err := s.Exists(ctx, key)
		if err != nil {
			return st, err
		}
		st.Files++
		if ok {
			st.ReusedFiles++
			st.ReusedBytes += f.Size
			continue
		}
		n, err := s.PutFile(ctx, key, filepath.Join(dir, f.Name))
		if err != nil {
			return st, fmt.Errorf("upload %s of base %d: %w", f.Name, m.Decree, err)
		}
		st.UploadedBytes += n
	}
	if err := s.Put(ctx, baseKey(p, m.Decree), b); err != nil {
		return st, err
	}
	st.UploadedBytes += int64(len(b))
	return st, s.Delete(ctx, pendingKey(p, m.Decree))
}

// readBase reads and checks partition p's base at decree.
func (s *Store) readBase(ctx context.Context, p uint32, decree uint64) (*Base, error) {
	b, err := s.Get(ctx, baseKey(p, decree))
	if err != nil {
		return nil, err
	}
	return decodeBase(p, decree, b)
}

// putSegment uploads a segment under its decree range.
func (s *Store) putSegment(ctx context.Context, seg *Segment) (int, error) {
	b := encodeSegment(seg)
	return len(b), s.Put(ctx, segmentKey(seg.Partition, seg.From, seg.To), b)
}

// readSegment reads, checks and decodes a segment.
func (s *Store) readSegment(ctx context.Context, p uint32, from, to uint64) (*Segment, error) {
	b, err := s.Get(ctx, segmentKey(p, from, to))
	if err != nil {
		return nil, err
	}
	seg, err := decodeSegment(b)
	if err != nil {
		return nil, fmt.Errorf("segment %d-%d of partition %d: %w", from, to, p, err)
	}
	if seg.Partition != p || seg.From != from || seg.To != to {
		return nil, fmt.Errorf("%w: segment %d-%d of partition %d holds partition %d decrees %d-%d", ErrCorrupt, from, to, p, seg.Partition, seg.From, seg.To)
	}
	return seg, nil
}

// TableInfo is the archive's record of the table it holds.
type TableInfo struct {
	Table string `json:"table"`
	// TableID is the source cluster's id of the table: a table dropped and
	// created again under its name is another table, with other decrees.
	TableID    uint64    `json:"table_id"`
	Partitions uint32    `json:"partitions"`
	ArchiveID  string    `json:"archive_id"`
	CreatedAt  time.Time `json:"created_at"`
}

const tableInfoKey = "table.json"

// PutTableInfo records the table's shape in the archive.
func (s *Store) PutTableInfo(ctx context.Context, t TableInfo) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return s.Put(ctx, tableInfoKey, b)
}

// ReadTableInfo reads the table's shape; ErrArchiveNotFound when the
// archive holds nothing of the table.
func (s *Store) ReadTableInfo(ctx context.Context) (TableInfo, error) {
	var t TableInfo
	b, err := s.Get(ctx, tableInfoKey)
	if err != nil {
		return t, fmt.Errorf("table %q: %w", s.table, err)
	}
	if err := json.Unmarshal(b, &t); err != nil || t.Partitions == 0 {
		return t, fmt.Errorf("%w: %s of table %q", ErrCorrupt, tableInfoKey, s.table)
	}
	return t, nil
}
