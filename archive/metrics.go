package archive

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The archive's metrics, read from the archivers at scrape time (the
// partitions this node leads).
var (
	lagSecondsDesc = prometheus.NewDesc("tandem_archive_lag_seconds",
		"Age of the oldest write not yet archived, per archived partition this node leads.", []string{"table", "partition"}, nil)
	lagDecreesDesc = prometheus.NewDesc("tandem_archive_lag_decrees",
		"Applied decrees not yet archived, per archived partition this node leads.", []string{"table", "partition"}, nil)
	uploadedDesc = prometheus.NewDesc("tandem_archive_uploaded_bytes",
		"Bytes this node's archiver of the partition uploaded since it started leading it.", []string{"table", "partition"}, nil)
	gapsDesc = prometheus.NewDesc("tandem_archive_gaps",
		"Logs gone before they were archived (each started a new base), since the archiver started.", []string{"table", "partition"}, nil)
)

// Collectors lists the metrics to register.
func (n *Node) Collectors() []prometheus.Collector { return []prometheus.Collector{collector{n}} }

type collector struct{ n *Node }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lagSecondsDesc, lagDecreesDesc, uploadedDesc, gapsDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	for k, a := range c.n.archivers {
		st := a.status()
		labels := []string{k.table, strconv.FormatUint(uint64(k.p), 10)}
		ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, st.LagSeconds, labels...)
		ch <- prometheus.MustNewConstMetric(lagDecreesDesc, prometheus.GaugeValue, float64(st.LagDecrees), labels...)
		ch <- prometheus.MustNewConstMetric(uploadedDesc, prometheus.GaugeValue, float64(st.UploadedBytes), labels...)
		ch <- prometheus.MustNewConstMetric(gapsDesc, prometheus.GaugeValue, float64(st.Gaps), labels...)
	}
}
