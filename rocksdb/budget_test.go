package rocksdb

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
	"go.uber.org/zap/zaptest"
)

// mustNewBudgetShared returns a Shared with the given memory budget, closed
// at the end of the test.
func mustNewBudgetShared(t *testing.T, budget uint64) *Shared {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MemoryBudgetBytes = budget
	cfg.Logger = zaptest.NewLogger(t)
	sh, err := NewShared(cfg)
	if err != nil {
		t.Fatalf("NewShared: %v", err)
	}
	t.Cleanup(sh.Close)
	return sh
}

func TestConfigEffective(t *testing.T) {
	tests := []struct {
		name                  string
		budget, writeBuffer   uint64
		maxOpenFiles          int
		wantCache, wantBuffer uint64
		wantOpenFiles         int
	}{
		{"no budget", 0, 4 << 20, -1, 64 << 20, 4 << 20, -1},
		{"large budget keeps buffer", 1 << 30, 4 << 20, 128, 1 << 30, 4 << 20, budgetMaxOpenFiles},
		{"small budget shrinks buffer", 16 << 20, 4 << 20, -1, 16 << 20, 2 << 20, budgetMaxOpenFiles},
		{"few open files kept", 256 << 20, 4 << 20, 10, 256 << 20, 4 << 20, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MemoryBudgetBytes, c.WriteBufferBytes, c.MaxOpenFiles = tt.budget, tt.writeBuffer, tt.maxOpenFiles
			e := c.effective()
			if e.BlockCacheBytes != tt.wantCache || e.WriteBufferBytes != tt.wantBuffer || e.MaxOpenFiles != tt.wantOpenFiles {
				t.Fatalf("effective() = cache %d, buffer %d, open files %d; want %d, %d, %d",
					e.BlockCacheBytes, e.WriteBufferBytes, e.MaxOpenFiles, tt.wantCache, tt.wantBuffer, tt.wantOpenFiles)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("effective config invalid: %v", err)
			}
		})
	}
}

func TestWriteBufferManagerLayout(t *testing.T) {
	// wbm_shim.cc reaches Options and Cache through the C wrappers' layouts;
	// reading known values back through them checks those layouts.
	sh := mustNewBudgetShared(t, 16<<20)
	if got := cacheCapacity(sh.cache); got != 16<<20 {
		t.Fatalf("cache capacity through shim = %d, want %d", got, 16<<20)
	}
	if got := sh.wbm.limit(); got != 8<<20 {
		t.Fatalf("write buffer manager limit = %d, want %d", got, 8<<20)
	}
	o := grocksdb.NewDefaultOptions()
	defer o.Destroy()
	o.SetWriteBufferSize(3<<20 + 4096)
	if got := optionsWriteBufferSize(o); got != 3<<20+4096 {
		t.Fatalf("write_buffer_size through shim = %d, want %d", got, 3<<20+4096)
	}
	// Memtable memory is charged to the manager and to the block cache.
	db := mustOpen(t, sh, Options{})
	cacheBefore := sh.BlockCacheUsage()
	mustPut(t, db, "h", "s", strings.Repeat("v", 300<<10), 0)
	if sh.MemtableUsage() < 300<<10 {
		t.Fatalf("MemtableUsage = %d after a 300 KiB write", sh.MemtableUsage())
	}
	if got := sh.BlockCacheUsage(); got < cacheBefore+256<<10 {
		t.Fatalf("block cache usage %d -> %d: memtables not charged", cacheBefore, got)
	}
	// The instance holds its own reference to the manager.
	sh.Close()
	mustPut(t, db, "h", "s2", "v", 0)
	if v, ok := mustGet(t, db, "h", "s2"); !ok || v != "v" {
		t.Fatalf("Get after Shared.Close = %q, %v", v, ok)
	}
}

func TestMemoryBudgetCapsMemtables(t *testing.T) {
	// 50 instances, each written far more than its share of the 8 MiB
	// memtable cap: the shared write buffer manager must flush so that the
	// memtables of all of them together stay near the cap.
	const (
		budget    = 16 << 20
		instances = 50
		rounds    = 40
		perRound  = 16 // records of 1 KiB per instance per round: 640 KiB each
	)
	sh := mustNewBudgetShared(t, budget)
	dbs := make([]*DB, instances)
	for i := range dbs {
		dbs[i] = mustOpenDir(t, filepath.Join(t.TempDir(), fmt.Sprint(i)), sh, Options{DisableWAL: true})
	}
	value := strings.Repeat("v", 1024)
	var peak uint64
	for r := range rounds {
		for i, db := range dbs {
			mustWrite(t, db, func(b *Batch) {
				for k := range perRound {
					b.Put([]byte(fmt.Sprintf("h%d", r*perRound+k)), []byte("s"), []byte(value), 0)
				}
				b.PutMeta([]byte("decree"), []byte(fmt.Sprint(r)))
			})
			if i%10 == 0 {
				peak = max(peak, memtableBytes(dbs))
			}
		}
	}
	limit := sh.cfg.memtableLimit()
	t.Logf("written %d MiB; memtable peak %d KiB, cap %d KiB", instances*rounds*perRound>>10, peak>>10, limit>>10)
	if peak > 2*limit {
		t.Fatalf("memtable peak %d exceeds twice the cap %d", peak, limit)
	}
	waitFor(t, 10*time.Second, func() bool { return memtableBytes(dbs) <= limit })
	for i, db := range dbs {
		for _, k := range []int{0, rounds*perRound - 1} {
			if v, ok := mustGet(t, db, fmt.Sprintf("h%d", k), "s"); !ok || v != value {
				t.Fatalf("db %d record %d: found %v, %d bytes", i, k, ok, len(v))
			}
		}
		if n, _ := db.Property("rocksdb.estimate-num-keys"); n == 0 {
			t.Fatalf("db %d has no keys", i)
		}
	}
}

// memtableBytes sums the memtable memory of both column families of dbs.
func memtableBytes(dbs []*DB) uint64 {
	var total uint64
	for _, db := range dbs {
		if db.rlock() != nil {
			continue
		}
		for _, cf := range []*grocksdb.ColumnFamilyHandle{db.records, db.meta} {
			if v, ok := db.db.GetIntPropertyCF("rocksdb.cur-size-all-mem-tables", cf); ok {
				total += v
			}
		}
		db.mu.RUnlock()
	}
	return total
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
