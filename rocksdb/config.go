package rocksdb

import (
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"
	"go.uber.org/zap"
)

// Config sizes resources shared by all instances of one node.
type Config struct {
	// BlockCacheBytes is the capacity of the LRU block cache shared by all
	// instances; index and filter blocks are charged to it too.
	BlockCacheBytes uint64
	// WriteBufferBytes is the memtable size of each column family of each
	// instance.
	WriteBufferBytes uint64
	// MaxWriteBuffers is the number of memtables each column family may hold
	// before writes stall.
	MaxWriteBuffers int
	// BackgroundThreads sizes the flush and compaction thread pools (the
	// default Env's high- and low-priority pools) and each instance's
	// max_background_jobs.
	BackgroundThreads int
	// MaxOpenFiles caps the table files each instance keeps open; -1 means
	// unlimited.
	MaxOpenFiles int
	// MemoryBudgetBytes, when non-zero, bounds the memory of all instances
	// together: the block cache gets the whole budget (BlockCacheBytes is
	// ignored), and one write buffer manager shared by every instance caps
	// their memtables at half of it and charges them to the cache, so cached
	// blocks and memtables together stay within the budget. It also lowers
	// WriteBufferBytes and MaxOpenFiles; see budget.go. Zero means no budget.
	MemoryBudgetBytes uint64
	// Logger receives this package's logs; nil means zap.NewNop().
	Logger *zap.Logger
}

// DefaultConfig returns a Config suited to a node with many small partitions.
func DefaultConfig() Config {
	return Config{
		BlockCacheBytes:   64 << 20,
		WriteBufferBytes:  4 << 20,
		MaxWriteBuffers:   2,
		BackgroundThreads: 2,
		MaxOpenFiles:      128,
	}
}

// Validate reports the first out-of-range field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.MemoryBudgetBytes != 0 && c.MemoryBudgetBytes < minMemoryBudget:
		return fmt.Errorf("MemoryBudgetBytes %d is below %d MiB: %w", c.MemoryBudgetBytes, minMemoryBudget>>20, ErrInvalidConfig)
	case c.BlockCacheBytes == 0 && c.MemoryBudgetBytes == 0:
		return fmt.Errorf("BlockCacheBytes must be positive: %w", ErrInvalidConfig)
	case c.WriteBufferBytes < minWriteBuffer:
		return fmt.Errorf("WriteBufferBytes %d is below 64 KiB: %w", c.WriteBufferBytes, ErrInvalidConfig)
	case c.MaxWriteBuffers < 1:
		return fmt.Errorf("MaxWriteBuffers %d must be at least 1: %w", c.MaxWriteBuffers, ErrInvalidConfig)
	case c.BackgroundThreads < 1:
		return fmt.Errorf("BackgroundThreads %d must be at least 1: %w", c.BackgroundThreads, ErrInvalidConfig)
	case c.MaxOpenFiles != -1 && c.MaxOpenFiles < 1:
		return fmt.Errorf("MaxOpenFiles %d must be -1 or positive: %w", c.MaxOpenFiles, ErrInvalidConfig)
	}
	return nil
}

// Shared owns the block cache, the env/thread pool and the table options
// every instance of one node uses. Close it after the instances.
//
// RocksDB's default Env is process-wide, so its thread pools are too: when
// several Shared live in one process (in-process clusters in tests), the
// pools are sized for the largest BackgroundThreads among them.
type Shared struct {
	cfg Config
	lg  *zap.Logger

	mu     sync.RWMutex
	closed bool
	cache  *grocksdb.Cache
	env    *grocksdb.Env
	// wbm caps all instances' memtables; nil without a memory budget.
	wbm *writeBufferManager
	// stats counts every instance's tickers (stats.go).
	stats *statistics
	// bloomTable is used for the records column family, plainTable for
	// metadata and KV stores, which are read by iteration or rarely.
	bloomTable *grocksdb.BlockBasedTableOptions
	plainTable *grocksdb.BlockBasedTableOptions
}

