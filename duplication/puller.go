package duplication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

var (
	// ErrRebootstrap is returned by a pull when the source no longer has
	// the log the remote needs: the puller fetches a new base.
	ErrRebootstrap = errors.New("duplication: source log gone, re-bootstrap")
	// ErrNoSourceLeader is returned when no source node names a leader.
	ErrNoSourceLeader = errors.New("duplication: no source partition leader found")
)

// PullerConfig configures the follower side of one partition.
type PullerConfig struct {
	DupID       string
	Table       string
	Partition   uint32
	SourceAddrs []string
	Replica     *replica.Replica
	// WorkDir holds base files while they download; a restart resumes them.
	WorkDir string
	Dial    func(addr string) (*grpc.ClientConn, error)
	NodeID  string
	Logger  *zap.Logger
}

// Puller keeps one remote partition in step with its source partition. It
// runs while its replica leads the remote partition.
type Puller struct {
	cfg    PullerConfig
	lg     *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	state        string
	rebootstraps uint32
	lastErr      string
	bytesDone    uint64
	bytesTotal   uint64
	baseDecree   uint64
	baseID       string
	leaderAddr   string
	upTo         uint64
}

// StartPuller starts pulling in the background.
func StartPuller(cfg PullerConfig) *Puller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Puller{cfg: cfg, cancel: cancel, done: make(chan struct{}), state: "INIT",
		lg: cfg.Logger.With(zap.String("dup", cfg.DupID), zap.String("table", cfg.Table), zap.Uint32("partition", cfg.Partition))}
	go p.run(ctx)
	return p
}

// Stop stops the puller and waits for it.
func (p *Puller) Stop() {
	p.cancel()
	<-p.done
}

