package archive

import (
	"errors"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
)

// runsFor builds runs: bases at 10 (log to 30) and 50 (log to 80),
// decree d appended at t0+d seconds.
func testRuns(t0 time.Time) []run {
	at := func(d uint64) time.Time { return t0.Add(time.Duration(d) * time.Second) }
	mk := func(base, from, to uint64) run {
		seg := &Segment{From: from, To: to, LastTime: at(to)}
		for d := from; d <= to; d++ {
			seg.Entries = append(seg.Entries, Entry{Decree: d, AppendedAt: at(d), Command: []byte{1}})
		}
		return run{base: &Base{Decree: base, DecreeTime: at(base), Checkpoint: &checkpoint.Manifest{}}, segments: []*Segment{seg}, end: to, endTime: at(to)}
	}
	return []run{mk(10, 11, 30), mk(50, 51, 80)}
}

func TestPickDecree(t *testing.T) {
	runs := testRuns(time.Unix(1000, 0))
	for _, tc := range []struct {
		name        string
		decree      uint64
		base, to    uint64
		below, abov uint64
	}{
		{"in the first run", 25, 10, 25, 0, 0},
		{"at a base", 50, 50, 50, 0, 0},
		{"in the second run", 79, 50, 79, 0, 0},
		{"before the first base", 5, 0, 0, 0, 10},
		{"in the gap", 40, 0, 0, 30, 50},
		{"past the archive", 90, 0, 0, 80, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := pickDecree(0, runs, tc.decree)
			if tc.base != 0 {
				if err != nil || pl.Base != tc.base || pl.To != tc.to {
					t.Fatalf("plan %+v, %v; want base %d to %d", pl, err, tc.base, tc.to)
				}
				return
			}
			var pe *PointError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPointUnreachable) {
				t.Fatalf("err = %v, want a PointError", err)
			}
			if pe.Below != tc.below || pe.Above != tc.abov {
				t.Fatalf("nearest %d / %d, want %d / %d (%v)", pe.Below, pe.Above, tc.below, tc.abov, err)
			}
		})
	}
}

func TestPickTime(t *testing.T) {
	t0 := time.Unix(1000, 0)
	runs := testRuns(t0)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	pl, err := pickTime(0, runs, sec(25.5), progress{})
	if err != nil || pl.Base != 10 || pl.To != 25 {
		t.Fatalf("25.5s: %+v %v", pl, err)
	}
	pl, err = pickTime(0, runs, sec(60), progress{})
	if err != nil || pl.Base != 50 || pl.To != 60 {
		t.Fatalf("60s: %+v %v", pl, err)
	}
	if _, err := pickTime(0, runs, sec(40), progress{}); !errors.Is(err, ErrPointUnreachable) {
		t.Fatalf("40s is in the gap: %v", err)
	}
	if _, err := pickTime(0, runs, sec(85), progress{}); !errors.Is(err, ErrPointUnreachable) {
		t.Fatalf("85s is past the archive: %v", err)
	}
	// Idle since decree 80 as of 90s: 85s is reachable and ends at 80.
	pl, err = pickTime(0, runs, sec(85), progress{Decree: 80, AsOf: sec(90)})
	if err != nil || pl.Base != 50 || pl.To != 80 {
		t.Fatalf("85s with the idle marker: %+v %v", pl, err)
	}
}
