package duplication

import (
	"context"
	"fmt"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The test clusters' side of a resync, as the server wires it.

func (a *testAdmin) AcceptResync(ctx context.Context, req *tpb.AcceptResyncRequest) (*tpb.AcceptResyncResponse, error) {
	resp, err := a.c.node.AcceptResync(ctx, req)
	if err != nil {
		return nil, testToStatus(err)
	}
	return resp, nil
}

func (r testRegistry) AcceptResync(_ context.Context, table, fromDup string, d Info) (Info, error) {
	var out Info
	var err error
	r.m.change(func(m *testMeta) {
		for _, o := range m.dups {
			if o.ReverseOf == fromDup && o.Table == table {
				out = o
				return
			}
		}
		if p, ok := m.promotions[table]; !ok || p.DupID != fromDup {
			err = fmt.Errorf("%w: not failed over from %s", ErrRefused, fromDup)
			return
		}
		delete(m.promotions, table)
		m.dups[d.ID], out = d, d
	})
	return out, err
}
