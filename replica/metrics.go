package replica

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-kv/tandem/rocksdb"
)

// Metrics are raft figures of a node's replicas, by table, shared by every
// replica of the node (Config.Metrics; nil records nothing).
type Metrics struct {
	leaders  *prometheus.CounterVec
	commit   *prometheus.HistogramVec
	apply    *prometheus.HistogramVec
	installs *prometheus.CounterVec
}

// NewMetrics creates the replicas' raft metrics (register Collectors()).
func NewMetrics() *Metrics {
	buckets := prometheus.ExponentialBuckets(0.0001, 2, 18)
	return &Metrics{
		leaders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_raft_leader_changes_total",
			Help: "Leaders elected in the raft groups of a table's partitions, as this node's replicas saw them.",
		}, []string{"table"}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tandem_raft_commit_duration_seconds",
			Help:    "Time from a write's proposal on the leader until raft committed and applied it (batching wait included).",
			Buckets: buckets,
		}, []string{"table"}),
		apply: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tandem_raft_apply_duration_seconds",
			Help:    "Time the state machine took to apply one batch of committed entries to RocksDB.",
			Buckets: buckets,
		}, []string{"table"}),
		installs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_raft_snapshot_installs_total",
			Help: "Raft snapshots (checkpoints streamed from the leader) installed by replicas, by result.",
		}, []string{"table", "result"}),
	}
}

// Collectors lists the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.leaders, m.commit, m.apply, m.installs}
}

// leaderChanged counts a replica of table seeing a new leader (an empty id
// is a leader lost; the next one known counts).
func (m *Metrics) leaderChanged(table, leaderID string) {
	if m != nil && leaderID != "" {
		m.leaders.WithLabelValues(table).Inc()
	}
}

func (m *Metrics) observeCommit(table string, since time.Time, err error) {
	if m != nil && err == nil {
		m.commit.WithLabelValues(table).Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) observeApply(table string, since time.Time) {
	if m != nil {
		m.apply.WithLabelValues(table).Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) snapshotInstalled(table string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.installs.WithLabelValues(table, result).Inc()
}

// LogStats are a replica's raft log figures, read at scrape time.
type LogStats struct {
	// CommitIndex and AppliedIndex are raft's: AppliedIndex trails while
	// the state machine works through committed entries.
	CommitIndex, AppliedIndex uint64
	// Entries and Bytes are what the replica's log keeps (retention and
	// duplication floors included).
	Entries, Bytes uint64
}

// LogStats reports the replica's raft indexes and retained log.
func (r *Replica) LogStats() LogStats {
	st := LogStats{CommitIndex: r.raft.CommitIndex(), AppliedIndex: r.raft.AppliedIndex(), Bytes: r.glog.RetainedBytes()}
	first, err1 := r.glog.FirstIndex()
	last, err2 := r.glog.LastIndex()
	if err1 == nil && err2 == nil && first > 0 && last >= first {
		st.Entries = last - first + 1
	}
	return st
}

// StorageStats reports the replica's RocksDB figures; zero while its data
// is being replaced or after Close.
func (r *Replica) StorageStats() rocksdb.StoreStats {
	var st rocksdb.StoreStats
	_ = r.store.with(func(db *rocksdb.DB) error {
		st = db.Stats()
		return nil
	})
	return st
}
