package duplication

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// rebootstrapGauge is the re-bootstrap count the remote's puller of each
// partition this node leads reports, for the re-bootstrap alert
// (deploy/monitoring). It is refreshed with the lag gauges (observe).
type rebootstrapGauge struct{ g *prometheus.GaugeVec }

func newRebootstrapGauge() *rebootstrapGauge {
	return &rebootstrapGauge{g: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tandem_duplication_rebootstraps",
		Help: "Times the remote partition re-bootstrapped from a new base (the source's log was gone), as its puller reports since it started.",
	}, []string{"dup", "table", "partition"})}
}

func (r *rebootstrapGauge) set(dupID, table string, st *tpb.DupPartitionStatus) {
	r.g.WithLabelValues(dupID, table, strconv.Itoa(int(st.Partition))).Set(float64(st.Rebootstraps))
}
