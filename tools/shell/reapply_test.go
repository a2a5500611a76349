package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
)

// A divergence file is read whole and checked before anything is written:
// a line that is not JSON, of another table, with an unknown op, without
// a hash key or with bad base64 is refused with errMalformedDivergence,
// naming its line; a good one gives its writes in order.
func TestReadDivergenceChecksEveryLine(t *testing.T) {
	good := `{"table":"t","partition":0,"decree":7,"mutations":[{"op":"set","hash_key":"h","sort_key":"s","value":"v","expire_ts":99},{"op":"del","hash_key_base64":"/wA=","sort_key":""}]}`
	dir := t.TempDir()
	file := func(lines ...string) string {
		p := filepath.Join(dir, fmt.Sprintf("f%d.jsonl", len(lines)+len(strings.Join(lines, ""))))
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ws, n, err := readDivergence(file(good, good), "t")
	if err != nil || n != 2 || len(ws) != 4 {
		t.Fatalf("good file: %d lines, %d writes, %v", n, len(ws), err)
	}
	if w := ws[0]; w.del || string(w.hashKey) != "h" || string(w.value) != "v" || w.expireTS != 99 || w.line != 1 {
		t.Fatalf("first write %+v", w)
	}
	if w := ws[3]; !w.del || string(w.hashKey) != "\xff\x00" || w.line != 2 {
		t.Fatalf("last write %+v", w)
	}
	for name, bad := range map[string]string{
		"not json":     `{"table":`,
		"other table":  strings.Replace(good, `"table":"t"`, `"table":"u"`, 1),
		"unknown op":   strings.Replace(good, `"op":"del"`, `"op":"incr"`, 1),
		"no hash key":  strings.Replace(good, `"hash_key":"h"`, `"hash_key":""`, 1),
		"bad base64":   strings.Replace(good, `/wA=`, `!!`, 1),
		"no mutations": `{"table":"t","mutations":[]}`,
	} {
		if _, _, err := readDivergence(file(good, bad), "t"); !errors.Is(err, errMalformedDivergence) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want errMalformedDivergence at line 2", name, err)
		}
	}
	if _, _, err := readDivergence(filepath.Join(dir, "absent"), "t"); !errors.Is(err, errMalformedDivergence) {
		t.Errorf("absent file: %v", err)
	}
}

