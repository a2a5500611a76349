package client

import (
	"context"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// maxScanPage is the server's largest scan page.
const maxScanPage = 1000

// ScanHashKey returns the records of hashKey in sort-key order, following
// the server's cursors until limit records are read or the hash key ends.
// limit 0 reads them all. Each page is one read, in a call shared with
// the partition's other reads (see Table).
func (t *Table) ScanHashKey(ctx context.Context, hashKey []byte, limit int) ([]Record, error) {
	if err := checkHashKey(hashKey); err != nil {
		return nil, err
	}
	p := t.partitionOf(hashKey)
	var (
		out    []Record
		cursor []byte
	)
	for {
		req := &tandempb.ScanRequest{HashKey: hashKey, Cursor: cursor, Limit: pageLimit(limit, len(out))}
		page, err := t.scanPage(ctx, p, req)
		if err != nil {
			return nil, err
		}
		out = append(out, recordsFromProto(page.GetRecords())...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if scanDone(page) {
			return out, nil
		}
		cursor = page.GetCursor()
	}
}

// ScanPartition reads partition p from cursor (nil for its start) and
// returns the records and the cursor to resume from, nil once the
// partition is exhausted. limit > 0 follows the server's pages until limit
// records are read; limit <= 0 returns one page of the server's default
// size. Records come in the partition's key order.
func (t *Table) ScanPartition(ctx context.Context, p int, cursor []byte, limit int) (recs []Record, next []byte, err error) {
	if err := t.checkPartition(p); err != nil {
		return nil, nil, err
	}
	for {
		req := &tandempb.ScanRequest{Partition: uint32(p), Cursor: cursor, Limit: pageLimit(limit, len(recs))}
		page, err := t.scanPage(ctx, p, req)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, recordsFromProto(page.GetRecords())...)
		if scanDone(page) {
			return recs, nil, nil
		}
		cursor = page.GetCursor()
		if limit <= 0 || len(recs) >= limit {
			return recs, cursor, nil
		}
	}
}

// ScanAll calls fn with every record of the table, partition by partition.
// It stops at, and returns, the first error of fn.
func (t *Table) ScanAll(ctx context.Context, fn func(Record) error) error {
	for p := 0; p < t.Partitions(); p++ {
		var cursor []byte
		for {
			recs, next, err := t.ScanPartition(ctx, p, cursor, 0)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := fn(r); err != nil {
					return err
				}
			}
			if next == nil {
				break
			}
			cursor = next
		}
	}
	return nil
}

// Count returns the exact number of live records of the table: the sum of
// every partition's count.
func (t *Table) Count(ctx context.Context) (uint64, error) {
	var total uint64
	for p := 0; p < t.Partitions(); p++ {
		n, err := t.CountPartition(ctx, p)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// CountPartition returns the number of live records of partition p.
func (t *Table) CountPartition(ctx context.Context, p int) (uint64, error) {
	if err := t.checkPartition(p); err != nil {
		return 0, err
	}
	req := &tandempb.CountRequest{Table: t.name, Partition: uint32(p)}
	var resp *tandempb.CountResponse
	err := t.call(ctx, p, false, func(ctx context.Context, kv tandempb.KVClient) (err error) {
		resp, err = kv.Count(ctx, req)
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// scanPage reads one page of partition p (of req's hash key, when set),
// in a call shared with the partition's other reads.
func (t *Table) scanPage(ctx context.Context, p int, req *tandempb.ScanRequest) (*tandempb.ScanResponse, error) {
	op := &batchOp{scan: req, size: len(req.HashKey) + len(req.Cursor), keys: 1}
	if err := t.batched(ctx, p, op); err != nil {
		return nil, err
	}
	return &tandempb.ScanResponse{Records: op.recs.GetRecords(), Cursor: op.recs.GetCursor(), Done: op.recs.GetDone()}, nil
}

// scanDone reports whether a scan response is the last page.
func scanDone(resp *tandempb.ScanResponse) bool {
	return resp.GetDone() || len(resp.GetCursor()) == 0
}

// pageLimit is the page size to ask for when limit records are wanted and
// have records were read already; limit <= 0 means no limit.
func pageLimit(limit, have int) uint32 {
	if limit <= 0 || limit-have > maxScanPage {
		return maxScanPage
	}
	return uint32(limit - have)
}
