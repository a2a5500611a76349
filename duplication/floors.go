package duplication

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// A duplication's floor is its confirmed decree, persisted through the
// source partition's raft group: every replica keeps the log above the
// lowest floor (within the retention cap), so a new leader can go on
// shipping where the old one stopped. The source leader owns raising it
// (a base's decree, then what remotes confirm); every node releases the
// floors and base pins of duplications the metadata says were removed.

// raiseFloor raises duplication id's floor to at least decree.
func raiseFloor(ctx context.Context, r SourceReplica, id string, decree uint64) error {
	if c, ok := r.Confirmed()[id]; ok && c >= decree {
		return nil
	}
	return r.ProposeDupConfirm(ctx, id, decree)
}

// recordConfirmed remembers the remote's confirmed decree and writes it
// through raft when it moved on enough, in the background.
func (s *Source) recordConfirmed(r SourceReplica, id string, pr *progress, confirmed uint64) {
	s.mu.Lock()
	if confirmed > pr.confirmed {
		pr.confirmed = confirmed
	}
	if stored := r.Confirmed()[id]; stored > pr.persisted {
		pr.persisted = stored
	}
	now := s.cfg.Now()
	due := !pr.persisting && pr.confirmed > pr.persisted+1 &&
		(now.Sub(pr.lastPersist) >= persistEvery || pr.confirmed-pr.persisted >= persistAfter)
	if due {
		pr.persisting, pr.lastPersist = true, now
	}
	target := pr.confirmed
	s.mu.Unlock()
	if due {
		go s.persistConfirmed(r, id, pr, target)
	}
}

// persistConfirmed writes a confirmed decree through raft.
func (s *Source) persistConfirmed(r SourceReplica, id string, pr *progress, target uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.ProposeDupConfirm(ctx, id, target)
	s.mu.Lock()
	pr.persisting = false
	if err == nil {
		pr.persisted = max(pr.persisted, target)
	}
	s.mu.Unlock()
	if err != nil {
		s.lg.Debug("persist confirmed decree", zap.String("dup", id), zap.Error(err))
	}
}

// forget drops what the source remembers of a removed duplication.
func (s *Source) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.progress {
		if k.id == id {
			delete(s.progress, k)
		}
	}
}

// release drops what removed duplications hold on this node: their floors
// (through raft, on partitions it leads), their base pins (on every
// replica) and their metrics. It also pushes the retention cap, which
// bounds what the remaining floors may hold back, to every replica.
func (n *Node) release() {
	removed := map[string]bool{}
	for _, id := range n.cfg.Meta.Removed() {
		removed[id] = true
		n.met.Forget(id)
	}
	limit := n.cfg.RetentionCap()
	for _, r := range n.cfg.Replicas.All() {
		if r.IsLeader() {
			for id := range r.Confirmed() {
				if removed[id] {
					n.releaseFloor(r, id)
				}
			}
		}
		unpinRemoved(r.Catalog(), removed)
		r.SetRetentionCap(limit)
	}
}

// releaseFloor drops duplication id's floor through r's raft group.
func (n *Node) releaseFloor(r Replica, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ProposeDupRelease(ctx, id); err != nil {
		n.lg.Debug("release duplication floor", zap.String("dup", id), zap.Error(err))
		return
	}
	n.source.forget(id)
	info := r.Info()
	n.lg.Info("duplication floor released", zap.String("dup", id), zap.String("table", info.Table), zap.Uint32("partition", info.Partition))
}
