package rocksdb

// Sizes a memory budget derives (Config.MemoryBudgetBytes).
const (
	// minMemoryBudget is the smallest budget Validate accepts.
	minMemoryBudget = 4 << 20
	// minWriteBuffer is the smallest memtable size Validate accepts.
	minWriteBuffer = 64 << 10
	// budgetMaxOpenFiles caps each instance's open table files under a
	// budget: table readers live outside the block cache.
	budgetMaxOpenFiles = 64
	// budgetTableCacheShardBits shards each instance's table cache 2 ways
	// under a budget instead of RocksDB's 64: each shard is allocated up
	// front, about 30 KiB per instance with 64, and an instance of a
	// partition sees little concurrency.
	budgetTableCacheShardBits = 1
	// maxBudgetArenaBlock caps the memtable arena block under a budget. The
	// write buffer manager counts whole arena blocks, and RocksDB's default
	// (an eighth of the memtable) would charge every lightly written
	// instance hundreds of KiB, so hundreds of idle-ish replicas would
	// exhaust the cap and force flushes of near-empty memtables.
	maxBudgetArenaBlock = 64 << 10
)

// effective returns c with the sizes MemoryBudgetBytes derives applied: the
// block cache gets the budget, memtables shrink to at most an eighth of it,
// and MaxOpenFiles to at most budgetMaxOpenFiles. Without a budget it
// returns c unchanged.
func (c Config) effective() Config {
	if c.MemoryBudgetBytes == 0 {
		return c
	}
	c.BlockCacheBytes = c.MemoryBudgetBytes
	c.WriteBufferBytes = max(minWriteBuffer, min(c.WriteBufferBytes, c.MemoryBudgetBytes/8))
	if c.MaxOpenFiles == -1 || c.MaxOpenFiles > budgetMaxOpenFiles {
		c.MaxOpenFiles = budgetMaxOpenFiles
	}
	return c
}

// memtableLimit returns the cap on all instances' memtables together: half
// the budget, the other half being left to cached blocks.
func (c Config) memtableLimit() uint64 {
	return c.MemoryBudgetBytes / 2
}

// arenaBlockSize returns the memtable arena block size under a budget: an
// eighth of the memtable, as RocksDB's default, but at most
// maxBudgetArenaBlock.
func (c Config) arenaBlockSize() uint64 {
	return min(c.WriteBufferBytes/8, maxBudgetArenaBlock)
}

// MemtableUsage returns the memtable bytes of all instances together as the
// write buffer manager counts them; 0 without a memory budget and after
// Close.
func (s *Shared) MemtableUsage() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || s.wbm == nil {
		return 0
	}
	return s.wbm.usage()
}
