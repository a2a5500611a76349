package replica

import (
	"bytes"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
)

// NewRaftLogger routes hashicorp/raft's hclog output into the replica's zap
// logger. raft logs warnings worth seeing (failed heartbeats, elections);
// its info chatter stays out.
func NewRaftLogger(lg *zap.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: &zapWriter{lg: lg.With(zap.String("component", "raft"))},
	})
}

type zapWriter struct{ lg *zap.Logger }

func (w *zapWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		s := string(line)
		switch {
		case strings.Contains(s, "[ERROR]"):
			w.lg.Error(s)
		case strings.Contains(s, "[WARN]"):
			w.lg.Warn(s)
		default:
			w.lg.Info(s)
		}
	}
	return len(p), nil
}
