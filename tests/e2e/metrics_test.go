package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// promtoolBin finds promtool or skips the test saying how to install it.
func promtoolBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed: apt-get install -y prometheus")
	}
	return p
}

// A real node's /metrics, after tables, writes, reads and a checkpoint,
// passes promtool check metrics (Prometheus' own linter: naming, units,
// suffixes, help) and carries the raft, RocksDB and per-table families.
func TestPromtoolChecksALiveNodesMetrics(t *testing.T) {
	bin := promtoolBin(t)
	c := StartCluster(t, "metrics", 1)
	script := "create t --partitions 2 --replicas 1; set t h s v; get t h s; scan t; checkpoint create t"
	if out, err := c.Shell(script); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	code, body := c.Nodes[0].httpGet("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", code)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, want := range []string{`tandem_table_write_ops_total{table="t"} 1`, `tandem_table_read_ops_total{table="t"}`,
		"tandem_raft_commit_duration_seconds_bucket", "tandem_raft_log_entries", "tandem_rocksdb_memtable_bytes",
		"tandem_rocksdb_block_cache_hits_total", "tandem_checkpoint_published", "tandem_rpc_requests_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
