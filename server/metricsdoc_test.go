package server_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server/servertest"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/metrics.md from the registry")

// metricDoc is one metric's entry in docs/metrics.md.
type metricDoc struct {
	name, kind, help string
	labels           []string
}

// descPattern parses prometheus.Desc.String(), the only public view of a
// Desc's name, help and labels.
var descPattern = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), constLabels: \{(.*)\}, variableLabels: \{(.*)\}\}$`)

// registryDocs lists every tandem_ metric reg describes, with the type
// its samples have. A metric without samples in this run (a vector no
// label set was used of yet) keeps the type known gives it (the checked-in
// file's), or is a counter when named _total, else a gauge.
func registryDocs(t *testing.T, reg *prometheus.Registry, known map[string]string) []metricDoc {
	t.Helper()
	kinds := map[string]string{}
	ch := make(chan prometheus.Metric, 64)
	go func() { reg.Collect(ch); close(ch) }()
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		name := descPattern.FindStringSubmatch(m.Desc().String())[1]
		switch {
		case pb.Counter != nil:
			kinds[name] = "counter"
		case pb.Histogram != nil:
			kinds[name] = "histogram"
		case pb.Summary != nil:
			kinds[name] = "summary"
		default:
			kinds[name] = "gauge"
		}
	}
	descs := make(chan *prometheus.Desc, 64)
	go func() { reg.Describe(descs); close(descs) }()
	var out []metricDoc
	for d := range descs {
		m := descPattern.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot parse %s", d)
		}
		name, _ := strconv.Unquote(m[1])
		help, _ := strconv.Unquote(m[2])
		if !strings.HasPrefix(name, "tandem_") {
			continue // go_* and process_*: client_golang's standard collectors
		}
		kind := kinds[m[1]]
		if kind == "" {
			kind = known[name]
		}
		if kind == "" {
			kind = "gauge"
			if strings.HasSuffix(name, "_total") {
				kind = "counter"
			}
		}
		var labels []string
		if m[4] != "" {
			labels = strings.Split(m[4], ",")
		}
		out = append(out, metricDoc{name: name, kind: kind, help: help, labels: labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// metricsDocQueries ends docs/metrics.md: derived figures operators ask
// for, as PromQL (deploy/monitoring has the dashboard and alerts).
const metricsDocQueries = `
## Derived figures

- Block cache hit ratio of a node:
  ` + "`rate(tandem_rocksdb_block_cache_hits_total[5m]) / (rate(tandem_rocksdb_block_cache_hits_total[5m]) + rate(tandem_rocksdb_block_cache_misses_total[5m]))`" + `
- Partitions without a leader (scrape every node):
  ` + "`max by (table, partition) (tandem_replica_is_leader) == 0`" + `
- Per-table request rates: ` + "`sum by (table) (rate(tandem_table_read_ops_total[1m]))`" + `, likewise writes.
- Raft commit latency p99: ` + "`histogram_quantile(0.99, sum by (le, table) (rate(tandem_raft_commit_duration_seconds_bucket[5m])))`" + `
- Share of the duplication log cap in use:
  ` + "`tandem_duplication_retained_log_bytes / on (instance) group_left tandem_raft_log_retain_cap_bytes`" + `

Alerting rules, their unit tests, an example Prometheus configuration and a
Grafana dashboard are in ` + "`deploy/monitoring/`" + `.
`

// renderMetricsDoc is docs/metrics.md.
func renderMetricsDoc(docs []metricDoc) string {
	var b strings.Builder
	b.WriteString("# Tandem metrics\n\n")
	b.WriteString("Every node serves these on `GET /metrics` (HTTP port), in the Prometheus text format.\n")
	b.WriteString("This file is generated from a live node's registry by\n")
	b.WriteString("`go test ./server -run TestMetricsDocIsCurrent -update`; the same test fails when it\n")
	b.WriteString("is out of date. Besides these, the node exports client_golang's standard `go_*` and\n")
	b.WriteString("`process_*` metrics. Histograms also have `_bucket`, `_sum` and `_count` series.\n\n")
	b.WriteString("| Name | Type | Labels | Meaning |\n|---|---|---|---|\n")
	for _, d := range docs {
		labels := strings.Join(d.labels, ", ")
		if labels == "" {
			labels = "-"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.name, d.kind, labels, strings.ReplaceAll(d.help, "|", `\|`))
	}
	b.WriteString(metricsDocQueries)
	return b.String()
}

// docTypes reads the types of a rendered docs/metrics.md.
func docTypes(doc string) map[string]string {
	row := regexp.MustCompile("^\\| `(tandem_[a-z0-9_]+)` \\| (\\w+) \\|")
	out := map[string]string{}
	for _, line := range strings.Split(doc, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// docs/metrics.md lists every metric a node registers with its type,
// labels and help, as the registry has them: adding, renaming or
// retyping a metric without regenerating the file fails here.
func TestMetricsDocIsCurrent(t *testing.T) {
	c := servertest.MakeCluster(t, 1)
	c.CreateTable("t", 1, 1)
	n := c.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Samples for the histograms, so their type shows.
	if _, err := n.KV().Set(ctx, &tpb.SetRequest{Table: "t", HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Admin().CreateCheckpoint(ctx, &tpb.CreateCheckpointRequest{Table: "t"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "metrics.md")
	old, _ := os.ReadFile(path)
	got := renderMetricsDoc(registryDocs(t, n.Registry(), docTypes(string(old))))
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("docs/metrics.md is out of date: run go test ./server -run TestMetricsDocIsCurrent -update\n--- generated:\n%s", got)
	}
}
