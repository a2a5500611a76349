package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

func TestRingKeepsTheNewestValuesInOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pushes int
		want   []int
	}{
		{"empty", 0, []int{}},
		{"partly filled", 2, []int{0, 1}},
		{"exactly full", 3, []int{0, 1, 2}},
		{"wrapped once", 4, []int{1, 2, 3}},
		{"wrapped many times", 10, []int{7, 8, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing[int](3)
			for i := 0; i < tc.pushes; i++ {
				r.push(i)
			}
			if got := r.values(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("values after %d pushes = %v, want %v", tc.pushes, got, tc.want)
			}
			if r.len() != len(tc.want) || cap(r.buf) != 3 {
				t.Fatalf("len %d cap %d, want %d and 3", r.len(), cap(r.buf), len(tc.want))
			}
		})
	}
}

func TestRingValuesIsACopy(t *testing.T) {
	r := newRing[int](2)
	r.push(1)
	got := r.values()
	got[0] = 99
	if r.values()[0] != 1 {
		t.Fatal("changing the returned slice changed the ring")
	}
}

func TestStatusHistoryDupSeriesAreBoundedAndForgotten(t *testing.T) {
	h := newStatusHistory(StatusHistoryConfig{Interval: time.Second, Samples: 4})
	at := time.UnixMilli(1_000_000)
	for i := 0; i < 10; i++ {
		h.recordDups(at.Add(time.Duration(i)*time.Second), []*tpb.DuplicationInfo{
			{Id: "d1", MaxLagSeconds: float64(i), MaxLagDecrees: uint64(i), Progress: "LOG:2"},
			{Id: "d2"},
		})
	}
	s := h.dupSeries("d1")
	if len(s) != 4 || s[0].LagDecrees != 6 || s[3].LagDecrees != 9 || s[3].UnixMs != at.Add(9*time.Second).UnixMilli() {
		t.Fatalf("d1 series = %+v, want the last 4 samples 6..9", s)
	}
	h.recordDups(at.Add(time.Minute), []*tpb.DuplicationInfo{{Id: "d1"}})
	if got := h.dupSeries("d2"); len(got) != 0 || len(h.dups) != 1 {
		t.Fatalf("removed duplication d2 still has %d samples (%d series)", len(got), len(h.dups))
	}
}

func TestStatusHistoryApplyRate(t *testing.T) {
	h := newStatusHistory(StatusHistoryConfig{Interval: time.Second, Samples: 8})
	at := time.UnixMilli(5_000_000)
	h.recordApplied(at, map[string]uint64{"t/0": 10, "t/1": 20})
	if n := len(h.rateSeries()); n != 0 {
		t.Fatalf("first sample gave %d rates; a rate needs two samples", n)
	}
	// 30 more decrees over 2s on t/0 and t/1; t/2 appears (opened or
	// restored) at decree 500 and must not count as 500 writes.
	h.recordApplied(at.Add(2*time.Second), map[string]uint64{"t/0": 25, "t/1": 35, "t/2": 500})
	rs := h.rateSeries()
	if len(rs) != 1 || rs[0].DecreesPerSec != 15 || rs[0].AppliedDecrees != 560 || rs[0].ReplicasSampled != 3 {
		t.Fatalf("rate = %+v, want 15 decrees/s over 560 applied on 3 replicas", rs)
	}
}

func TestStatusHistoryConfigValidate(t *testing.T) {
	if err := DefaultStatusHistoryConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []StatusHistoryConfig{{Interval: 0, Samples: 10}, {Interval: time.Second, Samples: 1}, {Interval: time.Second, Samples: 1 << 20}} {
		if c.Validate() == nil {
			t.Fatalf("%+v validated", c)
		}
	}
}

func TestPartitionHealth(t *testing.T) {
	leader := &tpb.ReplicaStatus{NodeId: "n1", State: "leader", AppliedDecree: 9, SizeBytes: 100}
	follower := &tpb.ReplicaStatus{NodeId: "n2", State: "follower", AppliedDecree: 8}
	for _, tc := range []struct {
		name   string
		placed int
		reps   []*tpb.ReplicaStatus
		want   string
	}{
		{"all answered", 2, []*tpb.ReplicaStatus{follower, leader}, "ok"},
		{"one placed replica missing", 3, []*tpb.ReplicaStatus{leader, follower}, "under-replicated"},
		{"no leader", 2, []*tpb.ReplicaStatus{follower}, "no-leader"},
		{"nothing answered", 3, nil, "no-leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := partitionHealth(4, tc.placed, tc.reps)
			if row.Health != tc.want || row.Index != 4 || row.Live != len(tc.reps) {
				t.Fatalf("health = %+v, want %s", row, tc.want)
			}
			if tc.want != "no-leader" && (row.Leader != "n1" || row.AppliedDecree != 9) {
				t.Fatalf("row %+v does not take the leader's decree", row)
			}
		})
	}
}

// TestStatusSnapshotJSONNames pins the names the page's script reads.
func TestStatusSnapshotJSONNames(t *testing.T) {
	snap := StatusSnapshot{Nodes: []StatusNodeRow{{ID: "n1"}}, Tables: []StatusTable{{Name: "t", PartitionRows: []StatusPartition{{}}}},
		Dups: []StatusDup{{ID: "d", History: []DupSample{{UnixMs: 1}}}}, ApplyRate: []RateSample{{}},
		Checkpoints: StatusCheckpoints{Recent: []StatusCheckpoint{{}}}}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"generated_unix_ms", "refresh_ms", "node", "nodes", "tables", "duplications", "apply_rate", "checkpoints"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("status.json lacks %q: %s", k, b)
		}
	}
	dup := doc["duplications"].([]any)[0].(map[string]any)
	sample := dup["history"].([]any)[0].(map[string]any)
	for _, k := range []string{"t", "lag_s", "lag_decrees", "replicated_age_s"} {
		if _, ok := sample[k]; !ok {
			t.Errorf("a duplication sample lacks %q: %v", k, sample)
		}
	}
	table := doc["tables"].([]any)[0].(map[string]any)
	for _, k := range []string{"partition_rows", "healthy", "leaderless", "under_replicated", "applied_decrees"} {
		if _, ok := table[k]; !ok {
			t.Errorf("a table lacks %q: %v", k, table)
		}
	}
}

func TestStatusHistoryKeepsReplicatedTime(t *testing.T) {
	h := newStatusHistory(StatusHistoryConfig{Interval: time.Second, Samples: 4})
	at := time.UnixMilli(2_000_000)
	h.recordDups(at, []*tpb.DuplicationInfo{{Id: "d1", ReplicatedTimeUnixMs: 1_999_500, ReplicatedAgeSeconds: 0.5}, {Id: "d2"}})
	if s := h.dupSeries("d1"); len(s) != 1 || s[0].ReplicatedUnixMs != 1_999_500 || s[0].ReplicatedAge != 0.5 {
		t.Fatalf("d1 = %+v, want its replicated time and age", s)
	}
	b, err := json.Marshal(h.dupSeries("d2"))
	if err != nil || strings.Contains(string(b), "replicated_unix_ms") {
		t.Fatalf("an unknown replicated time is sent as %s (%v); want it left out", b, err)
	}
}
