package server

import "sort"

// place assigns each partition `replicas` distinct nodes, always picking
// the least-loaded nodes (load counts replicas already hosted), with ties
// broken by rotating from the partition index so small tables spread too.
func place(nodes []string, load map[string]int, partitions, replicas uint32) [][]string {
	l := make(map[string]int, len(nodes))
	for _, n := range nodes {
		l[n] = load[n]
	}
	out := make([][]string, partitions)
	for p := uint32(0); p < partitions; p++ {
		order := make([]string, len(nodes))
		for i := range nodes {
			order[i] = nodes[(i+int(p))%len(nodes)]
		}
		sort.SliceStable(order, func(i, j int) bool { return l[order[i]] < l[order[j]] })
		out[p] = append([]string(nil), order[:replicas]...)
		for _, n := range out[p] {
			l[n]++
		}
	}
	return out
}
