package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		done, total uint64
		want        string
	}{
		{0, 0, "[..........]"},
		{0, 100, "[..........]"},
		{25, 100, "[##........]"},
		{99, 100, "[#########.]"},
		{100, 100, "[##########]"},
		{150, 100, "[##########]"},
	} {
		if got := progressBar(tc.done, tc.total, 10); got != tc.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

func TestProgressViewRedrawsInPlaceOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	v := newProgressView(&buf, true)
	v.draw([]string{"a", "b"})
	v.draw([]string{"a", "b"}) // unchanged: nothing written
	v.draw([]string{"c"})
	if want := "a\nb\n\x1b[2A\r\x1b[Jc\n"; buf.String() != want {
		t.Fatalf("terminal output %q, want %q", buf.String(), want)
	}
}

func TestProgressViewWritesChangedFramesElsewhere(t *testing.T) {
	var buf bytes.Buffer
	v := newProgressView(&buf, false)
	for _, f := range []string{"one", "one", "two"} {
		v.draw([]string{f})
	}
	if buf.String() != "one\ntwo\n" {
		t.Fatalf("plain output %q, want each new frame once, no escapes", buf.String())
	}
	var none *progressView // bars off
	none.draw([]string{"x"})
}

func TestProgressSetting(t *testing.T) {
	var buf bytes.Buffer // not a terminal
	for _, tc := range []struct {
		mode string
		json bool
		on   bool
	}{
		{"auto", false, false}, {"", false, false}, {"always", false, true}, {"always", true, false},
		{"never", false, false},
	} {
		w, tty, err := progressSetting(tc.mode, tc.json, &buf)
		if err != nil || (w != nil) != tc.on || tty {
			t.Errorf("progressSetting(%q, json %v) = %v, tty %v, %v; want bars %v", tc.mode, tc.json, w, tty, err, tc.on)
		}
	}
	if _, _, err := progressSetting("sometimes", false, &buf); err == nil || !strings.Contains(err.Error(), "auto, always or never") {
		t.Fatalf("bad --progress: %v", err)
	}
}

func TestLagCompact(t *testing.T) {
	for _, tc := range []struct {
		decrees uint64
		seconds float64
		want    string
	}{
		{0, 0, "0"}, {0, 3, "0"}, {3, 0.012, "12ms/3"}, {340, 1.5, "1.5s/340"}, {12000, 184, "3m04s/12000"}, {9, 7500, "2h05m/9"},
	} {
		if got := lagCompact(tc.decrees, tc.seconds); got != tc.want || strings.ContainsAny(got, " \t") {
			t.Errorf("lagCompact(%d, %v) = %q, want %q without blanks", tc.decrees, tc.seconds, got, tc.want)
		}
	}
}

func dupPart(p uint32, state tandempb.DupPartitionState, done, total uint64) *tandempb.DupPartitionStatus {
	name := strings.TrimPrefix(state.String(), "DUP_PARTITION_STATE_")
	return &tandempb.DupPartitionStatus{Partition: p, State: name, StateCode: state, BaseBytesDone: done, BaseBytesTotal: total}
}

func TestDupWaitFrame(t *testing.T) {
	resp := &tandempb.ShowDuplicationResponse{
		Duplication: &tandempb.DuplicationInfo{Id: "17", Table: "demo", RemoteAddr: "b:1", RemoteCluster: "west"},
		Partitions: []*tandempb.DupPartitionStatus{
			dupPart(0, tandempb.DupPartitionState_DUP_PARTITION_STATE_LOG, 4<<20, 4<<20),
			dupPart(1, tandempb.DupPartitionState_DUP_PARTITION_STATE_APP, 1<<20, 4<<20),
			dupPart(2, tandempb.DupPartitionState_DUP_PARTITION_STATE_PREPARE, 0, 0),
		},
	}
	resp.Partitions[0].LagDecrees, resp.Partitions[0].LagSeconds = 2, 0.02
	resp.Partitions[1].LastError = "remote busy"
	got := strings.Join(dupWaitFrame(resp), "\n")
	want := strings.Join([]string{
		"dup 17: demo to cluster west at b:1: 1/3 partitions in LOG, base 5.0MiB/8.0MiB",
		"  p0   LOG     [########################] lag 20ms/2",
		"  p1   APP     [######..................] 1.0MiB/4.0MiB (remote busy)",
		"  p2   PREPARE [........................] -",
	}, "\n")
	if got != want {
		t.Fatalf("frame:\n%s\nwant:\n%s", got, want)
	}
	if allInLog(resp.Partitions) || allInLog(nil) || !allInLog(resp.Partitions[:1]) {
		t.Fatal("allInLog wrong")
	}
}

func TestDupWaitFrameSumsUpPartitionsInLogOnBigTables(t *testing.T) {
	resp := &tandempb.ShowDuplicationResponse{Duplication: &tandempb.DuplicationInfo{Id: "1", Table: "t", RemoteAddr: "b:1"}}
	for p := uint32(0); p < 40; p++ {
		st := tandempb.DupPartitionState_DUP_PARTITION_STATE_LOG
		if p == 7 {
			st = tandempb.DupPartitionState_DUP_PARTITION_STATE_APP
		}
		resp.Partitions = append(resp.Partitions, dupPart(p, st, 10, 20))
	}
	frame := dupWaitFrame(resp)
	if len(frame) != 3 || !strings.HasPrefix(frame[1], "  p7 ") || frame[2] != "  (39 partitions in LOG not listed)" {
		t.Fatalf("frame of 40 partitions:\n%s", strings.Join(frame, "\n"))
	}
}

func TestWaitFlag(t *testing.T) {
	add := mustLookup(t, "dup", "add")
	for _, tc := range []struct {
		words []string
		on    bool
	}{
		{[]string{"t", "b:1"}, false},
		{[]string{"t", "b:1", "--wait"}, true},
		{[]string{"--wait", "t", "b:1"}, true},
	} {
		a, err := parseArgs(add, tc.words)
		if err != nil || a.boolFlag("wait") != tc.on || len(a.pos) != 2 {
			t.Errorf("parseArgs(%q) = %+v, %v; want wait %v and 2 positionals", tc.words, a, err, tc.on)
		}
	}
	if _, err := parseArgs(mustLookup(t, "dup", "ls"), []string{"--wait"}); err == nil || !strings.Contains(err.Error(), "unknown flag --wait") {
		t.Fatalf("dup ls --wait: %v", err)
	}
}