// NewShared validates cfg and creates the node-wide RocksDB resources.
func NewShared(cfg Config) (*Shared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.effective()
	lg := cfg.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	env := grocksdb.NewDefaultEnv()
	env.SetBackgroundThreads(max(env.GetBackgroundThreads(), cfg.BackgroundThreads))
	env.SetHighPriorityBackgroundThreads(max(env.GetHighPriorityBackgroundThreads(), cfg.BackgroundThreads))
	cache := grocksdb.NewLRUCache(cfg.BlockCacheBytes)
	s := &Shared{
		cfg:        cfg,
		lg:         lg,
		cache:      cache,
		env:        env,
		bloomTable: newTableOptions(cache, true),
		plainTable: newTableOptions(cache, false),
		stats:      newStatistics(),
	}
	if cfg.MemoryBudgetBytes != 0 {
		s.wbm = newWriteBufferManager(cfg.memtableLimit(), cache)
	}
	return s, nil
}

// newTableOptions returns block-based table options whose blocks, index and
// filter blocks all live in the shared cache, so memory stays bounded however
// many instances are open.
func newTableOptions(cache *grocksdb.Cache, bloom bool) *grocksdb.BlockBasedTableOptions {
	t := grocksdb.NewDefaultBlockBasedTableOptions()
	t.SetBlockCache(cache)
	t.SetCacheIndexAndFilterBlocks(true)
	t.SetCacheIndexAndFilterBlocksWithHighPriority(true)
	t.SetPinL0FilterAndIndexBlocksInCache(true)
	t.SetFormatVersion(5)
	if bloom {
		t.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	}
	return t
}

// BlockCacheUsage returns the bytes currently held by the shared block cache.
func (s *Shared) BlockCacheUsage() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0
	}
	return s.cache.GetUsage()
}

// Close releases the Shared's handles. Instances still open keep working
// (RocksDB reference-counts the cache), but no new instance can be opened.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.wbm != nil {
		s.wbm.destroy()
	}
	s.bloomTable.Destroy()
	s.plainTable.Destroy()
	s.cache.Destroy()
	s.env.Destroy()
	if s.stats != nil {
		s.stats.destroy()
	}
}

// newOptions returns the per-instance options every store uses, with the
// given table options; the caller destroys them after closing the store.
// The caller holds s.mu for reading.
func (s *Shared) newOptions(table *grocksdb.BlockBasedTableOptions) *grocksdb.Options {
	o := grocksdb.NewDefaultOptions()
	o.SetCreateIfMissing(true)
	o.SetCreateIfMissingColumnFamilies(true)
	// The default Env is a process singleton; this wrapper only points at it.
	o.SetEnv(grocksdb.NewDefaultEnv())
	o.SetMaxBackgroundJobs(s.cfg.BackgroundThreads)
	o.SetMaxOpenFiles(s.cfg.MaxOpenFiles)
	o.SetWriteBufferSize(s.cfg.WriteBufferBytes)
	o.SetMaxWriteBufferNumber(s.cfg.MaxWriteBuffers)
	o.SetBlockBasedTableFactory(table)
	o.SetInfoLogLevel(grocksdb.WarnInfoLogLevel)
	o.SetKeepLogFileNum(2)
	o.SetMaxLogFileSize(1 << 20)
	o.SetStatsDumpPeriodSec(0)
	o.SetStatsPersistPeriodSec(0)
	o.SetManifestPreallocationSize(64 << 10)
	// Writers waiting for a group commit sleep instead of spinning with
	// sched_yield: on a small machine the spin burns the CPU the leader of
	// the group needs.
	o.SetEnableWriteThreadAdaptiveYield(false)
	if s.stats != nil {
		s.stats.install(o)
	}
	if s.wbm != nil {
		o.SetTableCacheNumshardbits(budgetTableCacheShardBits)
		o.SetArenaBlockSize(s.cfg.arenaBlockSize())
		s.wbm.install(o)
	}
	return o
}
