package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tandem-kv/tandem/server"
)

// writeConfig writes text to a file named name in a new directory.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustParse(t *testing.T, args ...string) *options {
	t.Helper()
	o, err := parseOptions(args, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions(%q): %v", args, err)
	}
	return o
}

func TestConfigFileAndFlagOverride(t *testing.T) {
	p := writeConfig(t, "tandem.yaml", `# a three-node cluster
id: n1
cluster: east
addr: 0.0.0.0:7100
advertise-addr: east-1:7100
http: 0.0.0.0:7180
data: /var/lib/tandem
peers:
  n1: east-1:7100
  n2: east-2:7100
  n3: east-3:7100
block-cache-mib: 256
memory-mib: 1024
raft-election-timeout: 5s
log-level: warn
log-format: json
create-table: users:4
`)
	o := mustParse(t, "--config", p, "--id", "n2", "--advertise-addr=east-2:7100", "--block-cache-mib", "32")
	cfg, err := nodeConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	wantPeers := []server.Peer{{ID: "n1", Addr: "east-1:7100"}, {ID: "n2", Addr: "east-2:7100"}, {ID: "n3", Addr: "east-3:7100"}}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id (flag)", cfg.NodeID, "n2"},
		{"advertise-addr (flag)", cfg.AdvertiseAddr, "east-2:7100"},
		{"block cache (flag)", cfg.RocksDB.BlockCacheBytes, uint64(32 << 20)},
		{"cluster (file)", cfg.Cluster, "east"},
		{"addr (file)", cfg.Addr, "0.0.0.0:7100"},
		{"http (file)", cfg.HTTPAddr, "0.0.0.0:7180"},
		{"data (file)", cfg.DataDir, "/var/lib/tandem"},
		{"peers (file)", fmt.Sprint(cfg.Peers), fmt.Sprint(wantPeers)},
		{"memory budget (file)", cfg.RocksDB.MemoryBudgetBytes, uint64(1024 << 20)},
		{"election timeout (file)", cfg.Raft.HeartbeatTimeout, 5 * time.Second},
		{"log level (file)", o.logLevel, "warn"},
		{"log format (file)", o.logFormat, "json"},
		{"create-table (file)", o.createTable, tableSpec{name: "users", partitions: 4}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestConfigPeersForms(t *testing.T) {
	want := "[{n1 a:1} {n2 b:2}]"
	for name, text := range map[string]string{
		"string":  "peers: n1=a:1,n2=b:2\n",
		"list":    "peers: [n1=a:1, n2=b:2]\n",
		"mapping": "peers: {n1: a:1, n2: b:2}\n",
	} {
		t.Run(name, func(t *testing.T) {
			o := mustParse(t, "--config", writeConfig(t, "c.yaml", text))
			if got := fmt.Sprint(o.peers.peers); got != want {
				t.Fatalf("peers %s, want %s", got, want)
			}
		})
	}
}

func TestConfigFileEmptyKeepsDefaults(t *testing.T) {
	for name, text := range map[string]string{"empty": "", "comments only": "# nothing set\n", "empty mapping": "{}\n"} {
		t.Run(name, func(t *testing.T) {
			o := mustParse(t, "--config", writeConfig(t, "c.yaml", text))
			def := defaultOptions()
			if o.cfg.NodeID != def.cfg.NodeID || o.cfg.Addr != def.cfg.Addr || o.electionTimeout != def.electionTimeout {
				t.Fatalf("defaults changed: %+v", o.cfg)
			}
		})
	}
}

func TestConfigFileRefused(t *testing.T) {
	tests := []struct {
		name, file, text string
		args             []string // more flags, after --config
		wantIs           error
		wantLine         int
		wantKey          string
		wantText         string
	}{
		{name: "unknown key", text: "id: n1\nadress: 127.0.0.1:7100\n", wantIs: errUnknownKey, wantLine: 2, wantKey: "adress"},
		{name: "config key", text: "config: other.yaml\n", wantIs: errUnknownKey, wantLine: 1, wantKey: "config"},
		{name: "bad duration", text: "id: n1\n\nraft-election-timeout: 3 seconds\n", wantIs: errBadValue, wantLine: 3, wantKey: "raft-election-timeout", wantText: "want a duration such as 3s"},
		{name: "duration without unit", text: "raft-election-timeout: 3\n", wantIs: errBadValue, wantLine: 1, wantKey: "raft-election-timeout", wantText: "missing unit"},
		{name: "duration out of range", text: "raft-election-timeout: 5ms\n", wantIs: errBadValue, wantLine: 1, wantKey: "raft-election-timeout", wantText: "want 100ms to 1m"},
		{name: "bad duration overridden on the command line", text: "raft-election-timeout: soon\n", args: []string{"--raft-election-timeout", "2s"},
			wantIs: errBadValue, wantLine: 1, wantKey: "raft-election-timeout"},
		{name: "negative integer", text: "block-cache-mib: -1\n", wantIs: errBadValue, wantLine: 1, wantKey: "block-cache-mib"},
		{name: "bad log level", text: "log-level: loud\n", wantIs: errBadValue, wantLine: 1, wantKey: "log-level", wantText: `"debug", "info"`},
		{name: "bad peers", text: "peers: n1=a:1,n2\n", wantIs: errBadValue, wantLine: 1, wantKey: "peers", wantText: "want ID=HOST:PORT"},
		{name: "bad table spec", text: "create-table: users:none\n", wantIs: errBadValue, wantLine: 1, wantKey: "create-table"},
		{name: "missing tls file", text: "tls-cert: /nonexistent/node.crt\n", wantIs: os.ErrNotExist, wantLine: 1, wantKey: "tls-cert"},
		{name: "no value", text: "id:\n", wantIs: errBadValue, wantLine: 1, wantKey: "id", wantText: "no value"},
		{name: "list for a word", text: "cluster:\n  - east\n", wantIs: errBadValue, wantLine: 2, wantKey: "cluster", wantText: "not a list"},
		{name: "repeated key", text: "id: n1\ncluster: a\nid: n2\n", wantIs: errBadConfigFile, wantLine: 3, wantKey: "id", wantText: "first at line 1"},
		{name: "not a mapping", text: "- id: n1\n", wantIs: errBadConfigFile, wantLine: 1},
		{name: "two documents", text: "id: n1\n---\nid: n2\n", wantIs: errBadConfigFile, wantLine: 2},
		{name: "yaml syntax", text: "id: n1\ncluster: [east\n", wantIs: errBadConfigFile, wantText: "line"},
		{name: "toml", file: "tandem.toml", text: "id = \"n1\"\n", wantIs: errBadConfigFile, wantText: "TOML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.file == "" {
				tt.file = "tandem.yaml"
			}
			p := writeConfig(t, tt.file, tt.text)
			_, err := parseOptions(append([]string{"--config", p}, tt.args...), io.Discard)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("got %v, want an error matching %v", err, tt.wantIs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, p) || !strings.Contains(msg, tt.wantText) {
				t.Fatalf("error %q: want it to start with the file and contain %q", msg, tt.wantText)
			}
			if tt.wantLine == 0 {
				return
			}
			var ce *configError
			if !errors.As(err, &ce) || ce.Line != tt.wantLine || ce.Key != tt.wantKey {
				t.Fatalf("error %q: want line %d, key %q", msg, tt.wantLine, tt.wantKey)
			}
			if want := fmt.Sprintf("%s:%d: %s", p, tt.wantLine, tt.wantKey); !strings.HasPrefix(msg, want) {
				t.Fatalf("error %q: want it to start with %q", msg, want)
			}
		})
	}
}

