package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// moveText describes partition p's move for `partitions`, "" when none.
func (m *metaGroup) moveText(t *TableMeta, p uint32) string {
	var out string
	m.fsm.view(func(s *MetaState) {
		if mv := s.Moves[moveKey(t.Name, p)]; mv != nil && mv.TableID == t.ID {
			out = moveText(mv)
		}
	})
	return out
}

var (
	descMoves = prometheus.NewDesc("tandem_membership_moves", "Replica moves in progress in the cluster, by reason and phase.", []string{"reason", "phase"}, nil)
	descNodes = prometheus.NewDesc("tandem_membership_nodes", "Registered nodes by state (the meta leader's liveness view on the leader, the registry elsewhere).", []string{"state"}, nil)
	descDone  = prometheus.NewDesc("tandem_membership_moves_done_total", "Replica moves this node finished as meta leader.", nil, nil)
)

// membershipCollector reads the registry and moves at scrape time.
type membershipCollector struct{ n *Node }

func (c *membershipCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMoves
	ch <- descNodes
	ch <- descDone
}

func (c *membershipCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descDone, prometheus.CounterValue, float64(c.n.movesDone.Load()))
	if c.n.meta == nil {
		return
	}
	moves := map[[2]string]int{}
	states := map[string]int{nodeAlive: 0, nodeSuspect: 0, nodeDead: 0, nodeDraining: 0, nodeRemoved: 0}
	leader := c.n.meta.isLeader()
	dead := c.n.limits().DeadNodeTimeout
	now := c.n.cfg.Now()
	c.n.meta.fsm.view(func(s *MetaState) {
		for _, mv := range s.Moves {
			moves[[2]string{mv.Reason, mv.Phase}]++
		}
		for _, nm := range s.Nodes {
			st := nm.State
			if leader {
				st = c.n.live.verdict(nm, now, dead)
			}
			states[st]++
		}
	})
	for k, v := range moves {
		ch <- prometheus.MustNewConstMetric(descMoves, prometheus.GaugeValue, float64(v), k[0], k[1])
	}
	for st, v := range states {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(v), st)
	}
}
