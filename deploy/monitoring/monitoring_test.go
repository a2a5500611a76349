// Package monitoring holds the Prometheus alerting rules and the Grafana
// dashboard shipped for Tandem; its tests check them with promtool and
// against the metrics reference, docs/metrics.md.
package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// documented reads docs/metrics.md: metric name to type.
func documented(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(tandem_[a-z0-9_]+)` \\| (\\w+) \\|")
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md lists no metrics")
	}
	return out
}

var metricName = regexp.MustCompile(`\btandem_[a-z0-9_]+`)

// undocumented returns the tandem_ series expr names that docs/metrics.md
// does not list (a histogram's _bucket, _sum and _count are its own).
func undocumented(expr string, docs map[string]string) []string {
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		if _, ok := docs[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if k := docs[base]; k == "histogram" || k == "summary" {
			continue
		}
		out = append(out, name)
	}
	return out
}

// The checker itself catches a name that is not documented, a histogram
// suffix on a gauge, and accepts a histogram's series.
func TestUndocumentedCatchesUnknownNames(t *testing.T) {
	docs := map[string]string{"tandem_a_seconds": "histogram", "tandem_b_bytes": "gauge"}
	got := undocumented(`rate(tandem_a_seconds_bucket[1m]) + tandem_b_bytes + tandem_b_bytes_count + tandem_checkpoint_count`, docs)
	if fmt.Sprint(got) != "[tandem_b_bytes_count tandem_checkpoint_count]" {
		t.Fatalf("undocumented = %v", got)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The rules alert on the failure modes operators of replicated stores
// report most, each with a severity and text, on documented metrics only.
func TestAlertsCoverFailureModesOnDocumentedMetrics(t *testing.T) {
	b, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	docs := documented(t)
	have := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			have[r.Alert] = true
			if bad := undocumented(r.Expr, docs); len(bad) > 0 {
				t.Errorf("alert %s uses metrics not in docs/metrics.md: %v", r.Alert, bad)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a severity, summary or description", r.Alert)
			}
		}
	}
	for _, want := range []string{"TandemDuplicationLagGrowing", "TandemDuplicationStalled", "TandemReplicaBehind",
		"TandemDuplicationRetainedLogNearCap", "TandemDuplicationRebootstrapped", "TandemPartitionLeaderless",
		"TandemDiskFilling", "TandemDiskFullSoon", "TandemNodeDown"} {
		if !have[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// promtool runs promtool with args in this directory, or skips the test
// saying how to install it.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed: apt-get install -y prometheus")
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// promtool check rules accepts the rules, and their unit tests pass:
// every alert fires on its failure and stays quiet beside it; the example
// Prometheus configuration that loads them is valid.
func TestPromtoolChecksAndTestsRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yaml")
	promtool(t, "test", "rules", "alerts_test.yaml")
	promtool(t, "check", "config", "prometheus.yml")
}

type dashboard struct {
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// dashboardExprs returns every query of the dashboard, by panel title.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json is not valid JSON: %v", err)
	}
	out := map[string][]string{}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out["variable "+v.Name] = []string{v.Definition}
		}
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// Every dashboard query names only metrics docs/metrics.md lists, and
// together they show each area of it.
func TestDashboardUsesDocumentedMetrics(t *testing.T) {
	docs := documented(t)
	used := map[string]bool{}
	for title, exprs := range dashboardExprs(t) {
		for _, e := range exprs {
			if bad := undocumented(e, docs); len(bad) > 0 {
				t.Errorf("panel %q uses metrics not in docs/metrics.md: %v", title, bad)
			}
			for _, n := range metricName.FindAllString(e, -1) {
				used[strings.TrimSuffix(n, "_bucket")] = true
			}
		}
	}
	for _, area := range []string{"tandem_rpc_", "tandem_table_", "tandem_raft_", "tandem_rocksdb_", "tandem_duplication_", "tandem_checkpoint_", "tandem_node_"} {
		found := false
		for n := range used {
			found = found || strings.HasPrefix(n, area)
		}
		if !found {
			t.Errorf("no panel shows %s* metrics", area)
		}
	}
}

// Every dashboard query is valid PromQL: promtool checks them as
// recording rules, Grafana's variables replaced by what they expand to.
func TestDashboardQueriesParse(t *testing.T) {
	exprs := dashboardExprs(t)
	titles := make([]string, 0, len(exprs))
	for title := range exprs {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	expand := strings.NewReplacer("$__rate_interval", "1m", "$instance", ".*", "$table", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, title := range titles {
		for _, e := range exprs[title] {
			if strings.HasPrefix(e, "label_values(") { // Grafana's, not PromQL
				e = strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(e, "label_values("), ",", 2)[0], ")")
			}
			q, _ := json.Marshal(expand.Replace(e))
			fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", n, q)
			n++
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", path)
}