func TestConfigMissingFile(t *testing.T) {
	_, err := parseOptions([]string{"--config", filepath.Join(t.TempDir(), "absent.yaml")}, io.Discard)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("got %v, want a not-exist error naming --config", err)
	}
}

func TestCommandLineValuesCheckedAtParse(t *testing.T) {
	for _, args := range [][]string{
		{"--raft-election-timeout", "2m"},
		{"--log-format", "xml"},
		{"--peers", "n1"},
		{"--create-table", ":3"},
		{"--tls-ca", "/nonexistent/ca.crt"},
	} {
		var ue *usageError
		if _, err := parseOptions(args, io.Discard); !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

// TestConfigFileStartsNode starts a real node from a config file with one
// flag overriding it, and checks it serves as the file and the flag say.
func TestConfigFileStartsNode(t *testing.T) {
	p := writeConfig(t, "tandem.yaml", fmt.Sprintf(`id: from-file
cluster: cfgtest
addr: 127.0.0.1:0
http: 127.0.0.1:0
data: %s
raft-election-timeout: 200ms
`, t.TempDir()))
	o := mustParse(t, "--id", "from-flag", "--config", p)
	cfg, err := nodeConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = zaptest.NewLogger(t)
	node, err := server.NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if node.ID() != "from-flag" {
		t.Fatalf("node id %q, want the flag's from-flag", node.ID())
	}
	deadline := time.Now().Add(30 * time.Second)
	for !node.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("node not ready after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + node.HTTPAddr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "cfgtest") || !strings.Contains(string(body), "from-flag") {
		t.Fatalf("status %d, page without cluster cfgtest and node from-flag:\n%s", resp.StatusCode, body)
	}
}
