package server

import (
	"fmt"
	"sort"

	"github.com/tandem-kv/tandem/archive"
)

// ArchiveMeta is a table's archive to object storage, as the meta group
// records it (one per table).
type ArchiveMeta struct {
	ID          string        `json:"id"`
	Table       string        `json:"table"`
	URL         string        `json:"url"`
	State       archive.State `json:"state"`
	CreatedAtMs int64         `json:"created_at_ms"`
	RequestID   string        `json:"request_id,omitempty"`
}

// Meta log operations of archives.
const (
	opAddArchive      = "add_archive"
	opSetArchiveState = "set_archive_state"
	opRemoveArchive   = "remove_archive"
)

func init() {
	metaCommands[opAddArchive] = func() metaCommand { return &addArchiveCmd{} }
	metaCommands[opSetArchiveState] = func() metaCommand { return &setArchiveStateCmd{} }
	metaCommands[opRemoveArchive] = func() metaCommand { return &removeArchiveCmd{} }
}

// fillArchives makes a decoded snapshot's archive maps writable and checks
// its entries.
func (s *MetaState) fillArchives() error {
	if s.Archives == nil {
		s.Archives = map[string]*ArchiveMeta{}
	}
	if s.RemovedArchives == nil {
		s.RemovedArchives = map[string]int64{}
	}
	for table, a := range s.Archives {
		if a == nil || a.Table != table || a.ID == "" {
			return fmt.Errorf("%w: archive entry %q", errMalformedMeta, table)
		}
	}
	return nil
}

// addArchiveCmd records a table's archive.
type addArchiveCmd struct {
	Archive *ArchiveMeta `json:"archive"`
}

func (*addArchiveCmd) op() string { return opAddArchive }

func (c *addArchiveCmd) check() error {
	if c.Archive == nil || c.Archive.ID == "" || c.Archive.Table == "" {
		return fmt.Errorf("%w: %s without an archive", errMalformedMeta, opAddArchive)
	}
	return nil
}

func (c *addArchiveCmd) apply(s *MetaState) metaResult {
	a := *c.Archive
	if _, ok := s.Tables[a.Table]; !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", a.Table, ErrTableNotFound)}
	}
	if o, ok := s.Archives[a.Table]; ok {
		if sameRequest(o.RequestID, a.RequestID) {
			cp := *o
			return metaResult{Archive: &cp}
		}
		return metaResult{Err: fmt.Errorf("table %q is archived to %s (archive %s): %w", a.Table, o.URL, o.ID, archive.ErrArchiveExists)}
	}
	s.Archives[a.Table] = &a
	cp := a
	return metaResult{Archive: &cp}
}

// setArchiveStateCmd pauses or resumes a table's archive.
type setArchiveStateCmd struct {
	Table string        `json:"table"`
	State archive.State `json:"state"`
}

func (*setArchiveStateCmd) op() string   { return opSetArchiveState }
func (*setArchiveStateCmd) check() error { return nil }

func (c *setArchiveStateCmd) apply(s *MetaState) metaResult {
	a, ok := s.Archives[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q has no archive: %w", c.Table, archive.ErrArchiveNotFound)}
	}
	a.State = c.State
	cp := *a
	return metaResult{Archive: &cp}
}

// removeArchiveCmd drops a table's archive and lists its id as removed, so
// partition leaders release its floor.
type removeArchiveCmd struct {
	Table string `json:"table"`
}

func (*removeArchiveCmd) op() string   { return opRemoveArchive }
func (*removeArchiveCmd) check() error { return nil }

func (c *removeArchiveCmd) apply(s *MetaState) metaResult {
	a, ok := s.Archives[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q has no archive: %w", c.Table, archive.ErrArchiveNotFound)}
	}
	delete(s.Archives, c.Table)
	s.RemovedArchives[a.ID] = a.CreatedAtMs
	return metaResult{Archive: a}
}

// archives lists the archives by table.
func (m *metaGroup) archives() []*ArchiveMeta {
	var out []*ArchiveMeta
	m.fsm.view(func(s *MetaState) {
		for _, a := range s.Archives {
			c := *a
			out = append(out, &c)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

// removedArchives lists the ids of removed archives.
func (m *metaGroup) removedArchives() []string {
	var out []string
	m.fsm.view(func(s *MetaState) {
		for id := range s.RemovedArchives {
			out = append(out, id)
		}
	})
	sort.Strings(out)
	return out
}