func (p *Puller) run(ctx context.Context) {
	defer close(p.done)
	needBase := p.cfg.Replica.SourceDecree() == 0
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		var err error
		if needBase {
			if err = p.bootstrap(ctx); err == nil {
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

func (p *Puller) setState(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != s {
		p.lg.Info("duplication partition state", zap.String("from", p.state), zap.String("to", s))
	}
	p.state = s
}

func (p *Puller) setError(err error) {
	p.mu.Lock()
	p.lastErr = err.Error()
	p.leaderAddr = ""
	p.mu.Unlock()
	p.lg.Warn("duplication pull failed", zap.Error(err))
}

// report is what the puller tells the source with every call.
func (p *Puller) report() *tpb.FollowerReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &tpb.FollowerReport{State: p.state, BaseBytesDone: p.bytesDone, BaseBytesTotal: p.bytesTotal,
		Rebootstraps: p.rebootstraps, LastError: p.lastErr, FollowerNode: p.cfg.NodeID, BaseDecree: p.baseDecree, BaseCheckpoint: p.baseID}
}

// source returns a Duplication client for the source partition's leader.
func (p *Puller) source(ctx context.Context) (tpb.DuplicationClient, string, error) {
	p.mu.Lock()
	addr := p.leaderAddr
	p.mu.Unlock()
	if addr == "" {
		var err error
		if addr, err = p.findLeader(ctx); err != nil {
			return nil, "", err
		}
		p.mu.Lock()
		p.leaderAddr = addr
		p.mu.Unlock()
	}
	conn, err := p.cfg.Dial(addr)
	if err != nil {
		return nil, "", err
	}
	return tpb.NewDuplicationClient(conn), addr, nil
}

func (p *Puller) findLeader(ctx context.Context) (string, error) {
	var last error
	for _, a := range p.cfg.SourceAddrs {
		conn, err := p.cfg.Dial(a)
		if err != nil {
			last = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := tpb.NewAdminClient(conn).Route(cctx, &tpb.RouteRequest{Table: p.cfg.Table})
		cancel()
		if err != nil {
			last = err
			continue
		}
		for _, r := range resp.Partitions {
			if r.Index == p.cfg.Partition && r.LeaderAddr != "" {
				return r.LeaderAddr, nil
			}
		}
	}
	return "", fmt.Errorf("%w (sources %v): %v", ErrNoSourceLeader, p.cfg.SourceAddrs, last)
}

// bootstrap pulls a new base and installs it through the replica's group.
func (p *Puller) bootstrap(ctx context.Context) error {
	p.setState("PREPARE")
	src, addr, err := p.source(ctx)
	if err != nil {
		return err
	}
	resp, err := src.Prepare(ctx, &tpb.PrepareRequest{DupId: p.cfg.DupID, Table: p.cfg.Table, Partition: p.cfg.Partition, Report: p.report()})
	if err != nil {
		return fmt.Errorf("prepare base at %s: %w", addr, err)
	}
	m, err := replica.DecodeManifest(resp.Manifest)
	if err != nil {
		return err
	}
	if m.Decree != resp.Decree || m.ID != resp.CheckpointId {
		return fmt.Errorf("%w: base %s answer and manifest disagree", replica.ErrBadCheckpoint, resp.CheckpointId)
	}
	p.setState("APP")
	dir := filepath.Join(p.cfg.WorkDir, m.ID)
	if err := p.download(ctx, src, m, dir); err != nil {
		return err
	}
	if err := p.cfg.Replica.InstallBase(dir, m); err != nil {
		return err
	}
	// One entry through the group makes every replica's applied decree
	// catch up with the restore and records the source decree.
	if _, err := p.cfg.Replica.ProposeDuplicated(ctx, nil, m.Decree); err != nil {
		return err
	}
	p.mu.Lock()
	p.upTo = m.Decree
	p.clearTransientLocked()
	p.mu.Unlock()
	os.RemoveAll(p.cfg.WorkDir)
	p.lg.Info("duplication base loaded", zap.String("checkpoint", m.ID), zap.Uint64("source_decree", m.Decree), zap.Int64("bytes", m.TotalBytes))
	return nil
}

// download fetches every file of m into dir, skipping files already there
// with the right checksum and resuming partial ones.
func (p *Puller) download(ctx context.Context, src tpb.DuplicationClient, m *replica.Manifest, dir string) error {
	if err := p.keepOnly(m.ID); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p.mu.Lock()
	p.bytesDone, p.bytesTotal = 0, uint64(m.TotalBytes)
	p.baseDecree, p.baseID = m.Decree, m.ID
	p.mu.Unlock()
	for _, f := range m.Files {
		if err := p.fetchFile(ctx, src, m.ID, f, filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("fetch %s of base %s: %w", f.Name, m.ID, err)
		}
	}
	return nil
}

// keepOnly removes downloads of other bases from the work dir.
func (p *Puller) keepOnly(id string) error {
	entries, err := os.ReadDir(p.cfg.WorkDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.Name() != id {
			os.RemoveAll(filepath.Join(p.cfg.WorkDir, e.Name()))
		}
	}
	return err
}

func (p *Puller) addDone(n int64) {
	p.mu.Lock()
	p.bytesDone += uint64(n)
	p.mu.Unlock()
}

func (p *Puller) fetchFile(ctx context.Context, src tpb.DuplicationClient, ckpt string, f replica.FileInfo, path string) error {
	offset := int64(0)
	if st, err := os.Stat(path); err == nil {
		switch {
		case st.Size() == f.Size && fileCRC(path) == f.CRC32C:
			p.addDone(f.Size)
			return nil
		case st.Size() < f.Size:
			offset = st.Size() // resume after a break
		default:
			os.Remove(path)
		}
	}
	p.addDone(offset)
	stream, err := src.FetchFile(ctx, &tpb.FetchFileRequest{DupId: p.cfg.DupID, Table: p.cfg.Table, Partition: p.cfg.Partition,
		CheckpointId: ckpt, Name: f.Name, Offset: uint64(offset), Report: p.report()})
	if err != nil {
		return err
	}
	if err := p.receive(stream, path, offset, f.Size); err != nil {
		return err
	}
	if crc := fileCRC(path); crc != f.CRC32C {
		os.Remove(path)
		return fmt.Errorf("%w: %s: crc %08x, manifest says %08x; removed, will fetch again", replica.ErrBadCheckpoint, f.Name, crc, f.CRC32C)
	}
	return nil
}

func (p *Puller) receive(stream tpb.Duplication_FetchFileClient, path string, offset, size int64) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	for offset < size {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("stream ended at %d of %d bytes", offset, size)
		}
		if err != nil {
			return err
		}
		if int64(chunk.Offset) != offset || offset+int64(len(chunk.Data)) > size {
			return fmt.Errorf("chunk at %d (%d bytes) does not continue the file at %d", chunk.Offset, len(chunk.Data), offset)
		}
		if _, err := out.Write(chunk.Data); err != nil {
			return err
		}
		offset += int64(len(chunk.Data))
		p.addDone(int64(len(chunk.Data)))
	}
	return out.Sync()
}

func fileCRC(path string) uint32 {
	crc, _, err := replica.FileCRC32C(path)
	if err != nil {
		return 0
	}
	return crc
}

// ship pulls WAL batches and proposes them until an error or a stop.
func (p *Puller) ship(ctx context.Context) error {
	p.setState("LOG")
	for ctx.Err() == nil {
		src, addr, err := p.source(ctx)
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
		p.setState("PAUSED")
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		return nil
	}
	p.setState("LOG")
	if len(resp.Entries) > 0 {
		entries := make([]replica.DupEntry, len(resp.Entries))
		for i, e := range resp.Entries {
			entries[i] = replica.DupEntry{SourceDecree: e.Decree, Command: e.Command}
		}
		if _, err := p.cfg.Replica.ProposeDuplicated(ctx, entries, resp.UpTo); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.upTo = max(p.upTo, resp.UpTo)
	p.clearTransientLocked()
	p.mu.Unlock()
	return nil
}

// clearTransientLocked forgets a transient error once things work again;
// the reason for the last re-bootstrap stays visible in dup show.
func (p *Puller) clearTransientLocked() {
	if !strings.HasPrefix(p.lastErr, ErrRebootstrap.Error()) {
		p.lastErr = ""
	}
}

func describe(err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %s", st.Code(), st.Message())
	}
	return err
}
