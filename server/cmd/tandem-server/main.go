// Command tandem-server runs one Tandem node. See ../shared/INTERFACE.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-server:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := server.DefaultConfig()
	var peers, logLevel, createTable string
	var cacheMiB, memoryMiB uint64
	flag.StringVar(&cfg.NodeID, "id", cfg.NodeID, "node id, unique in the cluster")
	flag.StringVar(&cfg.Addr, "addr", cfg.Addr, "RPC address: client, admin, raft and duplication traffic")
	flag.StringVar(&cfg.AdvertiseAddr, "advertise-addr", "", "address other nodes, clusters and clients are told to use for this node, when it differs from --addr (proxy, NAT, 0.0.0.0)")
	flag.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP address for /healthz, /metrics and /status (empty: off)")
	flag.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory")
	flag.StringVar(&cfg.Cluster, "cluster", cfg.Cluster, "cluster name")
	flag.StringVar(&peers, "peers", "", "every node of the cluster: n1=HOST:PORT,n2=HOST:PORT,... (empty: single node)")
	flag.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	logFormat := flag.String("log-format", "", "console or json (default: console when stderr is a terminal, json otherwise)")
	flag.Uint64Var(&cacheMiB, "block-cache-mib", cfg.RocksDB.BlockCacheBytes>>20, "block cache shared by every replica, MiB")
	flag.Uint64Var(&memoryMiB, "memory-mib", 0, "RocksDB memory budget for all replicas, MiB: block cache plus memtables (0: block cache only)")
	flag.StringVar(&createTable, "create-table", "", "NAME[:PARTITIONS]: create this table once the node serves, if it does not exist")
	electionTimeout := flag.Duration("raft-election-timeout", cfg.Raft.HeartbeatTimeout, "how long followers wait for a leader before electing a new one; heartbeats go every tenth of it (longer: slower failover, less idle traffic)")
	var sec securityFlags
	sec.register(flag.CommandLine)
	flag.Parse()

	var err error
	if cfg.Peers, err = server.ParsePeers(peers); err != nil {
		return err
	}
	if err := sec.apply(&cfg); err != nil {
		return err
	}
	if *electionTimeout < 100*time.Millisecond || *electionTimeout > time.Minute {
		return fmt.Errorf("--raft-election-timeout %v: want 100ms to 1m", *electionTimeout)
	}
	cfg.Raft = cfg.Raft.WithElectionTimeout(*electionTimeout)
	cfg.RocksDB.BlockCacheBytes = cacheMiB << 20
	cfg.RocksDB.MemoryBudgetBytes = memoryMiB << 20
	if cfg.Logger, err = newLogger(logLevel, *logFormat); err != nil {
		return err
	}
	defer cfg.Logger.Sync()
	cfg.RocksDB.Logger = cfg.Logger
	node, err := server.NewNode(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("tandem-server started", zap.String("id", cfg.NodeID), zap.String("addr", node.Addr()),
		zap.String("http", node.HTTPAddr()), zap.String("cluster", cfg.Cluster), zap.String("data", cfg.DataDir))
	if createTable != "" {
		go ensureTable(node, createTable, cfg.Logger)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	cfg.Logger.Info("stopping", zap.String("signal", s.String()))
	return node.Close()
}

// newLogger logs for people on a terminal (console lines) and for
// collectors otherwise (JSON), with ISO 8601 times either way.
func newLogger(level, format string) (*zap.Logger, error) {
	var l zapcore.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	if format == "" {
		format = "json"
		if isTerminal(os.Stderr) {
			format = "console"
		}
	}
	zc := zap.NewProductionConfig()
	switch format {
	case "json":
	case "console":
		zc.Encoding = "console"
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	default:
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.EncoderConfig.TimeKey = "time"
	zc.Level = zap.NewAtomicLevelAt(l)
	zc.Sampling = nil
	// Errors here are operational (a peer down, a vote refused), not bugs:
	// no stack traces.
	zc.DisableStacktrace = true
	return zc.Build()
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ensureTable creates NAME[:PARTITIONS] once the node serves, unless it exists.
func ensureTable(node *server.Node, spec string, lg *zap.Logger) {
	name, ps, _ := strings.Cut(spec, ":")
	parts := 0
	if ps != "" {
		var err error
		if parts, err = strconv.Atoi(ps); err != nil || parts <= 0 {
			lg.Error("bad --create-table", zap.String("spec", spec))
			return
		}
	}
	for !node.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := node.CreateTable(ctx, &tpb.CreateTableRequest{Name: name, Partitions: uint32(parts)})
	switch {
	case err == nil:
		lg.Info("created table", zap.String("table", name))
	case errors.Is(err, server.ErrTableExists):
		lg.Info("table exists", zap.String("table", name))
	default:
		lg.Error("create table", zap.String("table", name), zap.Error(err))
	}
}
