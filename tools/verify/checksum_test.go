package main

import (
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// expiring returns r expiring at unix second ts.
func expiring(r client.Record, ts int64) client.Record {
	r.ExpireAt = time.Unix(ts, 0)
	return r
}

// sumOf checksums recs with horizon and returns the result at cutoff.
func sumOf(horizon, cutoff int64, recs ...client.Record) tally {
	c := newChecksum(time.Unix(horizon, 0))
	for _, r := range recs {
		c.Add(r)
	}
	return c.Result(time.Unix(cutoff, 0))
}

func TestChecksumEqual(t *testing.T) {
	const horizon, cutoff = 2000, 1000
	base := []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5000)}
	tests := []struct {
		name  string
		other []client.Record
		equal bool
	}{
		{"same records", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5000)}, true},
		{"same records, other order", []client.Record{expiring(rec("h2", "", "v3"), 5000), rec("h1", "s2", "v2"), rec("h1", "s1", "v1")}, true},
		{"one missing", []client.Record{rec("h1", "s1", "v1"), expiring(rec("h2", "", "v3"), 5000)}, false},
		{"value changed", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "vX"), expiring(rec("h2", "", "v3"), 5000)}, false},
		{"expiry changed", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5001)}, false},
		{"expiry dropped", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), rec("h2", "", "v3")}, false},
		{"field boundary moved", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s", "2v2"), expiring(rec("h2", "", "v3"), 5000)}, false},
		{"extra record", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5000), rec("h3", "", "")}, false},
		{"extra record expired at cutoff", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5000), expiring(rec("h3", "", ""), cutoff)}, true},
		{"extra record alive after cutoff", []client.Record{rec("h1", "s1", "v1"), rec("h1", "s2", "v2"), expiring(rec("h2", "", "v3"), 5000), expiring(rec("h3", "", ""), cutoff+1)}, false},
	}
	want := sumOf(horizon, cutoff, base...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sumOf(horizon, cutoff, tt.other...)
			if (got == want) != tt.equal {
				t.Errorf("checksums equal = %v, want %v (%+v vs %+v)", got == want, tt.equal, got, want)
			}
		})
	}
}

func TestChecksumResultDropsExpired(t *testing.T) {
	recs := []client.Record{
		rec("a", "", "never expires"),
		expiring(rec("b", "", "expires at 100"), 100),
		expiring(rec("c", "", "expires at 100 too"), 100),
		expiring(rec("d", "", "expires at 150"), 150),
		expiring(rec("e", "", "expires after the horizon"), 300),
	}
	tests := []struct {
		name   string
		cutoff int64
		want   []client.Record
	}{
		{"before every expiry", 99, recs},
		{"at the first expiry", 100, []client.Record{recs[0], recs[3], recs[4]}},
		{"between expiries", 149, []client.Record{recs[0], recs[3], recs[4]}},
		{"at the horizon", 200, []client.Record{recs[0], recs[4]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sumOf(200, tt.cutoff, recs...)
			want := sumOf(200, 0, tt.want...)
			if got != want {
				t.Errorf("Result(%d) = %+v, want %+v", tt.cutoff, got, want)
			}
			if got.count != uint64(len(tt.want)) {
				t.Errorf("count = %d, want %d", got.count, len(tt.want))
			}
		})
	}
}

func TestDigestAddCarries(t *testing.T) {
	tests := []struct {
		name string
		a, b digest
		want digest
	}{
		{"no carry", digest{1, 2}, digest{3, 4}, digest{4, 6}},
		{"carry into hi", digest{0, ^uint64(0)}, digest{0, 1}, digest{1, 0}},
		{"wraps around", digest{^uint64(0), ^uint64(0)}, digest{0, 1}, digest{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.add(tt.b); got != tt.want {
				t.Errorf("add = %+v, want %+v", got, tt.want)
			}
		})
	}
}
