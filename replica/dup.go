package replica

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/logdb"
)

var (
	// ErrLogGone is returned when the raft log entries a duplication asks
	// for were compacted away (or predate a snapshot this replica
	// installed): the remote must re-bootstrap from a new base.
	ErrLogGone = errors.New("replica: log entries gone")
)

// WalEntry is one committed, applied mutation entry of the partition's raft
// log, as duplication ships it.
type WalEntry struct {
	Decree     uint64
	Command    []byte
	AppendedAt time.Time
}

// maxReadEntries bounds one ReadLog call.
const maxReadEntries = 4096

// ReadLog returns the mutation entries with decree >= from that are
// applied here, up to maxBytes of commands; upTo is the last decree looked
// at (entries without mutations are skipped but count as shipped).
func (r *Replica) ReadLog(from uint64, maxBytes int) (entries []WalEntry, upTo uint64, err error) {
	lb, err := r.ReadLogBatch(from, maxBytes)
	return lb.Entries, lb.UpTo, err
}

// LogBatch is a read of the partition's log for duplication.
type LogBatch struct {
	Entries []WalEntry
	// UpTo is the last decree looked at.
	UpTo uint64
	// ReplicatedMs is the highest replicated time (unix ms, 0 none) the
	// applied shipped entries in the range established: once a remote
	// applied through UpTo, every write this partition's own source
	// acknowledged before it is there too (a chain's time).
	ReplicatedMs uint64
}

// ReadLogBatch is ReadLog that also says the replicated time the range
// carries. Each entry ships exactly the mutations the FSM applied from it:
// client mutations the fence did not refuse, and shipped ones (this
// partition follows another cluster's) it did not skip (dupchain.go).
func (r *Replica) ReadLogBatch(from uint64, maxBytes int) (LogBatch, error) {
	applied := r.Applied()
	lb := LogBatch{UpTo: from - 1}
	if from > applied {
		return lb, nil
	}
	first, _ := r.glog.FirstIndex()
	ds := r.fsm.dupState()
	trusted := ds.trustedFrom
	if first == 0 || from < first || from < trusted || from < ds.skips.from {
		return lb, fmt.Errorf("%w: decree %d wanted, log starts at %d (trusted from %d, skip records from %d)", ErrLogGone, from, first, trusted, ds.skips.from)
	}
	size := 0
	var l raft.Log
	for i := from; i <= applied && size < maxBytes && len(lb.Entries) < maxReadEntries; i++ {
		if err := r.glog.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				return LogBatch{UpTo: from - 1}, fmt.Errorf("%w: decree %d compacted meanwhile", ErrLogGone, i)
			}
			return LogBatch{UpTo: from - 1}, err
		}
		lb.UpTo = i
		if l.Type != raft.LogCommand {
			continue
		}
		if isMutation(l.Data) { // the common entry, shipped as it is
			if !ds.fenced(i) {
				lb.Entries = append(lb.Entries, WalEntry{Decree: i, Command: l.Data, AppendedAt: l.AppendedAt})
				size += len(l.Data)
			}
			continue
		}
		muts, atMs, err := appliedMutations(l.Data, i, ds)
		if err != nil {
			return LogBatch{UpTo: from - 1}, fmt.Errorf("decree %d: %w", i, err)
		}
		lb.ReplicatedMs = max(lb.ReplicatedMs, atMs)
		if len(muts) > 0 {
			cmd := encodeCommand(muts)
			lb.Entries = append(lb.Entries, WalEntry{Decree: i, Command: cmd, AppendedAt: l.AppendedAt})
			size += len(cmd)
		}
	}
	return lb, nil
}

// WaitDecree waits until decree d is applied or timeout passes; it returns
// the applied decree.
func (r *Replica) WaitDecree(ctx context.Context, d uint64, timeout time.Duration) uint64 {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = r.fsm.waitApplied(ctx, d, nil)
	return r.Applied()
}

// EntryTime returns when the leader appended log entry d, if it is still
// in the log.
func (r *Replica) EntryTime(d uint64) (time.Time, bool) {
	var l raft.Log
	if r.glog.GetLog(d, &l) != nil || l.AppendedAt.IsZero() {
		return time.Time{}, false
	}
	return l.AppendedAt, true
}

// Confirmed returns each duplication's persisted confirmed decree.
func (r *Replica) Confirmed() map[string]uint64 { return r.fsm.Confirmed() }

// SourceDecree is, on a duplication follower, the last source decree
// applied (replicated with the data).
func (r *Replica) SourceDecree() uint64 { return r.fsm.SourceDecree() }

// RetainedLogBytes estimates the size of the partition's raft log here.
func (r *Replica) RetainedLogBytes() uint64 { return r.glog.RetainedBytes() }

