package duplication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// PullerConfig configures the follower side of one partition.
type PullerConfig struct {
	DupID       string
	Table       string
	Partition   uint32
	SourceAddrs []string
	Replica     FollowerReplica
	// WorkDir holds base files while they download; a restart resumes them.
	WorkDir string
	Dial    func(addr string) (*grpc.ClientConn, error)
	NodeID  string
	Logger  *zap.Logger
	// SeedURL, when set, is the archive the first base comes from, with
	// the archived log up to SeedDecree (dup add --from-archive).
	SeedURL    string
	SeedDecree uint64
	// Reuse is where base files may come from besides the remote.
	Reuse Reuse
}

// Puller keeps one remote partition in step with its source partition. It
// runs while its replica leads the remote partition.
type Puller struct {
	cfg    PullerConfig
	lg     *zap.Logger
	leader *sourceLeader
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	state        PartitionState
	rebootstraps uint32
	lastErr      string
	bytesDone    uint64
	bytesTotal   uint64
	baseDecree   uint64
	baseID       string
	upTo         uint64
	// replicated is the replicated time through upTo; the replica stores
	// it with every batch, and an idle partition's advances every
	// idlePersist (so a restart or promote sees a time at most that old).
	replicated time.Time
}

// idlePersist is how often an idle partition writes its advancing
// replicated time through raft.
const idlePersist = 5 * time.Second

// StartPuller starts pulling in the background.
func StartPuller(cfg PullerConfig) *Puller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Puller{cfg: cfg, cancel: cancel, done: make(chan struct{}), state: PartitionInit, replicated: cfg.Replica.ReplicatedTime(),
		leader: &sourceLeader{table: cfg.Table, partition: cfg.Partition, addrs: cfg.SourceAddrs, dial: cfg.Dial},
		lg:     cfg.Logger.With(zap.String("dup", cfg.DupID), zap.String("table", cfg.Table), zap.Uint32("partition", cfg.Partition))}
	go p.run(ctx)
	return p
}

// Stop stops the puller and waits for it.
func (p *Puller) Stop() {
	p.cancel()
	<-p.done
}

// run bootstraps from a base when the replica has none, then ships the
// log; it re-bootstraps when the source's log is gone, follows a source
// leader a refusal names, and backs off after other failures.
func (p *Puller) run(ctx context.Context) {
	defer close(p.done)
	needBase := p.cfg.Replica.SourceDecree() == 0
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		var err error
		if needBase {
			if p.seedable() {
				err = p.seed(ctx)
			} else {
				err = p.bootstrap(ctx)
			}
			if err == nil {
				needBase = false
			}
		} else {
			err = p.ship(ctx)
		}
		switch {
		case err == nil || ctx.Err() != nil:
			backoff = 50 * time.Millisecond
		case errors.Is(err, ErrRebootstrap):
			needBase = true
			p.mu.Lock()
			p.rebootstraps++
			p.lastErr = err.Error()
			p.mu.Unlock()
		case p.leader.follow(err):
			p.lg.Info("following the source leader a refusal named", zap.String("leader", p.leader.current()), zap.Error(err))
		default:
			p.setError(err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

func (p *Puller) setState(s PartitionState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != s {
		p.lg.Info("duplication partition state", zap.String("from", string(p.state)), zap.String("to", string(s)))
	}
	p.state = s
}

func (p *Puller) setError(err error) {
	p.mu.Lock()
	p.lastErr = err.Error()
	p.mu.Unlock()
	p.lg.Warn("duplication pull failed", zap.Error(err))
}

// report is what the puller tells the source with every call.
func (p *Puller) report() *tpb.FollowerReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &tpb.FollowerReport{State: string(p.state), StateCode: p.state.Proto(), BaseBytesDone: p.bytesDone, BaseBytesTotal: p.bytesTotal,
		Rebootstraps: p.rebootstraps, LastError: p.lastErr, FollowerNode: p.cfg.NodeID, BaseDecree: p.baseDecree, BaseCheckpoint: p.baseID,
		ReplicatedTimeUnixMs: unixMs(p.replicated)}
}

// unixMs is t in unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ReplicatedTime is the partition's replicated time as the puller knows it
// (zero when unknown).
func (p *Puller) ReplicatedTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replicated
}

// ship pulls WAL batches and proposes them until an error or a stop.
func (p *Puller) ship(ctx context.Context) error {
	p.setState(PartitionLog)
	for ctx.Err() == nil {
		src, addr, err := p.leader.client(ctx)
		if err != nil {
			return err
		}
		p.mu.Lock()
		from := max(p.cfg.Replica.SourceDecree(), p.upTo) + 1
		p.mu.Unlock()
		resp, err := src.Pull(ctx, &tpb.PullRequest{DupId: p.cfg.DupID, Table: p.cfg.Table, Partition: p.cfg.Partition,
			From: from, Confirmed: from - 1, WaitMs: 1000, Report: p.report()})
		if err != nil {
			return fmt.Errorf("pull from %s at decree %d: %w", addr, from, describe(err))
		}
		p.leader.ok()
		if err := p.apply(ctx, resp); err != nil {
			return err
		}
	}
	return nil
}

// apply handles one pull answer.
func (p *Puller) apply(ctx context.Context, resp *tpb.PullResponse) error {
	switch {
	case resp.LogGone:
		return fmt.Errorf("%w: %s", ErrRebootstrap, resp.GoneReason)
	case resp.Paused:
		p.setState(PartitionPaused)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		return nil
	}
	p.setState(PartitionLog)
	var at time.Time
	if resp.SourceTimeUnixMs > 0 {
		at = time.UnixMilli(resp.SourceTimeUnixMs)
	}
	if len(resp.Entries) > 0 || p.idleAdvanceDue(at) {
		entries := make([]replica.DupEntry, len(resp.Entries))
		for i, e := range resp.Entries {
			entries[i] = replica.DupEntry{SourceDecree: e.Decree, Command: e.Command}
		}
		if _, err := p.cfg.Replica.ProposeDuplicatedAt(ctx, entries, resp.UpTo, at); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.upTo = max(p.upTo, resp.UpTo)
	if at.After(p.replicated) {
		p.replicated = at
	}
	p.clearTransientLocked()
	p.mu.Unlock()
	return nil
}

// idleAdvanceDue reports whether an answer without entries should still
// write its replicated time through raft: it moved idlePersist past the
// stored one.
func (p *Puller) idleAdvanceDue(at time.Time) bool {
	return !at.IsZero() && at.Sub(p.cfg.Replica.ReplicatedTime()) >= idlePersist
}

// clearTransientLocked forgets a transient error once things work again;
// the reason for the last re-bootstrap stays visible in dup show.
func (p *Puller) clearTransientLocked() {
	if !strings.HasPrefix(p.lastErr, ErrRebootstrap.Error()) {
		p.lastErr = ""
	}
}

// describe says a gRPC error as "Code: message", keeping it wrapped so the
// puller can still read a NotLeader hint in it.
func describe(err error) error {
	if st, ok := status.FromError(err); ok {
		return statusError{st: st, err: err}
	}
	return err
}

type statusError struct {
	st  *status.Status
	err error
}

func (e statusError) Error() string { return fmt.Sprintf("%s: %s", e.st.Code(), e.st.Message()) }
func (e statusError) Unwrap() error { return e.err }
