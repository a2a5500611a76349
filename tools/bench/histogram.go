package main

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits is the number of mantissa bits kept per power of two: every
// recorded value is exact below 2^(subBucketBits+1) µs and within
// 1/2^subBucketBits (0.8%) of its true value above.
const subBucketBits = 7

const (
	subBuckets  = 1 << subBucketBits
	linearLimit = 2 * subBuckets // values below are recorded exactly
	bucketCount = (64-subBucketBits)*subBuckets + subBuckets
)

// Histogram is an HDR-style log-linear latency histogram of microsecond
// resolution: each power of two is split into 2^subBucketBits equal
// buckets, so the relative error is bounded whatever the latency. It is not
// safe for concurrent use; give each worker its own and Merge them.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	sum    uint64 // µs
	min    uint64 // µs
	max    uint64 // µs
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{min: math.MaxUint64}
}

// bucketIndex is the bucket of a value in µs.
func bucketIndex(v uint64) int {
	if v < linearLimit {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1
	return shift*subBuckets + int(v>>uint(shift))
}

// bucketHigh is the largest value in µs that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < linearLimit {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	top := uint64(i - shift*subBuckets)
	return (top+1)<<uint(shift) - 1
}

// Record adds one latency; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.RecordMicros(uint64(max(d, 0) / time.Microsecond))
}

// RecordMicros adds one latency of us microseconds.
func (h *Histogram) RecordMicros(us uint64) {
	h.counts[bucketIndex(us)]++
	h.total++
	h.sum += us
	h.min = min(h.min, us)
	h.max = max(h.max, us)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value in µs, 0 when empty.
func (h *Histogram) Max() uint64 { return h.max }

// Min is the smallest recorded value in µs, 0 when empty.
func (h *Histogram) Min() uint64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Mean is the mean recorded value in µs, 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.total)
}

// Percentile returns the value in µs at or below which a fraction q (0..1)
// of the recorded values fall: the highest value of the bucket holding the
// value of that rank, capped at Max. It is 0 when the histogram is empty.
func (h *Histogram) Percentile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(min(max(q, 0), 1) * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return max(min(bucketHigh(i), h.max), h.min)
		}
	}
	return h.max
}
