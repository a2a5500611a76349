package archive

import (
	"context"
	"sort"
	"time"
)

// partCatalog is what the bucket holds of one partition: its bases'
// decrees and its segments, by decree.
type partCatalog struct {
	p        uint32
	bases    []uint64
	segments []segRange
}

// segRange is a stored segment's decree range (and, once read, the time
// of its last decree).
type segRange struct {
	from, to uint64
	lastTime time.Time
	size     int64
}

// catalog lists partition p's bases and segments.
func (s *Store) catalog(ctx context.Context, p uint32) (*partCatalog, error) {
	c := &partCatalog{p: p}
	objs, err := s.List(ctx, partitionPrefix(p))
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if d, ok := parseBaseKey(p, o.Key); ok {
			c.bases = append(c.bases, d)
		} else if from, to, ok := parseSegmentKey(p, o.Key); ok {
			c.segments = append(c.segments, segRange{from: from, to: to, size: o.Size})
		}
	}
	sort.Slice(c.bases, func(i, j int) bool { return c.bases[i] < c.bases[j] })
	sort.Slice(c.segments, func(i, j int) bool {
		if c.segments[i].from != c.segments[j].from {
			return c.segments[i].from < c.segments[j].from
		}
		return c.segments[i].to > c.segments[j].to
	})
	return c, nil
}

// chain returns the segments that continue the log contiguously after
// decree from, taking at each step the one reaching furthest (segments of
// two leaders may overlap: a decree's entry is the same in both).
func (c *partCatalog) chain(from uint64) []segRange {
	var out []segRange
	cur := from
	for {
		best := -1
		for i, sg := range c.segments {
			if sg.from <= cur+1 && sg.to > cur && (best < 0 || sg.to > c.segments[best].to) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, c.segments[best])
		cur = c.segments[best].to
	}
}

// chainEnd is the last decree archived contiguously after base decree
// from (from itself when no segment follows it), and that segment's time
// when known.
func (c *partCatalog) chainEnd(from uint64) (uint64, time.Time) {
	ch := c.chain(from)
	if len(ch) == 0 {
		return from, time.Time{}
	}
	last := ch[len(ch)-1]
	return last.to, last.lastTime
}
