package server

import (
	"context"
	"fmt"

	"github.com/tandem-kv/tandem/duplication"
)

// Disaster recovery's metadata changes (issue 13): each is one command, so
// a switchover's steps leave the metadata in one state or the next, never
// half of one.

// acceptSwitchoverCmd runs on the remote of duplication FromDup: its
// follower table becomes primary and Reverse (the duplication back to the
// old source) is recorded. Applied again it changes nothing.
type acceptSwitchoverCmd struct {
	Table   string   `json:"table"`
	FromDup string   `json:"from_dup"`
	Reverse *DupMeta `json:"reverse"`
}

func (*acceptSwitchoverCmd) op() string { return opAcceptSwitchover }

func (c *acceptSwitchoverCmd) check() error {
	if c.Reverse == nil || c.Reverse.ID == "" || c.Table == "" || c.FromDup == "" {
		return fmt.Errorf("%w: %s without a table, a duplication or its reverse", errMalformedMeta, opAcceptSwitchover)
	}
	return nil
}

func (c *acceptSwitchoverCmd) apply(s *MetaState) metaResult {
	return recordReverse(s, c.Table, c.FromDup, c.Reverse,
		func(t *TableMeta) bool { return t.Follower != nil && t.Follower.DupID == c.FromDup },
		func(t *TableMeta) { t.Follower = nil }, "is not the follower of duplication")
}

// recordReverse records rev, the duplication from table back to where
// duplication fromDup came from, when the table is on fromDup's far side
// (on: its follower, or promoted from it), which it then stops being
// (release); refusal says what the table is not. Applied again it finds
// rev and changes nothing (the switchover's and the resync's new primary).
func recordReverse(s *MetaState, table, fromDup string, rev *DupMeta, on func(*TableMeta) bool, release func(*TableMeta), refusal string) metaResult {
	for _, d := range s.Dups {
		if d.ReverseOf == fromDup && d.Table == table {
			cp := *d
			return metaResult{Dup: &cp}
		}
	}
	t, ok := s.Tables[table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", table, ErrTableNotFound)}
	}
	if !on(t) {
		return metaResult{Err: fmt.Errorf("%w: table %q %s %s", duplication.ErrRefused, table, refusal, fromDup)}
	}
	if _, ok := s.Dups[rev.ID]; ok {
		return metaResult{Err: fmt.Errorf("duplication id %s: %w", rev.ID, duplication.ErrDupExists)}
	}
	release(t)
	d := *rev
	s.Dups[d.ID] = &d
	return metaResult{Dup: &d, Table: t}
}

// reverseMeta is the metadata of rev, a duplication back to an old source.
func reverseMeta(rev duplication.Info) *DupMeta {
	return &DupMeta{ID: rev.ID, Table: rev.Table, RemoteAddr: rev.RemoteAddr, RemoteCluster: rev.RemoteCluster, State: rev.State,
		CreatedAtMs: rev.CreatedAtMs, ReverseOf: rev.ReverseOf, Starts: rev.Starts, RemoteAddrs: rev.RemoteAddrs, Divergence: rev.Divergence}
}

// completeSwitchoverCmd runs on the old source: duplication ID is removed
// (its floors and base pins are released) and its table becomes Follower.
type completeSwitchoverCmd struct {
	ID       string        `json:"id"`
	Table    string        `json:"table"`
	Follower *FollowerMeta `json:"follower"`
}

func (*completeSwitchoverCmd) op() string { return opCompleteSwitchover }

func (c *completeSwitchoverCmd) check() error {
	if c.Follower == nil || c.ID == "" || c.Table == "" {
		return fmt.Errorf("%w: %s without a duplication, a table or its follower", errMalformedMeta, opCompleteSwitchover)
	}
	return nil
}

func (c *completeSwitchoverCmd) apply(s *MetaState) metaResult {
	t, ok := s.Tables[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Table, ErrTableNotFound)}
	}
	if d, ok := s.Dups[c.ID]; ok {
		delete(s.Dups, c.ID)
		s.RemovedDups[c.ID] = d.CreatedAtMs
		s.RemovedDupRemotes[c.ID] = d.RemoteAddr
	}
	f := *c.Follower
	t.Follower = &f
	return metaResult{Table: t}
}

