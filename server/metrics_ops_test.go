package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// scrape reads node n's /metrics over HTTP, as Prometheus does.
func scrape(t *testing.T, n *server.Node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample returns the value of the series of name whose labels include
// labels (k, v pairs), and whether there is one; a histogram's value is
// its count.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// writeUnique writes what writeN does, sending a write again after
// ErrAmbiguous: each value is unique, so a second copy changes nothing (a
// test may; product code never retries an ambiguous write). Elections
// under a loaded machine must not fail a test about something else.
func writeUnique(t *testing.T, tbl *client.Table, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		for {
			err := tbl.Set(ctx(t), []byte(fmt.Sprintf("h%d", i%16)), []byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("v%d", i)))
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrAmbiguous) {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
}

// The per-table rates count every operation the SDK sent, batched or not;
// raft and RocksDB figures describe the writes.
func TestOpsMetricsCountTablesRaftAndStorage(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	cli := mustDial(t, cl.Addrs()...)
	tbl := mustTable(t, cli, "t")
	writeN(t, tbl, 0, 40)
	checkN(t, tbl, 0, 25)
	fams := scrape(t, cl.Nodes[0])
	for _, c := range []struct {
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"tandem_table_write_ops_total", []string{"table", "t"}, func(v float64) bool { return v == 40 }, "40"},
		{"tandem_table_read_ops_total", []string{"table", "t"}, func(v float64) bool { return v == 25 }, "25"},
		{"tandem_raft_commit_duration_seconds", []string{"table", "t"}, func(v float64) bool { return v >= 1 }, "observations"},
		{"tandem_raft_apply_duration_seconds", []string{"table", "t"}, func(v float64) bool { return v >= 1 }, "observations"},
		{"tandem_raft_leader_changes_total", []string{"table", "t"}, func(v float64) bool { return v >= 2 }, "a leader per partition"},
		{"tandem_raft_log_entries", []string{"table", "t", "partition", "0"}, func(v float64) bool { return v >= 2 }, "entries"},
		{"tandem_raft_log_bytes", []string{"table", "t", "partition", "1"}, func(v float64) bool { return v > 0 }, "bytes"},
		{"tandem_raft_apply_lag_entries", []string{"table", "t", "partition", "0"}, func(v float64) bool { return v >= 0 }, "a value"},
		{"tandem_rocksdb_memtable_bytes", nil, func(v float64) bool { return v > 0 }, "bytes"},
		{"tandem_rocksdb_block_cache_capacity_bytes", nil, func(v float64) bool { return v == 8<<20 }, "8 MiB"},
		{"tandem_node_disk_free_bytes", nil, func(v float64) bool { return v > 0 }, "bytes"},
		{"tandem_checkpoint_published", []string{"table", "t"}, func(v float64) bool { return v >= 0 }, "a value"},
	} {
		if v, ok := sample(fams, c.name, c.labels...); !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, v, ok, c.want)
		}
	}
}

// A follower that comes back after its log was compacted away installs a
// snapshot, and counts it.
func TestSnapshotInstallIsCounted(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cli := mustDial(t, cl.Addrs()...)
	for k, v := range map[string]string{"raft.trailing_logs": "5", "raft.snapshot_threshold": "20"} {
		if _, err := cli.SetConfig(ctx(t), k, v); err != nil {
			t.Fatal(err)
		}
	}
	cl.CreateTable("t", 1, 3)
	servertest.WaitFor(t, 10*time.Second, "raft log settings on every replica", func() bool {
		for i := range cl.Nodes {
			if r := cl.Replica(i, "t", 0); r == nil || r.RaftSettings().TrailingLogs != 5 {
				return false
			}
		}
		return true
	})
	tbl := mustTable(t, cli, "t")
	writeUnique(t, tbl, 0, 10)
	follower := (cl.LeaderOf("t", 0) + 1) % 3
	cl.Stop(follower)
	writeUnique(t, tbl, 10, 200)
	if err := cl.Replica(cl.LeaderOf("t", 0), "t", 0).Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	cl.Restart(follower)
	servertest.WaitFor(t, 15*time.Second, "the follower counts a snapshot install", func() bool {
		v, _ := sample(scrape(t, cl.Nodes[follower]), "tandem_raft_snapshot_installs_total", "table", "t", "result", "ok")
		return v >= 1
	})
	if v, ok := localValue(cl, follower, "t", fmt.Sprintf("h%d", 191%16), "k00191", 0); !ok || v != "v191" {
		t.Fatalf("the follower after the install: %q %v", v, ok)
	}
}
