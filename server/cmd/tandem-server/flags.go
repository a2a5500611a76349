package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/server"
)

// options are tandem-server's flags and config-file keys: the node's
// server.Config plus what main itself does with them. Every value is
// checked when it is set (flag.Value.Set), so a bad value is refused
// where it was written: on the command line, or at its line of the file.
type options struct {
	cfg             server.Config
	configFile      string
	peers           peersValue
	logLevel        string
	logFormat       string
	cacheMiB        uint64
	memoryMiB       uint64
	createTable     tableSpec
	electionTimeout time.Duration
	sec             securityFlags
}

// defaultOptions returns the options of a node started with no flags.
func defaultOptions() *options {
	cfg := server.DefaultConfig()
	return &options{
		cfg:             cfg,
		logLevel:        "info",
		cacheMiB:        cfg.RocksDB.BlockCacheBytes >> 20,
		electionTimeout: cfg.Raft.HeartbeatTimeout,
	}
}

// newFlagSet registers every flag of tandem-server onto o. The same set
// reads the command line and the config file (each key is a flag's name),
// and renders docs/config.md, so the three cannot disagree.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("tandem-server", flag.ContinueOnError)
	fs.StringVar(&o.configFile, configFlag, "", "YAML file of options, one key per flag name (docs/config.md); flags given on the command line override it")
	fs.StringVar(&o.cfg.NodeID, "id", o.cfg.NodeID, "node id, unique in the cluster")
	fs.StringVar(&o.cfg.Addr, "addr", o.cfg.Addr, "RPC address: client, admin, raft and duplication traffic")
	fs.StringVar(&o.cfg.AdvertiseAddr, "advertise-addr", "", "address other nodes, clusters and clients are told to use for this node, when it differs from --addr (proxy, NAT, 0.0.0.0)")
	fs.StringVar(&o.cfg.HTTPAddr, "http", o.cfg.HTTPAddr, "HTTP address for /healthz, /metrics and /status (empty: off)")
	fs.StringVar(&o.cfg.DataDir, "data", o.cfg.DataDir, "data directory")
	fs.StringVar(&o.cfg.Cluster, "cluster", o.cfg.Cluster, "cluster name")
	fs.Var(&o.peers, "peers", "every node of the cluster: n1=HOST:PORT,n2=HOST:PORT,... (empty: single node)")
	fs.StringVar(&o.cfg.Join, "join", "", "HOST:PORT of any member of a running cluster to join as a new node (instead of --peers)")
	fs.Var(&choice{&o.logLevel, []string{"debug", "info", "warn", "error"}}, "log-level", "debug, info, warn or error")
	fs.Var(&choice{&o.logFormat, []string{"", "console", "json"}}, "log-format", "console or json (default: console when stderr is a terminal, json otherwise)")
	fs.Uint64Var(&o.cacheMiB, "block-cache-mib", o.cacheMiB, "block cache shared by every replica, MiB")
	fs.Uint64Var(&o.memoryMiB, "memory-mib", 0, "RocksDB memory budget for all replicas, MiB: block cache plus memtables (0: block cache only)")
	fs.Var(&o.createTable, "create-table", "NAME[:PARTITIONS]: create this table once the node serves, if it does not exist")
	fs.Var(&durationRange{&o.electionTimeout, 100 * time.Millisecond, time.Minute}, "raft-election-timeout",
		"how long followers wait for a leader before electing a new one, 100ms to 1m; heartbeats go every tenth of it (longer: slower failover, less idle traffic)")
	o.sec.register(fs)
	fs.Usage = func() { printUsage(fs) }
	return fs
}

// configFlag is the flag naming the config file; it is no key of the file.
const configFlag = "config"

// durationRange is a duration flag that refuses values outside [min, max].
type durationRange struct {
	d        *time.Duration
	min, max time.Duration
}

func (v *durationRange) String() string {
	if v == nil || v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v *durationRange) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 3s or 500ms: %w", err)
	}
	if d < v.min || d > v.max {
		return fmt.Errorf("want %s to %s", shortDuration(v.min), shortDuration(v.max))
	}
	*v.d = d
	return nil
}

// Type names the value's kind in docs/config.md.
func (v *durationRange) Type() string { return "duration" }

// shortDuration prints 1m rather than 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

// choice is a string flag limited to a few words.
type choice struct {
	s     *string
	words []string
}

func (v *choice) String() string {
	if v == nil || v.s == nil {
		return ""
	}
	return *v.s
}

func (v *choice) Set(s string) error {
	for _, w := range v.words {
		if s == w {
			*v.s = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(quoteAll(v.words), ", "))
}

// Type names the value's kind in docs/config.md.
func (v *choice) Type() string { return "string" }

func quoteAll(ws []string) []string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = strconv.Quote(w)
	}
	return q
}

// peersValue is --peers, parsed when set.
type peersValue struct {
	text  string
	peers []server.Peer
}

func (v *peersValue) String() string { return v.text }

func (v *peersValue) Set(s string) error {
	ps, err := server.ParsePeers(s)
	if err != nil {
		return err
	}
	v.text, v.peers = s, ps
	return nil
}

// Type names the value's kind in docs/config.md.
func (v *peersValue) Type() string { return "list" }

// tableSpec is --create-table NAME[:PARTITIONS].
type tableSpec struct {
	name       string
	partitions int // 0: the cluster's default
}

func (v *tableSpec) String() string {
	switch {
	case v == nil:
		return ""
	case v.partitions == 0:
		return v.name
	}
	return fmt.Sprintf("%s:%d", v.name, v.partitions)
}

func (v *tableSpec) Set(s string) error {
	name, ps, hasParts := strings.Cut(s, ":")
	if name == "" && s != "" {
		return errors.New("want NAME[:PARTITIONS]")
	}
	parts := 0
	if hasParts {
		var err error
		if parts, err = strconv.Atoi(ps); err != nil || parts <= 0 {
			return fmt.Errorf("partitions %q: want a positive number", ps)
		}
	}
	v.name, v.partitions = name, parts
	return nil
}

// Type names the value's kind in docs/config.md.
func (v *tableSpec) Type() string { return "string" }

// filePath is a flag naming a file that must exist when given: a missing
// file is refused where it was written rather than when it is loaded.
type filePath struct{ p *string }

func (v *filePath) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (v *filePath) Set(s string) error {
	if s != "" {
		if _, err := os.Stat(s); err != nil {
			return err
		}
	}
	*v.p = s
	return nil
}

// Type names the value's kind in docs/config.md.
func (v *filePath) Type() string { return "file" }

// flagType names the kind of value a flag takes, for -h and docs/config.md.
func flagType(f *flag.Flag) string {
	if t, ok := f.Value.(interface{ Type() string }); ok {
		return t.Type()
	}
	switch name, _ := flag.UnquoteUsage(f); name {
	case "uint", "int":
		return "integer"
	default:
		return name
	}
}

// printUsage is -h: every flag with its kind, meaning and default.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: tandem-server [flags]\n\nFlags (each also a key of the --config file):\n")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%s %s\n    \t%s", f.Name, flagType(f), f.Usage)
		if f.DefValue != "" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
