package main

import (
	"context"

	"github.com/tandem-kv/tandem/client"
)

// recordStream yields the records of one side of a partition in key order.
type recordStream interface {
	// Next returns the next record; ok is false once the stream ends.
	Next() (r client.Record, ok bool, err error)
}

// partitionScanner reads a partition a page at a time; *client.Table is
// one.
type partitionScanner interface {
	ScanPartition(ctx context.Context, p int, cursor []byte, limit int) ([]client.Record, []byte, error)
}

// page is one scan page, or the error that ended the scan.
type page struct {
	recs []client.Record
	err  error
}

// scanStream is a recordStream over a partition scan. A goroutine fetches
// the next page while the current one is consumed, so the two sides of a
// comparison are scanned at the same time.
type scanStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	pages  chan page
	cur    []client.Record
	err    error
}

// newScanStream starts scanning partition p of tbl. Close must be called.
func newScanStream(ctx context.Context, tbl partitionScanner, p int) *scanStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &scanStream{ctx: ctx, cancel: cancel, pages: make(chan page, 1)}
	go s.fetch(tbl, p)
	return s
}

// fetch follows the partition's cursor to its end, sending every page.
func (s *scanStream) fetch(tbl partitionScanner, p int) {
	defer close(s.pages)
	var cursor []byte
	for {
		recs, next, err := tbl.ScanPartition(s.ctx, p, cursor, 0)
		select {
		case s.pages <- page{recs: recs, err: err}:
		case <-s.ctx.Done():
			return
		}
		if err != nil || next == nil {
			return
		}
		cursor = next
	}
}

// Next returns the next record of the partition.
func (s *scanStream) Next() (client.Record, bool, error) {
	for len(s.cur) == 0 {
		if s.err != nil {
			return client.Record{}, false, s.err
		}
		pg, ok := <-s.pages
		switch {
		case !ok && s.ctx.Err() != nil:
			s.err = s.ctx.Err()
		case !ok:
			return client.Record{}, false, nil
		case pg.err != nil:
			s.err = pg.err
		default:
			s.cur = pg.recs
		}
	}
	r := s.cur[0]
	s.cur = s.cur[1:]
	return r, true, nil
}

// Close stops the scan and waits for its goroutine to end.
func (s *scanStream) Close() {
	s.cancel()
	for range s.pages {
	}
}
