package client

import (
	"slices"
	"sync"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// partRoute is what the client believes about one partition: its leader,
// when known, and the nodes holding its replicas.
type partRoute struct {
	leader   string
	replicas []string
}

// routeCache is the routing of one table: its metadata and, per partition,
// where to send requests. Lookups are frequent and updates rare, so it sits
// behind a RWMutex; it is shared by every Table handle of that name.
type routeCache struct {
	mu    sync.RWMutex
	info  *tandempb.TableInfo
	parts []partRoute
}

// update replaces the cache with a fresh route from Admin.Route.
func (r *routeCache) update(resp *tandempb.RouteResponse) {
	info := resp.GetTable()
	parts := make([]partRoute, info.GetPartitions())
	for _, pr := range resp.GetPartitions() {
		if int(pr.GetIndex()) >= len(parts) {
			continue
		}
		parts[pr.GetIndex()] = partRoute{
			leader:   pr.GetLeaderAddr(),
			replicas: slices.Clone(pr.GetReplicaAddrs()),
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.info = info
	r.parts = parts
}

// tableInfo returns the table's metadata from the last route.
func (r *routeCache) tableInfo() *tandempb.TableInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.info
}

// partitions returns the table's partition count.
func (r *routeCache) partitions() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.parts)
}

// target picks the node to send a request for partition p to: the leader
// when one is known and is not avoid (a node that just failed), otherwise
// one of the replicas, rotating with attempt. ok is false when the cache
// knows no node for p.
func (r *routeCache) target(p, attempt int, avoid string) (addr string, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p < 0 || p >= len(r.parts) {
		return "", false
	}
	pr := r.parts[p]
	if pr.leader != "" && pr.leader != avoid {
		return pr.leader, true
	}
	var candidates []string
	for _, a := range pr.replicas {
		if a != avoid {
			candidates = append(candidates, a)
		}
	}
	if len(candidates) == 0 {
		if pr.leader != "" {
			return pr.leader, true
		}
		return "", false
	}
	return candidates[attempt%len(candidates)], true
}

// setLeader records that addr leads partition p, as a NotLeader answer
// said.
func (r *routeCache) setLeader(p int, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p < 0 || p >= len(r.parts) {
		return
	}
	r.parts[p].leader = addr
	if !slices.Contains(r.parts[p].replicas, addr) {
		r.parts[p].replicas = append(r.parts[p].replicas, addr)
	}
}

// forgetLeader drops addr as p's leader, if it is the one cached, after it
// failed or said it is not the leader.
func (r *routeCache) forgetLeader(p int, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p < 0 || p >= len(r.parts) {
		return
	}
	if r.parts[p].leader == addr {
		r.parts[p].leader = ""
	}
}

// leader returns p's cached leader, "" when unknown.
func (r *routeCache) leader(p int) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p < 0 || p >= len(r.parts) {
		return ""
	}
	return r.parts[p].leader
}

// addrs returns every node address the cache knows, for route refreshes.
func (r *routeCache) addrs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for _, pr := range r.parts {
		if pr.leader != "" {
			out = append(out, pr.leader)
		}
		out = append(out, pr.replicas...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
