package server

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"

	"github.com/tandem-kv/tandem/logdb"
	"github.com/tandem-kv/tandem/rocksdb"
)

// A follower's raft counts meta entries as applied once they are queued
// for the FSM; the node may call itself ready only when the FSM has applied
// every command up to there (no-op entries never reach it). The robustness
// test found restarted nodes answering "table not found" in between.
func TestMetaFSMCaughtUpWaitsForQueuedCommands(t *testing.T) {
	sh, err := rocksdb.NewShared(rocksdb.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Close)
	db, err := logdb.Open(filepath.Join(t.TempDir(), "raftlog"), sh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	glog, err := db.Group(metaGroupID)
	if err != nil {
		t.Fatal(err)
	}
	// 1: configuration, 2: command, 3: no-op (a new leader's), 4: command.
	types := []raft.LogType{raft.LogConfiguration, raft.LogCommand, raft.LogNoop, raft.LogCommand}
	for i, typ := range types {
		if err := glog.StoreLog(&raft.Log{Index: uint64(i + 1), Term: 1, Type: typ, Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	m := &metaGroup{fsm: newMetaFSM(zaptest.NewLogger(t)), glog: glog, snaps: raft.NewInmemSnapshotStore()}
	applied := func(i uint64) { m.fsm.mu.Lock(); m.fsm.applied = i; m.fsm.mu.Unlock() }
	cases := []struct {
		fsm, raft uint64
		want      bool
	}{
		{0, 1, true},  // only a configuration entry: nothing for the FSM
		{0, 2, false}, // command 2 queued, not applied
		{2, 3, true},  // the no-op after it never reaches the FSM
		{2, 4, false},
		{4, 4, true},
	}
	for _, c := range cases {
		applied(c.fsm)
		if got := m.fsmCaughtUp(c.raft); got != c.want {
			t.Fatalf("fsm at %d, raft applied %d: caught up = %v, want %v", c.fsm, c.raft, got, c.want)
		}
	}
}
