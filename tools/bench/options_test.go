package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseOptionsErrors(t *testing.T) {
	base := []string{"--addr", "127.0.0.1:1", "--table", "t"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no op", nil, "--op must be"},
		{"bad op", []string{"--op", "scan"}, `--op must be set, get, mixed, load, read-record, update-field, update-record or record-mix, not "scan"`},
		{"zero fields", []string{"--op", "read-record", "--fields", "0"}, "--fields must be positive"},
		{"bad etcd record layout", []string{"--op", "load", "--etcd-record", "blob"}, "--etcd-record must be keys or value"},
		{"zero clients", []string{"--op", "set", "--clients", "0"}, "--clients must be positive"},
		{"negative clients", []string{"--op", "set", "--clients", "-3"}, "--clients must be positive"},
		{"negative value size", []string{"--op", "set", "--value-size", "-1"}, "--value-size must not be negative"},
		{"zero duration", []string{"--op", "set", "--duration", "0s"}, "--duration must be positive"},
		{"negative ops", []string{"--op", "set", "--ops", "-1"}, "--ops must be"},
		{"zero keys", []string{"--op", "get", "--keys", "0"}, "--keys must be positive"},
		{"bad dist", []string{"--op", "get", "--dist", "normal"}, "--dist must be"},
		{"zipf s too small", []string{"--op", "get", "--dist", "zipfian", "--zipf-s", "1"}, "--zipf-s must be"},
		{"read ratio over 1", []string{"--op", "mixed", "--read-ratio", "1.5"}, "--read-ratio must be"},
		{"zero partitions", []string{"--op", "set", "--partitions", "0"}, "--partitions must be"},
		{"negative replicas", []string{"--op", "set", "--replicas", "-1"}, "--replicas must be"},
		{"stray argument", []string{"--op", "set", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--op", "set", "--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(append([]string{}, base...), tt.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestParseOptionsMissing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no table", []string{"--op", "set"}, "--table is required"},
		{"empty addr", []string{"--addr", " , ", "--table", "t", "--op", "set"}, "--addr is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOptions(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseOptions([]string{"--addr", "a:1, b:2", "--table", "t", "--op", "mixed"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.addrs) != 2 || o.clients != 64 || o.duration != 10*time.Second || o.valueSize != 256 ||
		o.keys != 100000 || o.dist != distUniform || o.readRatio != 0.5 || o.partitions != 8 || o.ops != 0 {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestHashKey(t *testing.T) {
	buf := hashKey(nil, 42)
	if string(buf) != "k42" {
		t.Fatalf("hashKey(42) = %q", buf)
	}
	if got := hashKey(buf, 7); string(got) != "k7" {
		t.Fatalf("reused buffer: %q", got)
	}
}

func TestOpBudget(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		takes int
		want  int
	}{
		{"unlimited", 0, 100, 100},
		{"limited", 5, 100, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &opBudget{limit: tt.limit}
			got := 0
			for range tt.takes {
				if b.take() {
					got++
				}
			}
			if got != tt.want {
				t.Fatalf("took %d, want %d", got, tt.want)
			}
		})
	}
}

func TestErrorLogKeepsFirstDistinct(t *testing.T) {
	l := &errorLog{}
	for i := range 20 {
		l.add(errors.New(strings.Repeat("e", i%8+1)))
	}
	if l.total != 20 || len(l.order) != maxDistinctErrors || l.counts["e"] != 3 {
		t.Fatalf("total %d, distinct %v, counts %v", l.total, l.order, l.counts)
	}
}

func TestSummaryJSONFields(t *testing.T) {
	st := newStats()
	for i := range 100 {
		st.record(opKind(i%2), time.Duration(i)*time.Millisecond, false)
	}
	st.errors = 3
	o := options{op: opMixed, table: "t", clients: 4, valueSize: 16, keys: 10, dist: distUniform, readRatio: 0.5}
	s := summarize(&result{o: o, elapsed: 2 * time.Second, stats: st, errs: &errorLog{}})
	var out bytes.Buffer
	printHuman(&out, s)
	if err := printJSON(&out, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v", err)
	}
	for _, k := range []string{"op", "clients", "ops", "duration_s", "value_size", "ops_per_sec", "p50_ms", "p99_ms", "p999_ms", "errors", "get", "set"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	if m["ops_per_sec"].(float64) != 50 || m["errors"].(float64) != 3 {
		t.Errorf("ops_per_sec %v errors %v, want 50 and 3", m["ops_per_sec"], m["errors"])
	}
}

func TestTargetAndWorkloadFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
		check   func(options) bool
	}{
		{"etcd endpoints", []string{"--target", "etcd", "--endpoints", "127.0.0.1:2379,127.0.0.1:22379", "--table", "t", "--op", "set"}, "",
			func(o options) bool { return o.target == targetEtcd && len(o.addrs) == 2 }},
		{"workload b", []string{"--table", "t", "--workload", "b"}, "",
			func(o options) bool { return o.op == opMixed && o.readRatio == 0.95 && o.dist == distZipfian }},
		{"bad workload", []string{"--table", "t", "--workload", "z"}, "--workload", nil},
		{"record mix workload a", []string{"--table", "t", "--op", "record-mix", "--workload", "a", "--fields", "4"}, "",
			func(o options) bool {
				return o.op == opRecordMix && o.readRatio == 0.5 && o.dist == distZipfian && o.fields == 4
			}},
		{"record op defaults to 10 fields", []string{"--table", "t", "--op", "update-record"}, "",
			func(o options) bool { return o.fields == 10 }},
		{"bad target", []string{"--target", "redis", "--table", "t", "--op", "set"}, "--target", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(o) {
				t.Fatalf("options %+v, err %v", o, err)
			}
		})
	}
}
