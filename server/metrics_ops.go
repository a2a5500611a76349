package server

import (
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
)

// opsMetrics are the per-table, raft and storage metrics of a node, next to
// the RED metrics of metrics.go.
type opsMetrics struct {
	reads, writes *prometheus.CounterVec
	raft          *replica.Metrics
}

func newOpsMetrics() *opsMetrics {
	return &opsMetrics{
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_table_read_ops_total",
			Help: "Read operations this node served for a table: gets, multi-gets, scan pages, counts, each read of a batch.",
		}, []string{"table"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_table_write_ops_total",
			Help: "Write operations this node served for a table: sets, dels, multi-sets, each write of a batch.",
		}, []string{"table"}),
		raft: replica.NewMetrics(),
	}
}

func (m *opsMetrics) collectors() []prometheus.Collector {
	return append(m.raft.Collectors(), m.reads, m.writes)
}

// countTableOps adds a served KV call's operations to its table's rate.
// Only successful calls count: their table exists, so a client cannot make
// up label values.
func (m *opsMetrics) countTableOps(req any) {
	var table string
	var reads, writes int
	switch r := req.(type) {
	case *tpb.GetRequest:
		table, reads = r.Table, 1
	case *tpb.MultiGetRequest:
		table, reads = r.Table, 1
	case *tpb.ScanRequest:
		table, reads = r.Table, 1
	case *tpb.CountRequest:
		table, reads = r.Table, 1
	case *tpb.BatchGetRequest:
		table, reads = r.Table, len(r.Gets)+len(r.MultiGets)+len(r.Scans)
	case *tpb.SetRequest:
		table, writes = r.Table, 1
	case *tpb.DelRequest:
		table, writes = r.Table, 1
	case *tpb.MultiSetRequest:
		table, writes = r.Table, 1
	case *tpb.BatchWriteRequest:
		table, writes = r.Table, len(r.Writes)+len(r.MultiSets)
	default:
		return
	}
	if reads > 0 {
		m.reads.WithLabelValues(table).Add(float64(reads))
	}
	if writes > 0 {
		m.writes.WithLabelValues(table).Add(float64(writes))
	}
}

var (
	descApplyLag     = prometheus.NewDesc("tandem_raft_apply_lag_entries", "Committed raft entries a replica has not applied yet (commit index minus applied index).", []string{"table", "partition"}, nil)
	descLogEntries   = prometheus.NewDesc("tandem_raft_log_entries", "Raft log entries a replica keeps (trailing logs and duplication floors included).", []string{"table", "partition"}, nil)
	descLogBytes     = prometheus.NewDesc("tandem_raft_log_bytes", "Bytes of raft log entries a replica keeps.", []string{"table", "partition"}, nil)
	descLogCap       = prometheus.NewDesc("tandem_raft_log_retain_cap_bytes", "Most raft log a duplication floor may hold back per partition (dup.log_retain_bytes); past it the remote re-bootstraps.", nil, nil)
	descMemtable     = prometheus.NewDesc("tandem_rocksdb_memtable_bytes", "Bytes in the memtables of the node's RocksDB instances (replicas and raft log).", nil, nil)
	descSST          = prometheus.NewDesc("tandem_rocksdb_sst_bytes", "Bytes of SST files of the node's RocksDB instances.", nil, nil)
	descPending      = prometheus.NewDesc("tandem_rocksdb_pending_compaction_bytes", "Bytes RocksDB estimates compaction must rewrite to bring the node's instances' levels under their targets.", nil, nil)
	descStalled      = prometheus.NewDesc("tandem_rocksdb_stalled_instances", "RocksDB instances of the node whose writes are delayed or stopped right now.", nil, nil)
	descStallSeconds = prometheus.NewDesc("tandem_rocksdb_write_stall_seconds_total", "Time writers were delayed or stopped by RocksDB write stalls on the node.", nil, nil)
	descCacheHits    = prometheus.NewDesc("tandem_rocksdb_block_cache_hits_total", "Block lookups served by the node's shared block cache.", nil, nil)
	descCacheMisses  = prometheus.NewDesc("tandem_rocksdb_block_cache_misses_total", "Block lookups that missed the node's shared block cache and read from disk.", nil, nil)
	descCacheUsage   = prometheus.NewDesc("tandem_rocksdb_block_cache_usage_bytes", "Bytes held by the node's shared block cache (memtables charged to it included).", nil, nil)
	descCacheCap     = prometheus.NewDesc("tandem_rocksdb_block_cache_capacity_bytes", "Capacity of the node's shared block cache.", nil, nil)
	descDiskFree     = prometheus.NewDesc("tandem_node_disk_free_bytes", "Bytes available to the node on the file system of its data directory.", nil, nil)
	descDiskSize     = prometheus.NewDesc("tandem_node_disk_size_bytes", "Size of the file system of the node's data directory.", nil, nil)
)

// opsCollector reads raft log and RocksDB figures at scrape time.
type opsCollector struct{ n *Node }

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplyLag, descLogEntries, descLogBytes, descLogCap, descMemtable, descSST, descPending,
		descStalled, descStallSeconds, descCacheHits, descCacheMisses, descCacheUsage, descCacheCap, descDiskFree, descDiskSize} {
		ch <- d
	}
}

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	store := c.n.logDB.Stats()
	for _, r := range c.n.localReplicas() {
		info, ls := r.Info(), r.LogStats()
		p := strconv.Itoa(int(info.Partition))
		gauge(descApplyLag, ls.CommitIndex-min(ls.AppliedIndex, ls.CommitIndex), info.Table, p)
		gauge(descLogEntries, ls.Entries, info.Table, p)
		gauge(descLogBytes, ls.Bytes, info.Table, p)
		store = store.Add(r.StorageStats())
	}
	gauge(descLogCap, c.n.limits().Retention.MaxBytes)
	gauge(descMemtable, store.MemtableBytes)
	gauge(descSST, store.SSTBytes)
	gauge(descPending, store.PendingCompactionBytes)
	gauge(descStalled, store.WriteStalled)
	c.collectNode(ch, c.n.shared.Stats())
}

// collectNode sends the node-wide RocksDB counters and the disk figures.
func (c *opsCollector) collectNode(ch chan<- prometheus.Metric, st rocksdb.NodeStats) {
	ch <- prometheus.MustNewConstMetric(descStallSeconds, prometheus.CounterValue, float64(st.StallMicros)/1e6)
	ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(st.BlockCacheHits))
	ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(st.BlockCacheMisses))
	ch <- prometheus.MustNewConstMetric(descCacheUsage, prometheus.GaugeValue, float64(st.BlockCacheUsage))
	ch <- prometheus.MustNewConstMetric(descCacheCap, prometheus.GaugeValue, float64(st.BlockCacheCapacity))
	var fs syscall.Statfs_t
	if err := syscall.Statfs(c.n.cfg.DataDir, &fs); err == nil {
		ch <- prometheus.MustNewConstMetric(descDiskFree, prometheus.GaugeValue, float64(fs.Bavail*uint64(fs.Bsize)))
		ch <- prometheus.MustNewConstMetric(descDiskSize, prometheus.GaugeValue, float64(fs.Blocks*uint64(fs.Bsize)))
	}
}
