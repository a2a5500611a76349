package main

import "time"

// stats are the counts and latencies of successful ops, per worker and
// merged for the run.
type stats struct {
	all, get, set *Histogram
	errors        int64
	notFound      int64
}

// newStats returns empty stats.
func newStats() *stats {
	return &stats{all: NewHistogram(), get: NewHistogram(), set: NewHistogram()}
}

// record counts one successful op of kind k that took lat.
func (s *stats) record(k opKind, lat time.Duration, notFound bool) {
	s.all.Record(lat)
	if k.isRead() {
		s.get.Record(lat)
	} else {
		s.set.Record(lat)
	}
	if notFound {
		s.notFound++
	}
}

// merge adds o to s.
func (s *stats) merge(o *stats) {
	s.all.Merge(o.all)
	s.get.Merge(o.get)
	s.set.Merge(o.set)
	s.errors += o.errors
	s.notFound += o.notFound
}
