package duplication

import (
	"path/filepath"
	"sync"
	"time"
)

// followers runs a puller for every follower partition this node leads:
// a puller starts when its replica becomes leader and stops when it stops
// leading or its table stops being a follower (the duplication removed).
type followers struct {
	cfg *Config
	met *Metrics

	mu      sync.Mutex
	pullers map[pullerKey]*Puller
}

// pullerKey names a puller by its raft group and its duplication, so a
// table that comes to follow another duplication gets a new puller.
type pullerKey struct {
	group uint64
	dupID string
}

func newFollowers(cfg *Config, met *Metrics) *followers {
	return &followers{cfg: cfg, met: met, pullers: map[pullerKey]*Puller{}}
}

// sync starts and stops pullers to match leadership and the metadata.
func (f *followers) sync() {
	// This runs on every leader change of any group on the node: with no
	// follower tables (the common case) it costs one look at the metadata,
	// not a walk over every replica.
	tables := map[string]Follower{}
	for _, t := range f.cfg.Meta.Followers() {
		tables[t.Table] = t
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(tables) == 0 && len(f.pullers) == 0 {
		return
	}
	want := map[pullerKey]Replica{}
	spec := map[pullerKey]Follower{}
	if len(tables) > 0 {
		for _, r := range f.cfg.Replicas.All() {
			info := r.Info()
			if t, ok := tables[info.Table]; ok && r.IsLeader() {
				k := pullerKey{info.Group, t.DupID}
				want[k], spec[k] = r, t
			}
		}
	}
	for k, p := range f.pullers {
		if _, ok := want[k]; !ok {
			p.Stop()
			delete(f.pullers, k)
		}
	}
	for k, r := range want {
		if _, ok := f.pullers[k]; !ok {
			f.pullers[k] = f.start(k, r, spec[k])
		}
	}
}

func (f *followers) start(k pullerKey, r Replica, t Follower) *Puller {
	p := r.Info().Partition
	var seed uint64
	if int(p) < len(t.SeedDecrees) {
		seed = t.SeedDecrees[p]
	}
	return StartPuller(PullerConfig{
		DupID: t.DupID, Table: t.Table, Partition: p, SourceAddrs: t.SourceAddrs,
		Replica: r, WorkDir: filepath.Join(f.cfg.Replicas.Dir(k.group), "dup-base"),
		Dial: f.cfg.Dial, NodeID: f.cfg.NodeID, Logger: f.cfg.Logger,
		SeedURL: t.SeedURL, SeedDecree: seed,
		Reuse: Reuse{Holder: r, Peers: f.otherNodes, Metrics: f.met},
	})
}

// close stops every puller.
func (f *followers) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.pullers {
		p.Stop()
		delete(f.pullers, k)
	}
}

// replicatedTime is the replicated time the puller of raft group g knows
// (zero without one).
func (f *followers) replicatedTime(g uint64) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t time.Time
	for k, p := range f.pullers {
		if k.group == g && p.ReplicatedTime().After(t) {
			t = p.ReplicatedTime()
		}
	}
	return t
}
