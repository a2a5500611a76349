package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// mustLookup finds a command of the real table by its words.
func mustLookup(t *testing.T, words ...string) *command {
	t.Helper()
	cmd, _, _, err := lookup(commandTable(), words)
	if err != nil {
		t.Fatalf("lookup %q: %v", words, err)
	}
	return cmd
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name      string
		cmd       []string
		words     []string
		wantPos   []string
		wantFlags map[string]string
		wantErr   string
	}{
		{"create plain", []string{"create"}, []string{"demo"}, []string{"demo"}, map[string]string{}, ""},
		{"create flags after", []string{"create"}, []string{"demo", "--partitions", "4", "--replicas", "1"},
			[]string{"demo"}, map[string]string{"partitions": "4", "replicas": "1"}, ""},
		{"create flags before", []string{"create"}, []string{"--partitions=16", "demo"},
			[]string{"demo"}, map[string]string{"partitions": "16"}, ""},
		{"set with ttl", []string{"set"}, []string{"t", "h", "s", "v", "--ttl", "30s"},
			[]string{"t", "h", "s", "v"}, map[string]string{"ttl": "30s"}, ""},
		{"double dash ends flags", []string{"set"}, []string{"t", "h", "s", "--", "--ttl"},
			[]string{"t", "h", "s", "--ttl"}, map[string]string{}, ""},
		{"bare double dash is positional", []string{"set"}, []string{"t", "h", "s", "-"}, []string{"t", "h", "s", "-"}, map[string]string{}, ""},
		{"scan optional hash key", []string{"scan"}, []string{"t", "--limit", "5"}, []string{"t"}, map[string]string{"limit": "5"}, ""},
		{"config set", []string{"config", "set"}, []string{"checkpoint.interval", "30s"},
			[]string{"checkpoint.interval", "30s"}, map[string]string{}, ""},
		{"unknown flag", []string{"get"}, []string{"t", "h", "s", "--ttl", "1"}, nil, nil, "unknown flag --ttl"},
		{"flag without value", []string{"scan"}, []string{"t", "--limit"}, nil, nil, "needs a value"},
		{"too few", []string{"get"}, []string{"t", "h"}, nil, nil, "takes 3 arguments"},
		{"too many", []string{"count"}, []string{"t", "x"}, nil, nil, "takes 1 argument"},
		{"none wanted", []string{"nodes"}, []string{"x"}, nil, nil, "takes no arguments"},
		{"range", []string{"scan"}, []string{}, nil, nil, "takes 1 to 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs(mustLookup(t, tt.cmd...), tt.words)
			if tt.wantErr != "" {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) = %v, want usage error %q", tt.words, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.words, err)
			}
			if !reflect.DeepEqual(a.pos, tt.wantPos) || !reflect.DeepEqual(a.flags, tt.wantFlags) {
				t.Fatalf("parseArgs(%q) = %q %q, want %q %q", tt.words, a.pos, a.flags, tt.wantPos, tt.wantFlags)
			}
		})
	}
}

func TestFlagValues(t *testing.T) {
	a := args{flags: map[string]string{"limit": "10", "bad": "x", "neg": "-1", "ttl": "90", "ttl2": "1h30m", "zero": "0s", "junk": "soon"}}
	if n, err := a.intFlag("limit", 0); n != 10 || err != nil {
		t.Errorf("intFlag(limit) = %d, %v", n, err)
	}
	if n, err := a.intFlag("absent", 7); n != 7 || err != nil {
		t.Errorf("intFlag(absent) = %d, %v", n, err)
	}
	for _, name := range []string{"bad", "neg"} {
		if _, err := a.intFlag(name, 0); !errors.Is(err, errUsage) {
			t.Errorf("intFlag(%s) = %v, want usage error", name, err)
		}
	}
	durations := []struct {
		name string
		want time.Duration
		ok   bool
	}{
		{"ttl", 90 * time.Second, true}, {"ttl2", 90 * time.Minute, true}, {"absent", 0, true},
		{"zero", 0, false}, {"junk", 0, false},
	}
	for _, d := range durations {
		got, err := a.durationFlag(d.name)
		if got != d.want || (err == nil) != d.ok {
			t.Errorf("durationFlag(%s) = %v, %v; want %v ok=%v", d.name, got, err, d.want, d.ok)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		words    []string
		wantPath string
		wantRest []string
		wantErr  error
	}{
		{[]string{"get", "t", "h", "s"}, "get", []string{"t", "h", "s"}, nil},
		{[]string{"config", "get"}, "config get", []string{}, nil},
		{[]string{"config", "set", "k", "v"}, "config set", []string{"k", "v"}, nil},
		{[]string{"dup", "add", "t", "r:1"}, "dup add", []string{"t", "r:1"}, nil},
		{[]string{"config"}, "", nil, errUsage},
		{[]string{"config", "frob"}, "", nil, errUnknownCommand},
		{[]string{"frob"}, "", nil, errUnknownCommand},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			_, path, rest, err := lookup(commandTable(), tt.words)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("lookup = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || path != tt.wantPath || !reflect.DeepEqual(rest, tt.wantRest) {
				t.Fatalf("lookup = %q %q %v, want %q %q", path, rest, err, tt.wantPath, tt.wantRest)
			}
		})
	}
}

func TestSplitAddrs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a:1", []string{"a:1"}},
		{"a:1,b:2", []string{"a:1", "b:2"}},
		{" a:1 , ,b:2,", []string{"a:1", "b:2"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := client.SplitAddrs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitAddrs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
