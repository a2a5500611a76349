package duplication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// bootstrap pulls a new base and installs it through the replica's group.
func (p *Puller) bootstrap(ctx context.Context) error {
	p.setState(PartitionPrepare)
	src, addr, err := p.leader.client(ctx)
	if err != nil {
		return err
	}
	resp, err := src.Prepare(ctx, &tpb.PrepareRequest{DupId: p.cfg.DupID, Table: p.cfg.Table, Partition: p.cfg.Partition, Report: p.report()})
	if err != nil {
		return fmt.Errorf("prepare base at %s: %w", addr, err)
	}
	p.leader.ok()
	m, err := checkpoint.DecodeManifest(resp.Manifest)
	if err != nil {
		return err
	}
	if m.Decree != resp.Decree || m.ID != resp.CheckpointId {
		return fmt.Errorf("%w: base %s answer and manifest disagree", checkpoint.ErrInvalid, resp.CheckpointId)
	}
	p.setState(PartitionApp)
	dir := filepath.Join(p.cfg.WorkDir, m.ID)
	b := &baseFetch{src: src, ckpt: m.ID, down: map[string]bool{}}
	if err := p.download(ctx, b, m, dir); err != nil {
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
	p.lg.Info("duplication base loaded", zap.String("checkpoint", m.ID), zap.Uint64("source_decree", m.Decree), zap.Int64("bytes", m.TotalBytes),
		zap.Int64("remote_bytes", b.remote), zap.Int64("local_bytes", b.local), zap.Int64("peer_bytes", b.peer), zap.Int64("present_bytes", b.present))
	return nil
}

// download puts every file of m into dir, skipping files already there
// with the right checksum, reusing SST files this cluster holds (reuse.go)
// and fetching the rest from the remote, resuming partial ones.
func (p *Puller) download(ctx context.Context, b *baseFetch, m *checkpoint.Manifest, dir string) error {
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
		if err := p.obtain(ctx, b, f, filepath.Join(dir, f.Name)); err != nil {
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

// fetchFile fetches f from the remote into path, resuming a partial file
// (obtain removed one that cannot be a prefix of f), and returns the bytes
// it received.
func (p *Puller) fetchFile(ctx context.Context, src tpb.DuplicationClient, ckpt string, f checkpoint.FileInfo, path string) (int64, error) {
	offset := int64(0)
	if st, err := os.Stat(path); err == nil && st.Size() <= f.Size {
		offset = st.Size() // resume after a break
	}
	p.addDone(offset)
	stream, err := src.FetchFile(ctx, &tpb.FetchFileRequest{DupId: p.cfg.DupID, Table: p.cfg.Table, Partition: p.cfg.Partition,
		CheckpointId: ckpt, Name: f.Name, Offset: uint64(offset), Report: p.report()})
	if err != nil {
		return 0, err
	}
	return p.receiveChecked(stream, path, offset, f, "")
}

// receiveChecked receives f's bytes from offset on into path and checks
// the whole file's CRC32C against the manifest (a mismatch removes it);
// it returns the bytes received. from names a peer the file came from.
func (p *Puller) receiveChecked(stream tpb.Duplication_FetchFileClient, path string, offset int64, f checkpoint.FileInfo, from string) (int64, error) {
	err := p.receive(stream, path, offset, f.Size)
	got := int64(0)
	if st, serr := os.Stat(path); serr == nil {
		got = st.Size() - offset
	}
	if err != nil {
		return got, err
	}
	if crc := fileCRC(path); crc != f.CRC32C {
		os.Remove(path)
		if from != "" {
			from = " from peer " + from
		}
		return got, fmt.Errorf("%w: %s%s: crc %08x, manifest says %08x; removed, will fetch again", checkpoint.ErrInvalid, f.Name, from, crc, f.CRC32C)
	}
	return got, nil
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
	crc, _, err := checkpoint.FileCRC32C(path)
	if err != nil {
		return 0
	}
	return crc
}