// SetRetentionCap bounds how much log duplication floors may hold back.
func (r *Replica) SetRetentionCap(c logdb.RetentionCap) { r.glog.SetRetentionCap(c) }

// retentionFloor is the lowest decree any duplication still needs.
func (r *Replica) retentionFloor() (uint64, bool) {
	conf := r.fsm.Confirmed()
	if len(conf) == 0 {
		return 0, false
	}
	var low uint64
	first := true
	for _, c := range conf {
		if first || c+1 < low {
			low, first = c+1, false
		}
	}
	return low, true
}

// ProposeDupConfirm persists duplication id's confirmed decree through
// raft, raising the retention floor on every replica.
func (r *Replica) ProposeDupConfirm(ctx context.Context, id string, confirmed uint64) error {
	_, err := r.propose(ctx, encodeDupConfirm(id, confirmed))
	return err
}

// ProposeDupRelease drops duplication id's floor.
func (r *Replica) ProposeDupRelease(ctx context.Context, id string) error {
	_, err := r.propose(ctx, encodeDupRelease(id))
	return err
}

// ProposeDuplicated applies shipped source entries through this replica's
// raft group, recording upTo as the last source decree applied.
// Commands come from another cluster, so they are checked before they
// enter the log (a malformed committed command would stop every replica).
func (r *Replica) ProposeDuplicated(ctx context.Context, entries []DupEntry, upTo uint64) (uint64, error) {
	return r.ProposeDuplicatedAt(ctx, entries, upTo, time.Time{})
}

// ProposeDuplicatedAt is ProposeDuplicated that also records at as the
// replicated time (zero: unchanged), atomically with the entries: every
// write the source acknowledged before at has a decree <= upTo.
func (r *Replica) ProposeDuplicatedAt(ctx context.Context, entries []DupEntry, upTo uint64, at time.Time) (uint64, error) {
	for _, e := range entries {
		if !isMutation(e.Command) || e.SourceDecree > upTo {
			return 0, fmt.Errorf("%w: shipped entry at source decree %d", ErrMalformedCommand, e.SourceDecree)
		}
		if _, err := decodeCommand(e.Command); err != nil {
			return 0, fmt.Errorf("shipped entry at source decree %d: %w", e.SourceDecree, err)
		}
	}
	var atMs uint64
	if !at.IsZero() && at.UnixMilli() > 0 {
		atMs = uint64(at.UnixMilli())
	}
	return r.propose(ctx, encodeDuplicated(entries, upTo, atMs))
}

// ReplicatedTime is, on a duplication follower, the replicated time stored
// with the data: every write the source acknowledged before it is applied
// here (zero when unknown).
func (r *Replica) ReplicatedTime() time.Time {
	if ms := r.fsm.ReplicatedMs(); ms > 0 {
		return time.UnixMilli(int64(ms))
	}
	return time.Time{}
}

// InstallBase replaces the partition's data, through raft, with a
// duplication base whose verified files are in dir, described by m (the
// source's manifest). Followers of this group receive it as a snapshot.
func (r *Replica) InstallBase(dir string, m *checkpoint.Manifest) error {
	if err := checkpoint.Verify(dir, m); err != nil {
		return err
	}
	local := *m
	local.Foreign, local.SourceDecree = true, m.Decree
	mb, err := json.MarshalIndent(&local, "", "  ")
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarBase(dir, &local, mb, pw)) }()
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: 0, Size: tarSize(&local, len(mb))}
	err = r.raft.Restore(meta, pr, 10*time.Minute)
	pr.Close()
	if err != nil {
		return fmt.Errorf("install base %s at source decree %d: %w", m.ID, m.Decree, err)
	}
	r.lg.Info("duplication base installed", zap.String("checkpoint", m.ID), zap.Uint64("source_decree", m.Decree), zap.Int64("bytes", m.TotalBytes))
	return nil
}

// tarBase streams the manifest (given as bytes) and the base's files.
func tarBase(dir string, m *checkpoint.Manifest, manifest []byte, w io.Writer) error {
	tw := tar.NewWriter(w)
	hdr := &tar.Header{Name: checkpoint.ManifestFile, Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := tarFileUSTAR(tw, filepath.Join(dir, f.Name), f.Size); err != nil {
			return err
		}
	}
	return tw.Close()
}

func tarFileUSTAR(tw *tar.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &tar.Header{Name: filepath.Base(path), Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, size)
	return err
}

// tarSize is the exact length of tarBase's USTAR stream: a 512-byte header
// and the content padded to 512 bytes per file, then two zero blocks.
func tarSize(m *checkpoint.Manifest, manifestLen int) int64 {
	pad := func(n int64) int64 { return (n + 511) / 512 * 512 }
	total := 512 + pad(int64(manifestLen))
	for _, f := range m.Files {
		total += 512 + pad(f.Size)
	}
	return total + 1024
}
