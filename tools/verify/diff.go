package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// diffKind is what differs about one record.
type diffKind int

// The kinds of difference.
const (
	missingOnTarget diffKind = iota // on the source only
	extraOnTarget                   // on the target only
	valueDiffers                    // on both, with different values
	expireDiffers                   // on both, same value, different expiry
)

// String returns the kind as the report prints it.
func (k diffKind) String() string {
	switch k {
	case missingOnTarget:
		return "missing on target"
	case extraOnTarget:
		return "extra on target"
	case valueDiffers:
		return "value differs"
	default:
		return "expire-at differs"
	}
}

// token returns the kind as --json writes it: "missing_on_target",
// "extra_on_target", "value_differs" or "expire_at_differs".
func (k diffKind) token() string {
	return strings.NewReplacer(" ", "_", "-", "_").Replace(k.String())
}

// difference is one record that is not the same on both sides. source or
// target is nil on the side that lacks the record.
type difference struct {
	partition int
	kind      diffKind
	source    *client.Record
	target    *client.Record
}

// key returns the record the difference is about, for its keys.
func (d difference) key() client.Record {
	if d.source != nil {
		return *d.source
	}
	return *d.target
}

// compareRecords returns how two records of the same key differ, if they do.
func compareRecords(src, tgt client.Record) (diffKind, bool) {
	switch {
	case !bytes.Equal(src.Value, tgt.Value):
		return valueDiffers, true
	case expireUnix(src) != expireUnix(tgt):
		return expireDiffers, true
	}
	return 0, false
}

// mergeResult is the outcome of merging both sides of a partition.
type mergeResult struct {
	source, target uint64 // live records seen on each side
	total          int    // differences found
	diffs          []difference
}

// merger walks two key-ordered streams in step.
type merger struct {
	src, tgt  recordStream
	cutoff    func() time.Time
	partition int
	keep      int
	a, b      client.Record
	okA, okB  bool
	needA     bool
	needB     bool
	res       mergeResult
}

// mergeDiff compares the records of two key-ordered streams and returns
// the counts and the first keep differences. A record expired at cutoff()
// when it comes up for comparison is skipped on either side: cutoff is
// asked only after both sides have been read past the record's key, so a
// record that expired between the two scans is left out on both.
func mergeDiff(src, tgt recordStream, partition, keep int, cutoff func() time.Time) (mergeResult, error) {
	m := &merger{src: src, tgt: tgt, cutoff: cutoff, partition: partition, keep: keep, needA: true, needB: true}
	for {
		if err := m.fill(); err != nil {
			return mergeResult{}, err
		}
		if !m.okA && !m.okB {
			return m.res, nil
		}
		if m.dropExpired() {
			continue
		}
		m.step()
	}
}

// fill reads the next record on each side whose last was consumed.
func (m *merger) fill() (err error) {
	if m.needA {
		if m.a, m.okA, err = m.src.Next(); err != nil {
			return fmt.Errorf("scan source: %w", err)
		}
		m.needA = false
	}
	if m.needB {
		if m.b, m.okB, err = m.tgt.Next(); err != nil {
			return fmt.Errorf("scan target: %w", err)
		}
		m.needB = false
	}
	return nil
}

// dropExpired consumes a head record that is dead now, reporting whether
// it did.
func (m *merger) dropExpired() bool {
	now := m.cutoff()
	m.needA = m.okA && expiredAt(m.a, now)
	m.needB = m.okB && expiredAt(m.b, now)
	return m.needA || m.needB
}

// step compares the two head records and consumes the smaller, or both.
func (m *merger) step() {
	c := 0
	switch {
	case !m.okB:
		c = -1
	case !m.okA:
		c = 1
	default:
		c = compareKeys(m.a, m.b)
	}
	switch {
	case c < 0:
		m.res.source++
		m.note(missingOnTarget, &m.a, nil)
		m.needA = true
	case c > 0:
		m.res.target++
		m.note(extraOnTarget, nil, &m.b)
		m.needB = true
	default:
		m.res.source++
		m.res.target++
		if kind, ok := compareRecords(m.a, m.b); ok {
			m.note(kind, &m.a, &m.b)
		}
		m.needA, m.needB = true, true
	}
}

// note counts a difference and keeps a copy of it while there is room.
func (m *merger) note(kind diffKind, src, tgt *client.Record) {
	m.res.total++
	if len(m.res.diffs) >= m.keep {
		return
	}
	d := difference{partition: m.partition, kind: kind}
	if src != nil {
		r := *src
		d.source = &r
	}
	if tgt != nil {
		r := *tgt
		d.target = &r
	}
	m.res.diffs = append(m.res.diffs, d)
}
