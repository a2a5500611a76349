package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
)

// fillTable writes n records of 1 KiB to table through the SDK, so its
// checkpoints have bytes to ship. A write whose outcome is unknown is
// written again: every record's value is its own.
func fillTable(t *testing.T, addrs []string, table string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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
	value := []byte(strings.Repeat("v", 1024))
	for i := 0; i < n; i++ {
		for attempt := 0; ; attempt++ {
			err := tbl.Set(ctx, []byte(fmt.Sprintf("h%d", i)), []byte("s"), value)
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrAmbiguous) && !errors.Is(err, client.ErrUnavailable) || attempt == 5 {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
}

// TestDupAddWaitDrawsBaseProgress runs dup add --wait in a real shell
// process against two real clusters: stdout keeps the id on its first line
// and ends with every partition in LOG; the bars (forced with --progress
// always, as stderr is no terminal here) show each partition's base bytes
// and end full. With --json, stdout is one JSON document and no bar is
// drawn.
func TestDupAddWaitDrawsBaseProgress(t *testing.T) {
	src := startCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := startCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("orders", 4, 1)
	src.CreateTable("items", 2, 1)
	fillTable(t, src.Addrs(), "orders", 200)
	fillTable(t, src.Addrs(), "items", 20)
	remote := dst.Addrs()[0]

	code, stdout, stderr := shellProcess(t, nil, "--addr", src.Addrs()[0], "--progress", "always",
		"-e", "dup add orders "+remote+" --wait")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != exitOK || len(lines) != 3 || !strings.HasPrefix(lines[2], "every partition in LOG (4 partitions) after ") {
		t.Fatalf("dup add --wait: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	id := lines[0]
	if !strings.Contains(stderr, "dup "+id+": orders to cluster west at "+remote+": 4/4 partitions in LOG, base ") {
		t.Fatalf("no final summary frame for %s in stderr:\n%s", id, stderr)
	}
	for p := 0; p < 4; p++ {
		full := fmt.Sprintf("  p%-3d LOG     [########################] lag ", p)
		if !strings.Contains(stderr, full) {
			t.Fatalf("partition %d never drawn full in LOG; stderr:\n%s", p, stderr)
		}
	}
	final := regexp.MustCompile(`4/4 partitions in LOG, base (\S+)/(\S+)\n`).FindAllStringSubmatch(stderr, -1)
	if len(final) == 0 || final[0][1] != final[0][2] || final[0][2] == "0B" {
		t.Fatalf("the last frame does not show the base's bytes all pulled (orders holds 200 KiB):\n%s", stderr)
	}

	code, stdout, stderr = shellProcess(t, nil, "--addr", src.Addrs()[0], "--json", "-e", "dup add items "+remote+" --wait")
	var doc struct {
		ID         string           `json:"id"`
		AllInLog   bool             `json:"all_in_log"`
		Partitions []map[string]any `json:"partitions"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &doc) != nil || !doc.AllInLog || len(doc.Partitions) != 2 || doc.ID == "" {
		t.Fatalf("dup add --wait --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Contains(stderr, "[#") || strings.Contains(stderr, "partitions in LOG") {
		t.Fatalf("--json drew bars on stderr: %q", stderr)
	}
}

// TestDupLsCompactLagAgainstCluster: dup ls's LAG column is one field
// without blanks, so its rows split into as many fields as its header.
func TestDupLsCompactLagAgainstCluster(t *testing.T) {
	src := startCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := startCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("orders", 2, 1)
	code, stdout, stderr := shellProcess(t, nil, "--addr", src.Addrs()[0], "--progress", "never",
		"-e", "dup add orders "+dst.Addrs()[0]+" --wait; dup ls orders")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != exitOK || len(lines) != 6 || stderr != "" {
		t.Fatalf("dup add --wait; dup ls: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	header, row := strings.Fields(lines[3]), strings.Fields(lines[4])
	if header[6] != "MAX-LAG" || len(row) != len(header) || row[0] != lines[0] {
		t.Fatalf("dup ls columns %q, row %q: want MAX-LAG, one blank-free field per column", header, row)
	}
}

// TestCheckpointCreateProgress: checkpoint create draws a bar of the
// partitions checkpointed and their bytes, prints the same table as
// without bars, and --json keeps one document with no bar.
func TestCheckpointCreateProgress(t *testing.T) {
	c := startCluster(t, 1)
	c.CreateTable("big", 4, 1)
	fillTable(t, c.Addrs(), "big", 100)
	code, stdout, stderr := shellProcess(t, nil, "--addr", c.Addrs()[0], "--progress", "always", "-e", "checkpoint create big")
	if code != exitOK || !strings.HasPrefix(stdout, "PARTITION  NODE") || !strings.Contains(stdout, "(4 checkpoints in ") {
		t.Fatalf("checkpoint create: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	frames := strings.Split(strings.TrimSpace(stderr), "\n")
	last := frames[len(frames)-1]
	if !strings.HasPrefix(last, "checkpoint big [########################] 4/4 partitions, ") || strings.Contains(last, "0B") {
		t.Fatalf("last frame %q, want 4/4 partitions with their bytes; stderr:\n%s", last, stderr)
	}
	if !strings.Contains(frames[0], "0/4 partitions") {
		t.Fatalf("first frame %q, want 0/4 partitions", frames[0])
	}
	code, stdout, stderr = shellProcess(t, nil, "--addr", c.Addrs()[0], "--json", "--progress", "always", "-e", "checkpoint create big")
	var doc struct {
		Results []map[string]any `json:"results"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &doc) != nil || len(doc.Results) != 4 || stderr != "" {
		t.Fatalf("checkpoint create --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestWaitDupLogStops: waiting on a paused duplication, which cannot reach
// LOG, ends with errWaitStopped instead of hanging, and so does a wait
// whose context ends (Ctrl-C); a removed duplication ends it with the
// cluster's not-found error.
func TestWaitDupLogStops(t *testing.T) {
	src := startCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	dst := startCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("orders", 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, src.Addrs()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.AddDuplication(ctx, "orders", dst.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PauseDuplication(ctx, "orders", d.GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := waitDupLog(ctx, c, "orders", d.GetId(), nil); !errors.Is(err, errWaitStopped) || !strings.Contains(err.Error(), "is paused") {
		t.Fatalf("wait on a paused duplication: %v, want errWaitStopped saying it is paused", err)
	}
	done, stop := context.WithCancel(ctx)
	stop()
	if _, err := waitDupLog(done, c, "orders", d.GetId(), nil); !errors.Is(err, errWaitStopped) || !strings.Contains(err.Error(), "goes on") {
		t.Fatalf("wait with an ended context: %v, want errWaitStopped", err)
	}
	if _, err := c.RemoveDuplication(ctx, "orders", d.GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := waitDupLog(ctx, c, "orders", d.GetId(), nil); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("wait on a removed duplication: %v, want not found", err)
	}
}
