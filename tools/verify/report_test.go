package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

func TestFormatDifference(t *testing.T) {
	long := strings.Repeat("x", shownBytes+6)
	exp := expiring(rec("h", "s", "v"), time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	tests := []struct {
		name string
		d    difference
		want string
	}{
		{"missing", difference{kind: missingOnTarget, source: &client.Record{HashKey: []byte("h\x00"), SortKey: []byte("s\n"), Value: []byte("v")}},
			`missing on target: hash "h\x00" sort "s\n" value "v"`},
		{"extra with expiry", difference{kind: extraOnTarget, target: &exp},
			`extra on target: hash "h" sort "s" value "v" expire-at 2030-01-02T03:04:05Z`},
		{"value differs, truncated", difference{kind: valueDiffers, source: &client.Record{HashKey: []byte("h"), Value: []byte(long)}, target: &client.Record{HashKey: []byte("h")}},
			`value differs: hash "h" sort "": source "` + long[:shownBytes] + `"...(70 bytes), target ""`},
		{"expiry differs", difference{kind: expireDiffers, source: &client.Record{HashKey: []byte("h"), SortKey: []byte("s")}, target: &exp},
			`expire-at differs: hash "h" sort "s": source never, target 2030-01-02T03:04:05Z`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatDifference(tt.d); got != tt.want {
				t.Errorf("formatDifference =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestPrintPartition(t *testing.T) {
	missing := difference{kind: missingOnTarget, source: &client.Record{HashKey: []byte("h"), Value: []byte("v")}}
	tests := []struct {
		name  string
		pr    partitionResult
		diffs []difference
		want  string
	}{
		{"identical", partitionResult{partition: 3, source: 12, target: 12}, nil, "partition 3: 12 records, identical\n"},
		{"differs", partitionResult{partition: 1, source: 2, target: 1, differences: 1}, []difference{missing},
			"partition 1: source 2, target 1, differs (1 difference)\n  missing on target: hash \"h\" sort \"\" value \"v\"\n"},
		{"more than shown", partitionResult{partition: 0, source: 5, target: 2, differences: 3}, []difference{missing},
			"partition 0: source 5, target 2, differs (3 differences)\n  missing on target: hash \"h\" sort \"\" value \"v\"\n  ... 2 more differences not shown (--max-diffs)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printPartition(&b, tt.pr, tt.diffs)
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		name string
		r    result
		want string
	}{
		{"empty table", result{}, "identical: 0 records"},
		{"identical", result{partitions: []partitionResult{{source: 3, target: 3}, {partition: 1, source: 4, target: 4}}}, "identical: 7 records"},
		{"differs", result{partitions: []partitionResult{{source: 3, target: 3}, {partition: 1, source: 4, target: 6, differences: 2}, {partition: 2, source: 1, target: 0, differences: 1}}},
			"differs: 3 records in 2 of 3 partitions (source 8 records, target 9 records)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summaryLine(&tt.r); got != tt.want {
				t.Errorf("summaryLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONDifference(t *testing.T) {
	src := expiring(rec("h\xff", "s", "old"), 5000)
	tgt := rec("h\xff", "s", "new")
	got := newJSONDifference(difference{partition: 2, kind: valueDiffers, source: &src, target: &tgt})
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"partition": 2.0, "kind": "value_differs", "hash_key": `h\xff`, "sort_key": "s",
		"source_value": "old", "target_value": "new", "source_expire_ts": 5000.0, "target_expire_ts": 0.0}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("json = %s, want %v", b, want)
	}
	missing := newJSONDifference(difference{kind: missingOnTarget, source: &tgt})
	if missing.Kind != "missing_on_target" || missing.TargetValue != nil || missing.TargetExpireTS != nil {
		t.Errorf("missing on target = %+v, want no target fields", missing)
	}
}
