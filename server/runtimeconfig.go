package server

import (
	"fmt"

	"sort"
	"strconv"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/logdb"
)

// configKey is one cluster runtime setting: stored in the meta group,
// validated before it is proposed, pushed to every node when it changes.
type configKey struct {
	name  string
	def   string
	help  string
	check func(string) (string, error)
}

var configKeys = map[string]configKey{
	"kv.max_key_bytes": {
		name: "kv.max_key_bytes", def: "65536", check: intRange(1, 1<<20),
		help: "largest hash key + sort key accepted, in bytes (a hash key alone is at most 65535 bytes whatever this says)",
	},
	"kv.max_value_bytes": {
		name: "kv.max_value_bytes", def: "4194304", check: intRange(1, 64<<20),
		help: "largest value accepted, in bytes",
	},
	"dup.log_retain_bytes": {
		name: "dup.log_retain_bytes", def: "1073741824", check: intRange(0, 1<<50),
		help: "raft log a lagging duplication may hold back per partition, bytes (past it the remote re-bootstraps)",
	},
	"dup.log_retain_age": {
		name: "dup.log_retain_age", def: "24h0m0s", check: durationRange(time.Second, 30*24*time.Hour),
		help: "oldest raft log entry a lagging duplication may hold back (past it the remote re-bootstraps)",
	},
	"checkpoint.interval": {
		name: "checkpoint.interval", def: "10m0s", check: durationRange(time.Second, 7*24*time.Hour),
		help: "periodic checkpoint interval of a changed partition; raft's snapshot interval follows it",
	},
	"checkpoint.retain": {
		name: "checkpoint.retain", def: "2", check: intRange(1, 1000),
		help: "newest checkpoints kept per partition replica, besides pinned ones",
	},
	"checkpoint.tiny_bytes": {
		name: "checkpoint.tiny_bytes", def: "4194304", check: intRange(0, 1<<40),
		help: "partitions smaller than this are checkpointed at once, without queueing",
	},
	"checkpoint.concurrency": {
		name: "checkpoint.concurrency", def: "2", check: intRange(1, 64),
		help: "queued checkpoints created at once per node",
	},
	"raft.snapshot_threshold": {
		name: "raft.snapshot_threshold", def: "8192", check: intRange(16, 1<<30),
		help: "raft log entries since the last snapshot that trigger a new one",
	},
	"cluster.dead_node_timeout": {
		name: "cluster.dead_node_timeout", def: "5m0s", check: durationRange(time.Second, 7*24*time.Hour),
		help: "a node silent this long is dead: its replicas are re-created on live nodes",
	},
	"cluster.meta_voters": {
		name: "cluster.meta_voters", def: "3", check: oddRange(1, 7),
		help: "voters of the meta group (odd); other nodes follow it as non-voters",
	},
	"cluster.leader_balance_after": {
		name: "cluster.leader_balance_after", def: "30s", check: durationRange(time.Second, 24*time.Hour),
		help: "leaders are moved to spread them evenly only after they stayed uneven this long (a failover is not undone at once)",
	},
	"cluster.max_moves_per_node": {
		name: "cluster.max_moves_per_node", def: "1", check: intRange(1, 64),
		help: "replica moves (re-replication, drain, balance) a node takes part in at once",
	},
	"raft.trailing_logs": {
		// At least 1: with 0 raft compacts the whole log, a delete that
		// the log store cannot tell from raft truncating a conflicting
		// tail, so duplication and archive floors could not hold it.
		name: "raft.trailing_logs", def: "10240", check: intRange(1, 1<<30),
		help: "raft log entries kept behind a snapshot for slow followers, at least 1 (duplication and archive floors may keep more, up to dup.log_retain_*)",
	},
}

func intRange(lo, hi int64) func(string) (string, error) {
	return func(v string) (string, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return "", fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

// oddRange accepts odd integers in [lo, hi] (voter counts).
func oddRange(lo, hi int64) func(string) (string, error) {
	inRange := intRange(lo, hi)
	return func(v string) (string, error) {
		s, err := inRange(v)
		if err == nil && (s[len(s)-1]-'0')%2 == 0 {
			return "", fmt.Errorf("%s is even; want an odd count", s)
		}
		return s, err
	}
}

func durationRange(lo, hi time.Duration) func(string) (string, error) {
	return func(v string) (string, error) {
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a duration (e.g. 30s, 5m)", v)
		}
		if d < lo || d > hi {
			return "", fmt.Errorf("%s is outside [%s, %s]", d, lo, hi)
		}
		return d.String(), nil
	}
}

// normalizeConfig validates key=value and returns the canonical value.
func normalizeConfig(key, value string) (string, error) {
	k, ok := configKeys[key]
	if !ok {
		return "", fmt.Errorf("%q (known keys: %v): %w", key, configKeyNames(), ErrUnknownConfigKey)
	}
	v, err := k.check(value)
	if err != nil {
		return "", fmt.Errorf("%w: config %s: %v", ErrInvalidArgument, key, err)
	}
	return v, nil
}

func configKeyNames() []string {
	names := make([]string, 0, len(configKeys))
	for n := range configKeys {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runtimeConfig is the parsed, effective runtime configuration.
type runtimeConfig struct {
	MaxKeyBytes       int
	MaxValueBytes     int
	SnapshotThreshold uint64
	TrailingLogs      uint64
	Checkpoint        checkpoint.Policy
	Retention         logdb.RetentionCap
	// Membership (issue 14).
	DeadNodeTimeout time.Duration
	MetaVoters      int
	MaxMovesPerNode int
	LeaderBalance   time.Duration
}

// effectiveConfig merges overrides over defaults; values were validated
// before they entered the meta log.
func effectiveConfig(overrides map[string]string) runtimeConfig {
	get := func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return configKeys[k].def
	}
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(get(k), 10, 64); return n }
	dur := func(k string) time.Duration { d, _ := time.ParseDuration(get(k)); return d }
	return runtimeConfig{
		MaxKeyBytes:       int(atoi("kv.max_key_bytes")),
		MaxValueBytes:     int(atoi("kv.max_value_bytes")),
		SnapshotThreshold: uint64(atoi("raft.snapshot_threshold")),
		TrailingLogs:      uint64(atoi("raft.trailing_logs")),
		DeadNodeTimeout:   dur("cluster.dead_node_timeout"),
		MetaVoters:        int(atoi("cluster.meta_voters")),
		MaxMovesPerNode:   int(atoi("cluster.max_moves_per_node")),
		LeaderBalance:     dur("cluster.leader_balance_after"),
		Retention:         logdb.RetentionCap{MaxBytes: uint64(atoi("dup.log_retain_bytes")), MaxAge: dur("dup.log_retain_age")},
		Checkpoint: checkpoint.Policy{
			Interval:    dur("checkpoint.interval"),
			Retain:      int(atoi("checkpoint.retain")),
			TinyBytes:   uint64(atoi("checkpoint.tiny_bytes")),
			Concurrency: int(atoi("checkpoint.concurrency")),
		},
	}
}
