package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/internal/durable"
)

const (
	pinsFile      = "pins.json"
	tmpPrefix     = "tmp-"
	gcBatchSize   = 32
	ckptDirPrefix = "ckpt-"
)

// Catalog is one replica's set of published checkpoints, with their pins.
// It is rebuilt from disk at start-up (a directory with a manifest is a
// checkpoint; anything else is swept), so it can never grow apart from what
// is on disk, and retention bounds it.
type Catalog struct {
	dir string
	lg  *zap.Logger

	mu      sync.Mutex
	entries map[string]*Manifest
	// pins are durable (pins.json): a duplication base or a recovery.
	pins map[string]map[string]bool
	// refs count transfers in flight; they pin until released.
	refs map[string]int
	// onDelete is called for every checkpoint garbage-collected.
	onDelete func(*Manifest)
}

// OpenCatalog loads the catalog under dir, sweeping unpublished or
// half-deleted checkpoint directories left by a crash.
func OpenCatalog(dir string, lg *zap.Logger) (*Catalog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Catalog{dir: dir, lg: lg, entries: map[string]*Manifest{}, pins: map[string]map[string]bool{}, refs: map[string]int{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := ReadManifest(path)
		if err != nil || strings.HasPrefix(e.Name(), tmpPrefix) || m.ID != e.Name() {
			lg.Info("sweeping unpublished checkpoint directory", zap.String("dir", path))
			if err := os.RemoveAll(path); err != nil {
				return nil, err
			}
			continue
		}
		c.entries[m.ID] = m
	}
	if err := c.loadPins(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catalog) loadPins() error {
	b, err := os.ReadFile(filepath.Join(c.dir, pinsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var pins map[string][]string
	if err := json.Unmarshal(b, &pins); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, pinsFile, err)
	}
	for id, owners := range pins {
		if _, ok := c.entries[id]; !ok {
			c.lg.Error("pinned checkpoint is missing", zap.String("id", id), zap.Strings("owners", owners))
			continue
		}
		c.pins[id] = map[string]bool{}
		for _, o := range owners {
			c.pins[id][o] = true
		}
	}
	return nil
}

// savePins writes the durable pins; the caller holds c.mu.
func (c *Catalog) savePins() error {
	out := map[string][]string{}
	for id, owners := range c.pins {
		for o := range owners {
			out[id] = append(out[id], o)
		}
		sort.Strings(out[id])
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(c.dir, pinsFile), b)
}

// Dir is the directory of checkpoint id.
func (c *Catalog) Dir(id string) string { return filepath.Join(c.dir, id) }

// TmpDir is where checkpoint id is built before it is published: a
// directory there without a manifest is swept at start-up.
func (c *Catalog) TmpDir(id string) string { return filepath.Join(c.dir, tmpPrefix+id) }

// Publish lists the files built in TmpDir(m.ID) into m with their sizes
// and checksums, writes m there as the manifest, and publishes the
// checkpoint with one rename. known supplies checksums of immutable files
// (SSTs) computed before, so a checkpoint of a big partition reads only
// what is new since the last one. A failure before the rename removes the
// temporary directory.
func (c *Catalog) Publish(m *Manifest, known map[string]FileInfo) error {
	tmp := c.TmpDir(m.ID)
	files, total, err := describeFiles(tmp, known)
	if err == nil {
		m.Files, m.TotalBytes = files, total
		err = writeManifest(tmp, m)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	// gofail: var checkpointBeforePublish struct{}
	if err := os.Rename(tmp, c.Dir(m.ID)); err != nil {
		return err
	}
	if err := durable.SyncDir(c.dir); err != nil {
		return err
	}
	c.mu.Lock()
	c.entries[m.ID] = m
	c.mu.Unlock()
	return nil
}

// View is a catalog entry with its pin state.
type View struct {
	Manifest
	Dir      string
	PinnedBy []string
	InFlight int
}

// List returns the checkpoints, oldest first.
func (c *Catalog) List() []View {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]View, 0, len(c.entries))
	for id, m := range c.entries {
		v := View{Manifest: *m, Dir: c.Dir(id), InFlight: c.refs[id]}
		for o := range c.pins[id] {
			v.PinnedBy = append(v.PinnedBy, o)
		}
		sort.Strings(v.PinnedBy)
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns checkpoint id.
func (c *Catalog) Get(id string) (*Manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.entries[id]
	return m, ok
}

// LatestAtLeast returns the newest checkpoint at decree >= d, if any.
func (c *Catalog) LatestAtLeast(d uint64) (*Manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *Manifest
	for _, m := range c.entries {
		if m.Decree >= d && (best == nil || m.ID > best.ID) {
			best = m
		}
	}
	return best, best != nil
}

// Pin pins checkpoint id durably on behalf of owner (a duplication, a
// recovery); it is not collected until every owner unpins it.
func (c *Catalog) Pin(id, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok {
		return fmt.Errorf("pin %s: %w", id, ErrNotFound)
	}
	if c.pins[id] == nil {
		c.pins[id] = map[string]bool{}
	}
	c.pins[id][owner] = true
	return c.savePins()
}

// Unpin removes owner's pin from checkpoint id.
func (c *Catalog) Unpin(id, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pins[id][owner] {
		return nil
	}
	delete(c.pins[id], owner)
	if len(c.pins[id]) == 0 {
		delete(c.pins, id)
	}
	return c.savePins()
}

// Acquire pins checkpoint id for a transfer until release is called.
func (c *Catalog) Acquire(id string) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok {
		return nil, fmt.Errorf("acquire %s: %w", id, ErrNotFound)
	}
	c.refs[id]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.refs[id]--; c.refs[id] <= 0 {
				delete(c.refs, id)
			}
		})
	}, nil
}

// GC deletes checkpoints beyond the newest `retain`, except pinned ones and
// those in transfer, at most gcBatchSize per call. Entries leave the catalog
// before their files are deleted, manifest first.
func (c *Catalog) GC(retain int) int {
	if retain < 1 {
		retain = 1
	}
	victims := c.pickVictims(retain)
	for _, m := range victims {
		if err := removeDir(c.Dir(m.ID)); err != nil {
			c.lg.Warn("delete checkpoint", zap.String("id", m.ID), zap.Error(err))
			continue
		}
		if c.onDelete != nil {
			c.onDelete(m)
		}
	}
	return len(victims)
}

func (c *Catalog) pickVictims(retain int) []*Manifest {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.entries))
	for id := range c.entries {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids))) // newest first
	var victims []*Manifest
	for i, id := range ids {
		if i < retain || len(c.pins[id]) > 0 || c.refs[id] > 0 {
			continue
		}
		victims = append(victims, c.entries[id])
		delete(c.entries, id)
		if len(victims) == gcBatchSize {
			break
		}
	}
	return victims
}
