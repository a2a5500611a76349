// Command tandem-server runs one Tandem node. See ../shared/INTERFACE.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	err := run(os.Args[1:], os.Stderr, sig)
	var ue *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		os.Exit(2) // the flag package has printed the error and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "tandem-server:", err)
		os.Exit(1)
	}
}

// usageError is a command-line error the flag package has already printed.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// run starts a node as args say and stops it when stop delivers.
func run(args []string, stderr io.Writer, stop <-chan os.Signal) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := nodeConfig(o)
	if err != nil {
		return err
	}
	if cfg.Logger, err = newLogger(o.logLevel, o.logFormat); err != nil {
		return err
	}
	defer cfg.Logger.Sync()
	cfg.RocksDB.Logger = cfg.Logger
	node, err := server.NewNode(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("tandem-server started", zap.String("id", cfg.NodeID), zap.String("addr", node.Addr()),
		zap.String("http", node.HTTPAddr()), zap.String("cluster", cfg.Cluster), zap.String("data", cfg.DataDir),
		zap.String("config", o.configFile))
	if o.createTable.name != "" {
		go ensureTable(node, o.createTable, cfg.Logger)
	}
	s := <-stop
	cfg.Logger.Info("stopping", zap.String("signal", s.String()))
	return node.Close()
}

// parseOptions reads the command line, then the config file it names for
// every option the command line left out.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := defaultOptions()
	fs := newFlagSet(o)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.configFile == "" {
		return o, nil
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := applyConfigFile(fs, o.configFile, given); err != nil {
		return nil, err
	}
	return o, nil
}

// nodeConfig maps the options onto the node's configuration, loading the
// TLS and token files they name.
func nodeConfig(o *options) (server.Config, error) {
	cfg := o.cfg
	cfg.Peers = o.peers.peers
	if err := o.sec.apply(&cfg); err != nil {
		return cfg, err
	}
	cfg.Raft = cfg.Raft.WithElectionTimeout(o.electionTimeout)
	cfg.RocksDB.BlockCacheBytes = o.cacheMiB << 20
	cfg.RocksDB.MemoryBudgetBytes = o.memoryMiB << 20
	return cfg, nil
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

// ensureTable creates the table of --create-table once the node serves,
// unless it exists.
func ensureTable(node *server.Node, spec tableSpec, lg *zap.Logger) {
	for !node.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := node.CreateTable(ctx, &tpb.CreateTableRequest{Name: spec.name, Partitions: uint32(spec.partitions)})
	switch {
	case err == nil:
		lg.Info("created table", zap.String("table", spec.name))
	case errors.Is(err, server.ErrTableExists):
		lg.Info("table exists", zap.String("table", spec.name))
	default:
		lg.Error("create table", zap.String("table", spec.name), zap.Error(err))
	}
}
