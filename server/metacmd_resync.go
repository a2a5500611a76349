package server

import (
	"context"
	"fmt"

	"github.com/tandem-kv/tandem/duplication"
)

// acceptResyncCmd runs on the new primary of failed-over duplication
// FromDup (dup resync): Dup, the duplication back to the old source, is
// recorded and the table's promotion record ends. Applied again it changes
// nothing.
type acceptResyncCmd struct {
	Table   string   `json:"table"`
	FromDup string   `json:"from_dup"`
	Dup     *DupMeta `json:"dup"`
}

func (*acceptResyncCmd) op() string { return opAcceptResync }

func (c *acceptResyncCmd) check() error {
	if c.Dup == nil || c.Dup.ID == "" || c.Table == "" || c.FromDup == "" {
		return fmt.Errorf("%w: %s without a table, a duplication or the new one", errMalformedMeta, opAcceptResync)
	}
	return nil
}

func (c *acceptResyncCmd) apply(s *MetaState) metaResult {
	for _, d := range s.Dups {
		if d.ReverseOf == c.FromDup && d.Table == c.Table {
			cp := *d
			return metaResult{Dup: &cp}
		}
	}
	t, ok := s.Tables[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Table, ErrTableNotFound)}
	}
	if t.Promoted == nil || t.Promoted.DupID != c.FromDup {
		return metaResult{Err: fmt.Errorf("%w: table %q is not failed over from duplication %s", duplication.ErrRefused, c.Table, c.FromDup)}
	}
	if _, ok := s.Dups[c.Dup.ID]; ok {
		return metaResult{Err: fmt.Errorf("duplication id %s: %w", c.Dup.ID, duplication.ErrDupExists)}
	}
	t.Promoted = nil
	d := *c.Dup
	s.Dups[d.ID] = &d
	return metaResult{Dup: &d, Table: t}
}

// AcceptResync records the new primary's part of a resync.
func (r dupRegistry) AcceptResync(ctx context.Context, table, fromDup string, d duplication.Info) (duplication.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &acceptResyncCmd{Table: table, FromDup: fromDup, Dup: &DupMeta{ID: d.ID, Table: d.Table,
		RemoteAddr: d.RemoteAddr, RemoteCluster: d.RemoteCluster, State: d.State, CreatedAtMs: d.CreatedAtMs,
		ReverseOf: d.ReverseOf, RemoteAddrs: d.RemoteAddrs, Divergence: d.Divergence}})
	if err != nil {
		return duplication.Info{}, err
	}
	return dupMeta(r).info(res.Dup), nil
}
