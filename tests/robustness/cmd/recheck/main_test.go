package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

func set(v string, call, ret int64, o lincheck.Outcome) lincheck.Record {
	return lincheck.Record{Input: lincheck.Input{Kind: lincheck.OpSet, HashKey: "h", SortKeys: []string{"a"}, Values: []string{v}}, Call: call, Return: ret, Outcome: o}
}

func get(v string, call, ret int64) lincheck.Record {
	return lincheck.Record{Client: 1, Input: lincheck.Input{Kind: lincheck.OpGet, HashKey: "h", SortKeys: []string{"a"}},
		Output: lincheck.Output{Value: v, Found: true}, Call: call, Return: ret, Outcome: lincheck.Acked}
}

func TestRecheck(t *testing.T) {
	cases := []struct {
		name string
		recs []lincheck.Record
		code int
		say  string
	}{
		{"linearizable", []lincheck.Record{set("1", 0, 10, lincheck.Acked), set("2", 5, 6, lincheck.Ambiguous), get("1", 20, 30)}, 0, "ok"},
		{"stale read", []lincheck.Record{set("1", 0, 10, lincheck.Acked), set("2", 20, 30, lincheck.Acked), get("1", 40, 50)}, 1, "linearizability: Illegal"},
		{"refused write applied", []lincheck.Record{set("1", 0, 10, lincheck.Refused), get("1", 20, 30)}, 1, "refused write applied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.json")
			if err := lincheck.Save(path, lincheck.File{Run: c.name, Records: c.recs}); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := run([]string{"-history", path}, &out, &errb); code != c.code || !strings.Contains(out.String(), c.say) {
				t.Fatalf("exit %d, want %d; output:\n%s%s\nwant it to say %q", code, c.code, out.String(), errb.String(), c.say)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-history", filepath.Join(t.TempDir(), "missing.json")}, &out, &errb); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
	if code := run(nil, &out, &errb); code != 2 {
		t.Fatalf("no flags: exit %d, want 2", code)
	}
}