// AcceptSwitchover records the remote's part of a switchover.
func (r dupRegistry) AcceptSwitchover(ctx context.Context, table, fromDup string, rev duplication.Info) (duplication.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &acceptSwitchoverCmd{Table: table, FromDup: fromDup, Reverse: reverseMeta(rev)})
	if err != nil {
		return duplication.Info{}, err
	}
	return dupMeta(r).info(res.Dup), nil
}

// CompleteSwitchover records the old source's last step of a switchover.
func (r dupRegistry) CompleteSwitchover(ctx context.Context, id string, f duplication.Follower) error {
	_, _, err := r.n.meta.apply(ctx, &completeSwitchoverCmd{ID: id, Table: f.Table, Follower: &FollowerMeta{DupID: f.DupID,
		SourceCluster: f.SourceCluster, SourceAddrs: f.SourceAddrs, SwitchedFrom: f.SwitchedFrom}})
	return err
}

// PromotedMeta records a follower table dup promote made writable.
type PromotedMeta struct {
	DupID         string   `json:"dup_id"`
	SourceCluster string   `json:"source_cluster"`
	SourceAddrs   []string `json:"source_addrs"`
	ReplicatedMs  int64    `json:"replicated_ms"`
	AtMs          int64    `json:"at_ms"`
	SourceDecrees []uint64 `json:"source_decrees"`
}

// promoteFollowerCmd makes follower table Table of duplication
// Promoted.DupID writable and records the failover. Applied again it
// changes nothing.
type promoteFollowerCmd struct {
	Table    string        `json:"table"`
	Promoted *PromotedMeta `json:"promoted"`
}

func (*promoteFollowerCmd) op() string { return opPromoteFollower }

func (c *promoteFollowerCmd) check() error {
	if c.Promoted == nil || c.Table == "" || c.Promoted.DupID == "" {
		return fmt.Errorf("%w: %s without a table or its promotion", errMalformedMeta, opPromoteFollower)
	}
	return nil
}

func (c *promoteFollowerCmd) apply(s *MetaState) metaResult {
	t, ok := s.Tables[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Table, ErrTableNotFound)}
	}
	if p := t.Promoted; p != nil && p.DupID == c.Promoted.DupID {
		return metaResult{Table: t}
	}
	if t.Follower == nil || t.Follower.DupID != c.Promoted.DupID {
		return metaResult{Err: fmt.Errorf("%w: table %q is not the follower of duplication %s", duplication.ErrRefused, c.Table, c.Promoted.DupID)}
	}
	p := *c.Promoted
	t.Follower, t.Promoted = nil, &p
	return metaResult{Table: t}
}

// Promote records dup promote's metadata change.
func (r dupRegistry) Promote(ctx context.Context, p duplication.Promotion) (duplication.Promotion, error) {
	res, _, err := r.n.meta.apply(ctx, &promoteFollowerCmd{Table: p.Table, Promoted: &PromotedMeta{DupID: p.DupID, SourceCluster: p.SourceCluster,
		SourceAddrs: p.SourceAddrs, ReplicatedMs: p.ReplicatedMs, AtMs: p.AtMs, SourceDecrees: p.SourceDecrees}})
	if err != nil {
		return duplication.Promotion{}, err
	}
	return promotionOf(res.Table), nil
}

// Promotions lists the tables dup promote made writable.
func (d dupMeta) Promotions() []duplication.Promotion {
	var out []duplication.Promotion
	for _, t := range d.n.meta.tables() {
		if t.Promoted != nil {
			out = append(out, promotionOf(t))
		}
	}
	return out
}

func promotionOf(t *TableMeta) duplication.Promotion {
	p := t.Promoted
	return duplication.Promotion{Table: t.Name, DupID: p.DupID, SourceCluster: p.SourceCluster, SourceAddrs: p.SourceAddrs,
		ReplicatedMs: p.ReplicatedMs, AtMs: p.AtMs, SourceDecrees: p.SourceDecrees}
}
