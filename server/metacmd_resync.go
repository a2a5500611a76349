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
	return recordReverse(s, c.Table, c.FromDup, c.Dup,
		func(t *TableMeta) bool { return t.Promoted != nil && t.Promoted.DupID == c.FromDup },
		func(t *TableMeta) { t.Promoted = nil }, "is not failed over from duplication")
}

// AcceptResync records the new primary's part of a resync.
func (r dupRegistry) AcceptResync(ctx context.Context, table, fromDup string, d duplication.Info) (duplication.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &acceptResyncCmd{Table: table, FromDup: fromDup, Dup: reverseMeta(d)})
	if err != nil {
		return duplication.Info{}, err
	}
	return dupMeta(r).info(res.Dup), nil
}
