package duplication

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Metrics are duplication's Prometheus metrics on a node.
type Metrics struct {
	shipped *prometheus.CounterVec
	// baseServed counts base file bytes this node's FetchFile sent: what
	// a remote's base costs the source (none for a seeded duplication).
	baseServed *prometheus.CounterVec
	// baseLoaded counts the bytes of bases this node's pullers loaded, by
	// where they came from: the remote cluster, or reused (reuse.go).
	baseLoaded *prometheus.CounterVec
	lagSeconds *prometheus.GaugeVec
	lagDecrees *prometheus.GaugeVec
	retained   *prometheus.GaugeVec
	baseBytes  *prometheus.GaugeVec
	// replicated and replicatedAge: the remote partition's replicated
	// time (unix seconds) and its age; absent while unknown.
	replicated    *prometheus.GaugeVec
	replicatedAge *prometheus.GaugeVec
}

// NewMetrics creates duplication's metrics (register Collectors()).
func NewMetrics() *Metrics {
	labels := []string{"dup", "table", "partition"}
	return &Metrics{
		shipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_duplication_shipped_entries_total", Help: "WAL entries shipped to remote clusters by this node.",
		}, []string{"dup", "table"}),
		baseServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_duplication_base_served_bytes_total", Help: "Base file bytes this node sent to remote clusters (FetchFile).",
		}, []string{"dup", "table"}),
		baseLoaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_duplication_base_bytes_total",
			Help: "Base file bytes this node's pullers loaded, by source: remote (fetched from the source cluster), local (hard-linked from the replica's own files), peer (from another node of this cluster).",
		}, []string{"dup", "table", "source"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_lag_seconds", Help: "Age of the oldest source entry the remote has not confirmed.",
		}, labels),
		lagDecrees: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_lag_decrees", Help: "Source decrees the remote has not confirmed.",
		}, labels),
		retained: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_retained_log_bytes", Help: "Raft log bytes kept for the partition (duplication floor included).",
		}, labels),
		baseBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_base_bytes_done", Help: "Bytes of the current base the remote has pulled.",
		}, labels),
		replicated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_replicated_time_seconds",
			Help: "Replicated time (unix seconds): every write the source acknowledged before it is applied on the remote.",
		}, labels),
		replicatedAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_duplication_replicated_age_seconds",
			Help: "Age of the replicated time: the writes a failover now could lose are at most this old.",
		}, labels),
	}
}

// Collectors lists the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.shipped, m.baseServed, m.baseLoaded, m.lagSeconds, m.lagDecrees, m.retained, m.baseBytes, m.replicated, m.replicatedAge}
}

// ResetGauges clears per-partition gauges before a refresh, so partitions
// this node no longer leads disappear.
func (m *Metrics) ResetGauges() {
	m.lagSeconds.Reset()
	m.lagDecrees.Reset()
	m.retained.Reset()
	m.baseBytes.Reset()
	m.replicated.Reset()
	m.replicatedAge.Reset()
}

// Observe sets the gauges of one partition from its status.
func (m *Metrics) Observe(dupID, table string, st *tpb.DupPartitionStatus) {
	p := strconv.Itoa(int(st.Partition))
	m.lagSeconds.WithLabelValues(dupID, table, p).Set(st.LagSeconds)
	m.lagDecrees.WithLabelValues(dupID, table, p).Set(float64(st.LagDecrees))
	m.retained.WithLabelValues(dupID, table, p).Set(float64(st.RetainedLogBytes))
	m.baseBytes.WithLabelValues(dupID, table, p).Set(float64(st.BaseBytesDone))
	if st.ReplicatedTimeUnixMs > 0 {
		m.replicated.WithLabelValues(dupID, table, p).Set(float64(st.ReplicatedTimeUnixMs) / 1000)
		m.replicatedAge.WithLabelValues(dupID, table, p).Set(st.ReplicatedAgeSeconds)
	}
}

// Forget drops the series of a removed duplication.
func (m *Metrics) Forget(dupID string) {
	m.shipped.DeletePartialMatch(prometheus.Labels{"dup": dupID})
	m.baseServed.DeletePartialMatch(prometheus.Labels{"dup": dupID})
	m.baseLoaded.DeletePartialMatch(prometheus.Labels{"dup": dupID})
	for _, g := range []*prometheus.GaugeVec{m.lagSeconds, m.lagDecrees, m.retained, m.baseBytes, m.replicated, m.replicatedAge} {
		g.DeletePartialMatch(prometheus.Labels{"dup": dupID})
	}
}