// Failback from the shell, two real clusters: after dup promote and dup
// resync, dup show on the new primary names the divergence file; dup
// reapply refuses a malformed file, an unknown table and the old source's
// (now follower) table, writing nothing; --dry-run counts without
// writing; then it writes the old source's divergent writes to the new
// primary, which ships them to the old source.
func TestReapplyAfterResync(t *testing.T) {
	east := startCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	west := startCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	east.CreateTable("t", 2, 1)
	fillTable(t, east.Addrs(), "t", 20)
	e, w := east.Addrs()[0], west.Addrs()[0]
	id := strings.Split(mustShell(t, "--addr", e, "--progress", "never", "-e", "dup add t "+w+" --wait"), "\n")[0]
	mustShell(t, "--addr", w, "-e", "dup promote t --force")
	for i := 0; i < 5; i++ { // acknowledged by the old source only
		sdkSet(t, east.Addrs(), "t", fmt.Sprintf("d%d", i), fmt.Sprintf("x%d", i))
	}
	var rs struct {
		File     string `json:"divergence_file"`
		NewDupID string `json:"new_dup_id"`
	}
	if err := json.Unmarshal([]byte(mustShell(t, "--addr", e, "--json", "-e", "dup resync t "+id)), &rs); err != nil || rs.File == "" {
		t.Fatalf("dup resync: %+v %v", rs, err)
	}
	var show struct {
		Duplication struct {
			Divergence struct {
				File      string `json:"file"`
				Cluster   string `json:"cluster"`
				Mutations int    `json:"mutations"`
			} `json:"divergence"`
		} `json:"duplication"`
	}
	if err := json.Unmarshal([]byte(mustShell(t, "--addr", w, "--json", "-e", "dup show t "+rs.NewDupID)), &show); err != nil {
		t.Fatal(err)
	}
	if dv := show.Duplication.Divergence; dv.File != rs.File || dv.Cluster != "east" || dv.Mutations != 5 {
		t.Fatalf("dup show on the new primary: divergence %+v, want %s with 5 writes of east", dv, rs.File)
	}
	text := mustShell(t, "--addr", w, "-e", "dup show t "+rs.NewDupID)
	if !strings.Contains(text, "divergence: 5 writes (5 entries, ") || !strings.Contains(text, "in "+rs.File+" on node ") {
		t.Fatalf("dup show text names no divergence:\n%s", text)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"table\":\"t\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ addr, cmd, want string }{
		{w, "dup reapply t " + bad, "malformed divergence file"},
		{w, "dup reapply nope " + rs.File, `table not found: table "nope"`},
		{e, "dup reapply t " + rs.File, "does not take writes here"},
	} {
		if code, stdout, stderr := runShell("--addr", c.addr, "-e", c.cmd); code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, want %q", c.cmd, code, stdout, stderr, c.want)
		}
	}
	sdkSet(t, west.Addrs(), "t", "d4", "west") // the new primary changed d4 since
	if out := mustShell(t, "--addr", w, "-e", "dup reapply t "+rs.File+" --dry-run"); !strings.HasPrefix(out, "would re-apply (dry run, nothing written) 5 of 5 writes (5 lines)") ||
		!strings.HasSuffix(out, "; 1 would overwrite or delete a record the table holds now with another value\n") {
		t.Fatalf("dry run: %q", out)
	}
	if _, err := sdkGet(t, west.Addrs(), "t", "d0", "s"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("the dry run or a refusal wrote d0 to the new primary: %v", err)
	}
	if out := mustShell(t, "--addr", w, "-e", "dup reapply t "+rs.File); !strings.HasPrefix(out, "re-applied 5 of 5 writes (5 lines) of "+rs.File+" to table t; skipped 0 expired, 0 before --from") {
		t.Fatalf("reapply: %q", out)
	}
	for i := 0; i < 5; i++ {
		if v, err := sdkGet(t, west.Addrs(), "t", fmt.Sprintf("d%d", i), "s"); err != nil || string(v) != fmt.Sprintf("x%d", i) {
			t.Fatalf("d%d on the new primary after reapply: %q %v", i, v, err)
		}
	}
	if out := mustShell(t, "--addr", w, "-e", "dup reapply t "+rs.File+" --from 4"); !strings.HasPrefix(out, "re-applied 2 of 5 writes") || !strings.Contains(out, "3 before --from") {
		t.Fatalf("reapply --from 4: %q", out)
	}
}

// sdkSet writes a record through the SDK (retrying a write of a unique
// value whose outcome is unknown: a test may, product code never).
func sdkSet(t *testing.T, addrs []string, table, hashKey, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.Table(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		err := tbl.Set(ctx, []byte(hashKey), []byte("s"), []byte(value))
		if err == nil {
			return
		}
		if !errors.Is(err, client.ErrAmbiguous) && !errors.Is(err, client.ErrUnavailable) || attempt == 5 {
			t.Fatalf("set %s: %v", hashKey, err)
		}
	}
}

// A write whose outcome is unknown stops dup reapply and is named as
// such, never retried: the error keeps client.ErrAmbiguous, says how many
// were applied and where to resume; a refused write says it was not
// applied.
func TestReapplyStopsAtAnAmbiguousWrite(t *testing.T) {
	r := reapplyResult{table: "t", applied: 41}
	w := reapplyWrite{line: 42, hashKey: []byte("h"), sortKey: []byte("s")}
	err := r.stopped(w, fmt.Errorf("%w: leader lost", client.ErrAmbiguous))
	if !errors.Is(err, client.ErrAmbiguous) || !errors.Is(err, errReapplyStopped) ||
		!strings.Contains(err.Error(), "at line 42 after 41 writes applied: the outcome of this write is unknown (not retried)") ||
		!strings.Contains(err.Error(), "--from 42 (or --from 43 to skip it)") {
		t.Fatalf("ambiguous: %v", err)
	}
	err = r.stopped(w, fmt.Errorf("%w: no leader", client.ErrUnavailable))
	if errors.Is(err, client.ErrAmbiguous) || !strings.Contains(err.Error(), "this write was not applied; resume with --from 42") {
		t.Fatalf("unavailable: %v", err)
	}
}
