package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The operator's commands. Changes run on the meta leader.

// Add starts archiving table (of partitions partitions) to the archive
// URL. The bucket is opened and the table's record written first, so an
// unreachable or unwritable archive is refused now, not found out later.
func (n *Node) Add(ctx context.Context, table string, tableID uint64, partitions uint32, url string) (*tpb.ArchiveInfo, error) {
	if a, ok := n.cfg.Meta.Archive(table); ok {
		return nil, fmt.Errorf("table %q is archived to %s (archive %s): %w", table, a.URL, a.ID, ErrArchiveExists)
	}
	s, err := Open(ctx, url, table)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// The same table may go on in an archive it had (its log resumes or a
	// gap starts a new base); another table of that name may not mix its
	// decrees into it.
	if old, err := s.ReadTableInfo(ctx); err == nil && (old.TableID != tableID || old.Partitions != partitions) {
		return nil, fmt.Errorf("%s already holds an archive of another table %q (id %d, %d partitions; this one is id %d, %d partitions): use another url: %w",
			url, table, old.TableID, old.Partitions, tableID, partitions, ErrArchiveExists)
	}
	id := newID()
	now := n.cfg.Now()
	if err := s.PutTableInfo(ctx, TableInfo{Table: table, TableID: tableID, Partitions: partitions, ArchiveID: id, CreatedAt: now}); err != nil {
		return nil, err
	}
	info, err := n.cfg.Registry.Add(ctx, Info{ID: id, Table: table, URL: url, State: StateActive, CreatedAtMs: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	return info.Proto(), nil
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ar-" + hex.EncodeToString(b[:])
}

// Find returns table's archive, or ErrArchiveNotFound.
func (n *Node) Find(table string) (Info, error) {
	a, ok := n.cfg.Meta.Archive(table)
	if !ok {
		return Info{}, fmt.Errorf("table %q has no archive: %w", table, ErrArchiveNotFound)
	}
	return a, nil
}

// SetState pauses or resumes table's archive.
func (n *Node) SetState(ctx context.Context, table string, s State) (*tpb.ArchiveInfo, error) {
	if _, err := n.Find(table); err != nil {
		return nil, err
	}
	info, err := n.cfg.Registry.SetState(ctx, table, s)
	if err != nil {
		return nil, err
	}
	return info.Proto(), nil
}

// Remove stops archiving table; partition leaders then release its floor.
// What is in the bucket stays (restores still work from it).
func (n *Node) Remove(ctx context.Context, table string) (*tpb.ArchiveInfo, error) {
	if _, err := n.Find(table); err != nil {
		return nil, err
	}
	info, err := n.cfg.Registry.Remove(ctx, table)
	if err != nil {
		return nil, err
	}
	return info.Proto(), nil
}

// List lists the archives (of table, or all), each with its summary.
func (n *Node) List(ctx context.Context, table string) []*tpb.ArchiveInfo {
	var out []*tpb.ArchiveInfo
	for _, a := range n.cfg.Meta.Archives() {
		if table != "" && a.Table != table {
			continue
		}
		p := a.Proto()
		summarize(p, n.Status(ctx, a))
		out = append(out, p)
	}
	return out
}

// Show returns table's archive with every partition's progress.
func (n *Node) Show(ctx context.Context, table string) (*tpb.ShowArchiveResponse, error) {
	a, err := n.Find(table)
	if err != nil {
		return nil, err
	}
	parts := n.Status(ctx, a)
	p := a.Proto()
	summarize(p, parts)
	return &tpb.ShowArchiveResponse{Archive: p, Partitions: parts}, nil
}
