package server

import (
	"context"
	"path"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// metrics is a node's Prometheus registry. Each node has its own, so tests
// can run several nodes in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ops      *opsMetrics
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_rpc_requests_total", Help: "RPCs served, by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tandem_rpc_duration_seconds", Help: "RPC latency by method.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"method"}),
		ops: newOpsMetrics(),
	}
	m.reg.MustRegister(n.sched.Metrics().Collectors()...)
	m.reg.MustRegister(n.dup.Collectors()...)
	m.reg.MustRegister(n.archive.Collectors()...)
	m.reg.MustRegister(n.hub.Collectors()...)
	m.reg.MustRegister(&membershipCollector{n: n})
	m.reg.MustRegister(m.requests, m.latency, &replicaCollector{n: n},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(append(m.ops.collectors(), &opsCollector{n: n})...)
	return m
}

func (m *metrics) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	method := path.Base(info.FullMethod)
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err == nil {
		m.ops.countTableOps(req)
	}
	return resp, err
}

var (
	descReplicas = prometheus.NewDesc("tandem_node_replicas", "Partition replicas hosted by this node.", nil, nil)
	descApplied  = prometheus.NewDesc("tandem_replica_applied_decree", "Last applied decree of a replica.", []string{"table", "partition"}, nil)
	descLeader   = prometheus.NewDesc("tandem_replica_is_leader", "1 when this replica leads its partition.", []string{"table", "partition"}, nil)
	descSize     = prometheus.NewDesc("tandem_replica_size_bytes", "Approximate data size of a replica.", []string{"table", "partition"}, nil)
	descMeta     = prometheus.NewDesc("tandem_meta_is_leader", "1 when this node leads the meta group.", nil, nil)
	descCkpts    = prometheus.NewDesc("tandem_checkpoint_published", "Published checkpoints of a replica.", []string{"table", "partition"}, nil)
	descCkptSize = prometheus.NewDesc("tandem_checkpoint_bytes", "Bytes of a replica's published checkpoints (hard links share data with the live instance).", []string{"table", "partition"}, nil)
)

// replicaCollector reads replica gauges at scrape time, so nothing has to
// keep label sets in step with tables being created and dropped.
type replicaCollector struct{ n *Node }

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReplicas, descApplied, descLeader, descSize, descMeta, descCkpts, descCkptSize} {
		ch <- d
	}
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	reps := c.n.localReplicas()
	ch <- prometheus.MustNewConstMetric(descReplicas, prometheus.GaugeValue, float64(len(reps)))
	if c.n.meta != nil {
		ch <- prometheus.MustNewConstMetric(descMeta, prometheus.GaugeValue, boolGauge(c.n.meta.isLeader()))
	}
	for _, r := range reps {
		info, st := r.Info(), r.Status()
		p := strconv.Itoa(int(info.Partition))
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(st.Applied), info.Table, p)
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, boolGauge(st.State == "leader"), info.Table, p)
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(st.Size), info.Table, p)
		var bytes int64
		list := r.Catalog().List()
		for _, c := range list {
			bytes += c.TotalBytes
		}
		ch <- prometheus.MustNewConstMetric(descCkpts, prometheus.GaugeValue, float64(len(list)), info.Table, p)
		ch <- prometheus.MustNewConstMetric(descCkptSize, prometheus.GaugeValue, float64(bytes), info.Table, p)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
