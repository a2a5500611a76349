package main

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// sliceStream is a recordStream over records in memory, failing with err
// once they run out when err is set.
type sliceStream struct {
	recs []client.Record
	err  error
}

// Next returns the next record of the slice.
func (s *sliceStream) Next() (client.Record, bool, error) {
	if len(s.recs) == 0 {
		return client.Record{}, false, s.err
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, true, nil
}

// diffLine is a difference as the test compares it.
func diffLine(d difference) string {
	k := d.key()
	return fmt.Sprintf("%s %s/%s", d.kind, k.HashKey, k.SortKey)
}

func TestMergeDiff(t *testing.T) {
	const now = 1000
	a, b, c := rec("a", "1", "va"), rec("bb", "", "vb"), rec("bb", "2", "vc")
	tests := []struct {
		name     string
		src, tgt []client.Record
		keep     int
		want     []string
		total    int
		srcN     uint64
		tgtN     uint64
	}{
		{name: "both empty", keep: 10},
		{name: "identical", src: []client.Record{a, b, c}, tgt: []client.Record{a, b, c}, keep: 10, srcN: 3, tgtN: 3},
		{name: "missing on target", src: []client.Record{a, b, c}, tgt: []client.Record{a, c}, keep: 10,
			want: []string{"missing on target bb/"}, total: 1, srcN: 3, tgtN: 2},
		{name: "extra on target", src: []client.Record{b}, tgt: []client.Record{a, b, c}, keep: 10,
			want: []string{"extra on target a/1", "extra on target bb/2"}, total: 2, srcN: 1, tgtN: 3},
		{name: "target empty", src: []client.Record{a, b}, keep: 10,
			want: []string{"missing on target a/1", "missing on target bb/"}, total: 2, srcN: 2},
		{name: "value differs", src: []client.Record{a, b}, tgt: []client.Record{a, rec("bb", "", "other")}, keep: 10,
			want: []string{"value differs bb/"}, total: 1, srcN: 2, tgtN: 2},
		{name: "value and expiry differ", src: []client.Record{a}, tgt: []client.Record{expiring(rec("a", "1", "x"), 5000)}, keep: 10,
			want: []string{"value differs a/1"}, total: 1, srcN: 1, tgtN: 1},
		{name: "expiry differs", src: []client.Record{expiring(a, 5000)}, tgt: []client.Record{expiring(a, 5001)}, keep: 10,
			want: []string{"expire-at differs a/1"}, total: 1, srcN: 1, tgtN: 1},
		{name: "expired on one side ignored", src: []client.Record{a, expiring(b, now), c}, tgt: []client.Record{a, c}, keep: 10, srcN: 2, tgtN: 2},
		{name: "expired on both sides ignored", src: []client.Record{expiring(a, now-5)}, tgt: []client.Record{expiring(rec("a", "1", "x"), now)}, keep: 10},
		{name: "alive after cutoff counts", src: []client.Record{expiring(a, now+1)}, keep: 10,
			want: []string{"missing on target a/1"}, total: 1, srcN: 1},
		{name: "keep limits the list, not the count", src: []client.Record{a, b, c}, keep: 2,
			want: []string{"missing on target a/1", "missing on target bb/"}, total: 3, srcN: 3},
		{name: "keep zero", src: []client.Record{a}, tgt: []client.Record{b}, total: 2, srcN: 1, tgtN: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cutoff := func() time.Time { return time.Unix(now, 0) }
			res, err := mergeDiff(&sliceStream{recs: tt.src}, &sliceStream{recs: tt.tgt}, 7, tt.keep, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range res.diffs {
				got = append(got, diffLine(d))
				if d.partition != 7 {
					t.Errorf("difference in partition %d, want 7", d.partition)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("differences = %q, want %q", got, tt.want)
			}
			if res.total != tt.total || res.source != tt.srcN || res.target != tt.tgtN {
				t.Errorf("total, source, target = %d, %d, %d, want %d, %d, %d",
					res.total, res.source, res.target, tt.total, tt.srcN, tt.tgtN)
			}
		})
	}
}

func TestMergeDiffKeepsCopies(t *testing.T) {
	src := []client.Record{rec("a", "", "1"), rec("b", "", "2")}
	res, err := mergeDiff(&sliceStream{recs: src}, &sliceStream{}, 0, 10, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.diffs) != 2 || string(res.diffs[0].source.Value) != "1" || string(res.diffs[1].source.Value) != "2" {
		t.Fatalf("differences alias the merge's head record: %+v", res.diffs)
	}
	if res.diffs[0].target != nil {
		t.Errorf("missing on target has a target record")
	}
}

func TestMergeDiffScanError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		src, tgt *sliceStream
		side     string
	}{
		{"source fails", &sliceStream{recs: []client.Record{rec("a", "", "")}, err: boom}, &sliceStream{}, "scan source"},
		{"target fails", &sliceStream{}, &sliceStream{err: boom}, "scan target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mergeDiff(tt.src, tt.tgt, 0, 10, time.Now)
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want %v", err, boom)
			}
			if got := err.Error(); got[:len(tt.side)] != tt.side {
				t.Errorf("err = %q, want it to start with %q", got, tt.side)
			}
		})
	}
}
