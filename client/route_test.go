package client

import (
	"testing"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// mustNewRoute returns a cache of a 2-partition table: partition 0 led by
// a with replicas a, b, c; partition 1 with no leader and replicas b, c.
func mustNewRoute(t *testing.T) *routeCache {
	t.Helper()
	r := &routeCache{}
	r.update(&tandempb.RouteResponse{
		Table: &tandempb.TableInfo{Name: "t", Partitions: 2},
		Partitions: []*tandempb.PartitionRoute{
			{Index: 0, LeaderAddr: "a", ReplicaAddrs: []string{"a", "b", "c"}},
			{Index: 1, ReplicaAddrs: []string{"b", "c"}},
			{Index: 7, LeaderAddr: "ignored"},
		},
	})
	if r.partitions() != 2 {
		t.Fatalf("partitions = %d, want 2", r.partitions())
	}
	return r
}

func TestRouteTarget(t *testing.T) {
	tests := []struct {
		name    string
		p       int
		attempt int
		avoid   string
		want    string
		ok      bool
	}{
		{"leader", 0, 0, "", "a", true},
		{"leader whatever the attempt", 0, 5, "", "a", true},
		{"failed leader avoided", 0, 0, "a", "b", true},
		{"failed leader avoided, rotating", 0, 1, "a", "c", true},
		{"no leader: replicas in turn", 1, 0, "", "b", true},
		{"no leader: next replica", 1, 1, "", "c", true},
		{"no leader, one avoided", 1, 0, "b", "c", true},
		{"out of range", 2, 0, "", "", false},
		{"negative", -1, 0, "", "", false},
	}
	r := mustNewRoute(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := r.target(tt.p, tt.attempt, tt.avoid)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("target(%d, %d, %q) = (%q, %v), want (%q, %v)", tt.p, tt.attempt, tt.avoid, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRouteUpdates(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *routeCache)
		p      int
		want   string
	}{
		{"redirect sets the leader", func(r *routeCache) { r.setLeader(1, "c") }, 1, "c"},
		{"redirect to an unknown node", func(r *routeCache) { r.setLeader(1, "d") }, 1, "d"},
		{"failed leader forgotten", func(r *routeCache) { r.forgetLeader(0, "a") }, 0, ""},
		{"other node's failure keeps the leader", func(r *routeCache) { r.forgetLeader(0, "b") }, 0, "a"},
		{"out of range ignored", func(r *routeCache) { r.setLeader(9, "x"); r.forgetLeader(9, "x") }, 0, "a"},
		{"refresh replaces", func(r *routeCache) {
			r.update(&tandempb.RouteResponse{
				Table:      &tandempb.TableInfo{Name: "t", Partitions: 2},
				Partitions: []*tandempb.PartitionRoute{{Index: 0, LeaderAddr: "b", ReplicaAddrs: []string{"b"}}},
			})
		}, 0, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNewRoute(t)
			tt.change(r)
			if got := r.leader(tt.p); got != tt.want {
				t.Fatalf("leader(%d) = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}

func TestRouteRedirectAddsReplica(t *testing.T) {
	r := mustNewRoute(t)
	r.setLeader(1, "d")
	r.forgetLeader(1, "d")
	if got, _ := r.target(1, 2, ""); got != "d" {
		t.Fatalf("target after redirect to d = %q, want d among the replicas", got)
	}
	if got := r.addrs(); len(got) != 4 {
		t.Fatalf("addrs = %v, want a b c d", got)
	}
}
