package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/internal/lenprefix"
)

// gateFSM records the commands it applies and, while its gate is shut,
// holds each apply until the gate opens: the entry is then in the log
// (proposed and committed) but its proposer has no answer yet.
type gateFSM struct {
	gate     chan struct{}
	openOnce sync.Once
	applying chan string // receives each command as its apply starts

	mu      sync.Mutex
	applied []string
}

func (f *gateFSM) Apply(l *raft.Log) interface{} {
	cmds := []string{string(l.Data)}
	if len(l.Data) >= 2 && l.Data[1] == commandKindBatch {
		subs, err := decodeBatchRaw(l.Data[2:])
		if err != nil {
			return err
		}
		cmds = subs
	}
	for _, c := range cmds {
		select {
		case f.applying <- c:
		default:
		}
	}
	<-f.gate
	f.mu.Lock()
	f.applied = append(f.applied, cmds...)
	f.mu.Unlock()
	return nil
}

// open lets every held and later apply through.
func (f *gateFSM) open() { f.openOnce.Do(func() { close(f.gate) }) }

func (f *gateFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (f *gateFSM) Restore(io.ReadCloser) error         { return errors.New("no snapshots") }

func (f *gateFSM) appliedCommands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied)
}

// decodeBatchRaw splits a batch entry's body into its commands.
func decodeBatchRaw(b []byte) ([]string, error) {
	var out []string
	n, k := binary.Uvarint(b)
	rest := b[k:]
	for i := uint64(0); i < n; i++ {
		sub, r, err := lenprefix.Read(rest, ErrMalformedCommand)
		if err != nil {
			return nil, err
		}
		out, rest = append(out, string(sub)), r
	}
	return out, nil
}

// newGatedBatcher starts a single-voter raft group (real raft, in-memory
// log and transport) over a gateFSM whose gate is shut, and a batcher on
// it that keeps at most maxInflight entries out.
func newGatedBatcher(t *testing.T, maxInflight int) (*batcher, *gateFSM) {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout, conf.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	conf.LeaderLeaseTimeout, conf.CommitTimeout = 50*time.Millisecond, 5*time.Millisecond
	conf.Logger = hclog.NewNullLogger()
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	addr, trans := raft.NewInmemTransport("")
	fsm := &gateFSM{gate: make(chan struct{}), applying: make(chan string, 16)}
	servers := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}
	if err := raft.BootstrapCluster(conf, store, store, snaps, trans, servers); err != nil {
		t.Fatal(err)
	}
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fsm.open() // a held apply would keep Shutdown waiting
		_ = r.Shutdown().Error()
	})
	select {
	case <-r.LeaderCh():
	case <-time.After(10 * time.Second):
		t.Fatal("single-voter group elected no leader")
	}
	// The leader's no-op and configuration entries never reach FSM.Apply,
	// so the gate holds only the test's commands.
	return &batcher{raft: r, maxInflight: maxInflight, timeout: 5 * time.Second}, fsm
}

// waitApplying waits until the FSM starts applying cmd.
func waitApplying(t *testing.T, fsm *gateFSM, cmd string) {
	t.Helper()
	for {
		select {
		case c := <-fsm.applying:
			if c == cmd {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the FSM", cmd)
		}
	}
}

// A write whose caller stops waiting after it was handed to raft may still
// apply: its error must say so (it used to be ErrTimeout, which the edge
// turned into "retry elsewhere", so the write could apply twice).
func TestBatcherProposedWriteWhoseCallerLeavesIsAmbiguous(t *testing.T) {
	b, fsm := newGatedBatcher(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.propose(ctx, []byte("A"))
		errc <- err
	}()
	waitApplying(t, fsm, "A") // in the log, committed, not yet answered
	cancel()
	err := <-errc
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrTimeout) {
		t.Fatalf("proposed write abandoned by its caller: err = %v, want ErrOutcomeUnknown only", err)
	}
	fsm.open()
	waitFor(t, 10*time.Second, "B queued", func() bool { return slices.Equal(fsm.appliedCommands(), []string{"A"}) })
}

// A write still queued in the batcher when its caller stops waiting is
// withdrawn: it never reaches raft, and its error says a retry is safe.
func TestBatcherQueuedWriteWhoseCallerLeavesIsWithdrawn(t *testing.T) {
	b, fsm := newGatedBatcher(t, 1)
	first := make(chan error, 1)
	go func() {
		_, err := b.propose(context.Background(), []byte("A"))
		first <- err
	}()
	waitApplying(t, fsm, "A") // A holds the only in-flight slot
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.propose(ctx, []byte("B"))
		errc <- err
	}()
	waitFor(t, 10*time.Second, "B queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == 1
	})
	cancel()
	err := <-errc
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("queued write abandoned by its caller: err = %v, want ErrTimeout only", err)
	}
	fsm.open()
	if err := <-first; err != nil {
		t.Fatalf("A: %v", err)
	}
	if _, err := b.propose(context.Background(), []byte("C")); err != nil {
		t.Fatalf("C: %v", err)
	}
	if got := fsm.appliedCommands(); !slices.Equal(got, []string{"A", "C"}) {
		t.Fatalf("applied %q, want [A C]: the withdrawn write B must never apply", got)
	}
}

func TestMapRaftErrorSaysWhetherTheWriteCanApply(t *testing.T) {
	cases := []struct {
		err  error
		want error // the sentinel, and the only one of the three
	}{
		{raft.ErrNotLeader, ErrNotLeader},
		{raft.ErrLeadershipTransferInProgress, ErrNotLeader},
		{raft.ErrEnqueueTimeout, ErrTimeout},
		{raft.ErrLeadershipLost, ErrOutcomeUnknown},
		{raft.ErrRaftShutdown, ErrOutcomeUnknown},
		{raft.ErrAbortedByRestore, ErrOutcomeUnknown},
		{fmt.Errorf("store logs: %w", io.ErrShortWrite), ErrOutcomeUnknown},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			got := mapRaftError(c.err)
			for _, s := range []error{ErrNotLeader, ErrTimeout, ErrOutcomeUnknown} {
				if errors.Is(got, s) != (s == c.want) {
					t.Fatalf("mapRaftError(%v) = %v; want only %v", c.err, got, c.want)
				}
			}
		})
	}
}
