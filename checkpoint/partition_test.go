package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testPartition is a partition whose data is a few immutable files, the
// newest three decrees' (as SST files come and go under compaction). Its
// checkpoints are taken the way a replica takes them, hard links in the
// catalog's temporary directory published by Catalog.Publish: what the
// catalog and the scheduler do with a checkpoint does not depend on what
// its files hold. gate, when set, holds CreateCheckpoint until closed, and
// started records the order creations begin in.
type testPartition struct {
	key     string
	data    string
	cat     *Catalog
	applied atomic.Uint64
	size    uint64
	creates atomic.Int32
	gate    chan struct{}
	started chan string
	mu      sync.Mutex // one creation at a time, as the replica's
}

func mustNewPartition(t *testing.T, key string) *testPartition {
	t.Helper()
	return openPartition(t, t.TempDir(), key)
}

// openPartition opens the partition kept in dir, at the newest decree its
// data holds.
func openPartition(t *testing.T, dir, key string) *testPartition {
	t.Helper()
	p := &testPartition{key: key, data: filepath.Join(dir, "data")}
	if err := os.MkdirAll(p.data, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(p.data)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if d, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".sst"), 10, 64); err == nil && d > p.applied.Load() {
			p.applied.Store(d)
		}
	}
	if p.cat, err = OpenCatalog(filepath.Join(dir, "checkpoints"), zaptest.NewLogger(t)); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPartition) CheckpointKey() string { return p.key }
func (p *testPartition) Catalog() *Catalog     { return p.cat }
func (p *testPartition) Applied() uint64       { return p.applied.Load() }
func (p *testPartition) DataSize() uint64      { return p.size }
func (p *testPartition) CreateCheckpoint(purpose Purpose) (*Manifest, error) {
	if p.started != nil {
		p.started <- p.key
	}
	if p.gate != nil {
		<-p.gate
	}
	p.creates.Add(1)
	return p.create(purpose)
}

// write applies decree d: a new data file, and the one three decrees older
// gone.
func (p *testPartition) write(d uint64) {
	if err := os.WriteFile(filepath.Join(p.data, fmt.Sprintf("%d.sst", d)), []byte(fmt.Sprintf("records of decree %d", d)), 0o644); err != nil {
		panic(err)
	}
	if d > 3 {
		os.Remove(filepath.Join(p.data, fmt.Sprintf("%d.sst", d-3)))
	}
	p.applied.Store(d)
}

// create takes and publishes a checkpoint of the data at the applied
// decree; one of a partition without data is metadata-only.
func (p *testPartition) create(purpose Purpose) (*Manifest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := NewManifest("t", 0, p.applied.Load(), time.Now(), purpose)
	tmp := p.cat.TmpDir(m.ID)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p.data)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := os.Link(filepath.Join(p.data, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			return nil, err
		}
	}
	m.Empty = len(entries) == 0
	return m, p.cat.Publish(m, nil)
}
