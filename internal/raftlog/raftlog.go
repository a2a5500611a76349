package raftlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New routes hashicorp/raft's hclog output into zap as structured
// entries (message and fields), at levels that say what an operator should
// do about them: a group's first election is news, not a warning; a peer
// that cannot be reached is one warning per peer and kind every
// raftLogQuiet, with a count of what was left out, rather than hundreds of
// ERROR lines a second. raft's info chatter stays out.
func New(lg *zap.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      hclog.Warn,
		JSONFormat: true,
		Output:     &raftLogWriter{lg: lg.With(zap.String("component", "raft")), seen: map[string]*quietEntry{}, now: time.Now},
	})
}

// raftLogQuiet is how long repeated complaints about one peer stay quiet.
const raftLogQuiet = 10 * time.Second

type raftLogWriter struct {
	lg  *zap.Logger
	now func() time.Time

	mu   sync.Mutex
	seen map[string]*quietEntry
}

type quietEntry struct {
	last       time.Time
	suppressed int
}

// Write takes hclog's JSON lines.
func (w *raftLogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		w.writeLine(line)
	}
	return len(p), nil
}

func (w *raftLogWriter) writeLine(line []byte) {
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil {
		w.lg.Warn(string(line))
		return
	}
	msg, _ := rec["@message"].(string)
	level := raftLevel(rec)
	var fields []zap.Field
	for k, v := range rec {
		if !strings.HasPrefix(k, "@") {
			fields = append(fields, zap.Any(k, v))
		}
	}
	if key, ok := peerTrouble(msg, rec); ok {
		n, quiet := w.quiet(key)
		if quiet {
			return
		}
		if n > 0 {
			fields = append(fields, zap.Int("repeated", n), zap.Duration("over", raftLogQuiet))
		}
		level = min(level, zapcore.WarnLevel)
	}
	if ce := w.lg.Check(level, msg); ce != nil {
		ce.Write(fields...)
	}
}

// raftLevel maps a raft line to the level it deserves.
func raftLevel(rec map[string]any) zapcore.Level {
	msg, _ := rec["@message"].(string)
	switch {
	case strings.HasPrefix(msg, "heartbeat timeout reached, starting election"):
		if id, _ := rec["last-leader-id"].(string); id == "" {
			return zapcore.InfoLevel // a new group's (or a restarted node's) first election
		}
		return zapcore.WarnLevel
	case strings.HasPrefix(msg, "rejecting pre-vote request since we have a leader"),
		strings.HasPrefix(msg, "rejecting vote request since we have a leader"),
		strings.HasPrefix(msg, "Election timeout reached, restarting election"):
		return zapcore.InfoLevel
	}
	switch rec["@level"] {
	case "error":
		return zapcore.ErrorLevel
	case "warn":
		return zapcore.WarnLevel
	case "debug", "trace":
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

// peerTrouble recognizes raft's complaints about one unreachable peer and
// returns a key for (complaint, peer).
func peerTrouble(msg string, rec map[string]any) (string, bool) {
	for _, prefix := range []string{"failed to heartbeat to", "failed to appendEntries to", "failed to make requestVote RPC",
		"failed to contact", "failed to pipeline appendEntries", "failed to send snapshot to", "failed to decode incoming command"} {
		if strings.HasPrefix(msg, prefix) {
			peer := fmt.Sprint(rec["peer"], rec["target"], rec["server-id"])
			return prefix + "|" + peer, true
		}
	}
	return "", false
}

// quiet reports whether a line of key is to be left out; when it is not,
// n is how many were left out since the last one written.
func (w *raftLogWriter) quiet(key string) (n int, quiet bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	e := w.seen[key]
	if e == nil {
		if len(w.seen) > 4096 { // many peers over a long time: start over
			w.seen = map[string]*quietEntry{}
		}
		w.seen[key] = &quietEntry{last: now}
		return 0, false
	}
	if now.Sub(e.last) < raftLogQuiet {
		e.suppressed++
		return 0, true
	}
	n, e.suppressed, e.last = e.suppressed, 0, now
	return n, false
}
