package raftlog

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRaftLogLevelsAndPeerComplaintsAreQuiet(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	now := time.Unix(1000, 0)
	w := &raftLogWriter{lg: zap.New(core), seen: map[string]*quietEntry{}, now: func() time.Time { return now }}
	lines := []string{
		`{"@level":"warn","@message":"heartbeat timeout reached, starting election","last-leader-addr":"","last-leader-id":""}`,
		`{"@level":"warn","@message":"heartbeat timeout reached, starting election","last-leader-addr":"h:1","last-leader-id":"n1"}`,
	}
	for i := 0; i < 100; i++ {
		lines = append(lines, `{"@level":"error","@message":"failed to heartbeat to","peer":"127.0.0.1:7101","error":"connection refused"}`)
	}
	for _, l := range lines {
		w.writeLine([]byte(l))
	}
	got := logs.All()
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3 (two elections, one complaint): %v", len(got), got)
	}
	if got[0].Level != zapcore.InfoLevel || got[1].Level != zapcore.WarnLevel {
		t.Errorf("first election at %v, failover election at %v; want info, warn", got[0].Level, got[1].Level)
	}
	if got[2].Level != zapcore.WarnLevel || got[2].ContextMap()["peer"] != "127.0.0.1:7101" {
		t.Errorf("peer complaint: %v %v", got[2].Level, got[2].ContextMap())
	}
	now = now.Add(raftLogQuiet)
	w.writeLine([]byte(lines[2]))
	last := logs.All()[3]
	if last.ContextMap()["repeated"] != int64(99) {
		t.Errorf("after the quiet period: %v, want repeated=99", last.ContextMap())
	}
}
