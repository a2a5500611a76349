package main

import (
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the value of rank ceil(q*n) of sorted values.
func exactPercentile(sorted []uint64, q float64) uint64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestHistogramPercentiles(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	tests := []struct {
		name   string
		values func() []uint64
	}{
		{"constant", func() []uint64 { return slices.Repeat([]uint64{1234}, 1000) }},
		{"small exact 1..100", func() []uint64 { return seq(1, 100) }},
		{"uniform 1..10000", func() []uint64 { return seq(1, 10000) }},
		{"exponential mean 2ms", func() []uint64 {
			out := make([]uint64, 100000)
			for i := range out {
				out[i] = uint64(r.ExpFloat64() * 2000)
			}
			return out
		}},
		{"bimodal 200us and 50ms", func() []uint64 {
			return append(slices.Repeat([]uint64{200}, 990), slices.Repeat([]uint64{50000}, 10)...)
		}},
		{"huge values", func() []uint64 { return []uint64{1, 1 << 40, math.MaxUint64} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := tt.values()
			h := NewHistogram()
			for _, v := range values {
				h.RecordMicros(v)
			}
			slices.Sort(values)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				want, got := exactPercentile(values, q), h.Percentile(q)
				if !within(got, want) {
					t.Errorf("p%g = %d, want %d within 1/%d", q*100, got, want, subBuckets)
				}
			}
			if h.Max() != values[len(values)-1] || h.Min() != values[0] {
				t.Errorf("min, max = %d, %d; want %d, %d", h.Min(), h.Max(), values[0], values[len(values)-1])
			}
			if h.Count() != uint64(len(values)) {
				t.Errorf("count = %d, want %d", h.Count(), len(values))
			}
		})
	}
}

func TestHistogramKnownFigures(t *testing.T) {
	h := NewHistogram()
	for _, v := range seq(1, 1000) {
		h.Record(time.Duration(v) * time.Millisecond / 100) // 10µs..10ms
	}
	tests := []struct {
		name string
		got  uint64
		want uint64
	}{
		{"p50", h.Percentile(0.5), 5000},
		{"p99", h.Percentile(0.99), 9900},
		{"p999", h.Percentile(0.999), 9990},
		{"max", h.Max(), 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !within(tt.got, tt.want) {
				t.Errorf("got %dµs, want %dµs", tt.got, tt.want)
			}
		})
	}
	if m := h.Mean(); math.Abs(m-5005) > 0.5 {
		t.Errorf("mean = %g, want 5005", m)
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	h := NewHistogram()
	if h.Percentile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: p50 %d max %d min %d mean %g", h.Percentile(0.5), h.Max(), h.Min(), h.Mean())
	}
	h.Record(-time.Second)
	if h.Count() != 1 || h.Max() != 0 {
		t.Fatalf("negative duration: count %d max %d, want 1 and 0", h.Count(), h.Max())
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for i, v := range seq(1, 5000) {
		all.RecordMicros(v * 3)
		if i%2 == 0 {
			a.RecordMicros(v * 3)
		} else {
			b.RecordMicros(v * 3)
		}
	}
	a.Merge(b)
	if *a != *all {
		t.Fatalf("merged histogram differs from one recording everything")
	}
	empty := NewHistogram()
	empty.Merge(NewHistogram())
	if empty.Min() != 0 || empty.Count() != 0 {
		t.Fatalf("merging empties: min %d count %d", empty.Min(), empty.Count())
	}
}

func TestBucketBounds(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/997 {
		i := bucketIndex(v)
		if i < prev || i >= bucketCount {
			t.Fatalf("bucketIndex(%d) = %d after %d", v, i, prev)
		}
		prev = i
		if hi := bucketHigh(i); hi < v || !within(hi, v) {
			t.Fatalf("bucketHigh(bucketIndex(%d)) = %d", v, hi)
		}
	}
	if i := bucketIndex(math.MaxUint64); i != bucketCount-1 || bucketHigh(i) != math.MaxUint64 {
		t.Fatalf("top bucket %d of %d, high %d", i, bucketCount, bucketHigh(i))
	}
}

// seq returns from..to.
func seq(from, to uint64) []uint64 {
	out := make([]uint64, 0, to-from+1)
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// within reports whether got is want up to the histogram's precision.
func within(got, want uint64) bool {
	diff := math.Abs(float64(got) - float64(want))
	return diff <= float64(want)/subBuckets
}
