package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// dup resync takes exactly TABLE and DUPID.
func TestResyncArgs(t *testing.T) {
	cmd, _, rest, err := lookup(commandTable(), []string{"dup", "resync", "t", "17"})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := parseArgs(cmd, rest); err != nil || a.arg(0) != "t" || a.arg(1) != "17" {
		t.Fatalf("dup resync t 17: %+v %v", a, err)
	}
	for _, bad := range [][]string{{"t"}, {"t", "17", "18"}} {
		if _, err := parseArgs(cmd, bad); !errors.Is(err, errUsage) {
			t.Fatalf("dup resync %v: %v, want a usage error", bad, err)
		}
	}
}

// The answer names the divergence file first, then the new duplication
// (the e2e test and the README read them at these places).
func TestResyncResultSaysWhereTheDivergenceIs(t *testing.T) {
	var b bytes.Buffer
	r := resyncResult{&tandempb.ResyncResponse{Table: "t", OldDupId: "17", NewDupId: "30", NewPrimaryCluster: "west",
		NewPrimaryAddrs: []string{"w:1"}, DivergenceFile: "/d/resync/t-17.jsonl", DivergenceNode: "n1", DivergentEntries: 2, DivergentMutations: 3, DivergenceBytes: 400}}
	if err := r.human(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Fields(lines[0])[2] != "/d/resync/t-17.jsonl" || strings.Fields(lines[1])[8] != "30" ||
		!strings.Contains(lines[0], "2 entries, 3 mutations") {
		t.Fatalf("dup resync printed:\n%s", b.String())
	}
}
