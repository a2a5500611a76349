package duplication

import (
	"context"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/checkpoint"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Base files a node already holds. A failback's base comes from a table
// that was itself restored from this cluster's base, so many of its SST
// files are byte for byte files this cluster's replicas of the partition
// still hold (live or in retained checkpoints). A puller takes a base file
// from the first of: its own replica (hard link), another node of its
// cluster (FetchPeerFile), the remote cluster (FetchFile). A reused file
// is trusted only once its CRC32C matches the manifest. See DESIGN.md.

// FileHolder is what base reuse needs of a partition replica: where its
// files are.
type FileHolder interface {
	// DataDir is the live RocksDB instance's directory.
	DataDir() string
	Catalog() *checkpoint.Catalog
}

// Reuse is how a puller finds base files without the remote cluster.
type Reuse struct {
	// Holder is the puller's own replica (nil: nothing reused locally).
	Holder FileHolder
	// Peers lists the addresses of this cluster's other nodes, asked for
	// the files still missing (nil: none asked).
	Peers func() []string
	// Metrics counts base bytes by where they came from (nil: not counted).
	Metrics *Metrics
}

// Where a base's bytes came from (the source label of
// tandem_duplication_base_bytes_total).
const (
	fromLocal  = "local"
	fromPeer   = "peer"
	fromRemote = "remote"
)

// baseFetch is one base's download: where the remote serves it, the
// bytes counted by where they came from (present: bytes a break left in
// the work dir, counted when they came), and the peers found down.
type baseFetch struct {
	src                          tpb.DuplicationClient
	ckpt                         string
	local, peer, remote, present int64
	down                         map[string]bool
}

func (p *Puller) tally(b *baseFetch, from string, n int64) {
	switch from {
	case fromLocal:
		b.local += n
	case fromPeer:
		b.peer += n
	case fromRemote:
		b.remote += n
	}
	if m := p.cfg.Reuse.Metrics; m != nil && n > 0 {
		m.baseLoaded.WithLabelValues(p.cfg.DupID, p.cfg.Table, from).Add(float64(n))
	}
}

// obtain puts base file f at path, reusing what this cluster holds before
// it asks the remote.
func (p *Puller) obtain(ctx context.Context, b *baseFetch, f checkpoint.FileInfo, path string) error {
	if complete(path, f) {
		p.addDone(f.Size)
		b.present += f.Size
		return nil
	}
	if reusable(f.Name) {
		if linkMatching(holderDirs(p.cfg.Reuse.Holder), f, path) {
			p.addDone(f.Size)
			p.tally(b, fromLocal, f.Size)
			return nil
		}
		if p.fetchFromPeers(ctx, b, f, path) {
			return nil
		}
	}
	n, err := p.fetchFile(ctx, b.src, b.ckpt, f, path)
	p.tally(b, fromRemote, n)
	return err
}

// complete reports whether path already holds f; a file that cannot be
// (too long, or whole with the wrong checksum) is removed.
func complete(path string, f checkpoint.FileInfo) bool {
	st, err := os.Stat(path)
	if err != nil || st.Size() < f.Size {
		return false
	}
	if st.Size() == f.Size && fileCRC(path) == f.CRC32C {
		return true
	}
	os.Remove(path)
	return false
}

// reusable reports whether a base file may come from another copy than
// the remote's: only SST files, which RocksDB never changes once written
// (a live MANIFEST or OPTIONS file of the same name could change under a
// hard link).
func reusable(name string) bool { return strings.HasSuffix(name, ".sst") }

// holderDirs lists where h's files are: the live data first, then its
// retained checkpoints, newest first (nil h: none).
func holderDirs(h FileHolder) []string {
	if h == nil {
		return nil
	}
	dirs := []string{h.DataDir()}
	views := h.Catalog().List()
	for i := len(views) - 1; i >= 0; i-- {
		dirs = append(dirs, views[i].Dir)
	}
	return dirs
}

// linkMatching hard-links into path the first file named f.Name in dirs
// with f's size and checksum, and reports whether it found one. The
// checksum is read through the link, so a file compacted away meanwhile is
// either linked whole or not at all.
func linkMatching(dirs []string, f checkpoint.FileInfo, path string) bool {
	tmp := path + ".link"
	for _, d := range dirs {
		cand := filepath.Join(d, f.Name)
		if st, err := os.Stat(cand); err != nil || st.Size() != f.Size {
			continue
		}
		os.Remove(tmp)
		if os.Link(cand, tmp) != nil {
			continue
		}
		if crc, size, err := checkpoint.FileCRC32C(tmp); err == nil && size == f.Size && crc == f.CRC32C {
			if os.Rename(tmp, path) == nil {
				return true
			}
		}
		os.Remove(tmp)
	}
	return false
}

// openMatching opens the first file named f.Name in dirs with f's size and
// checksum. The open file stays readable whole even if compaction deletes
// its name while it is served.
func openMatching(dirs []string, f checkpoint.FileInfo) *os.File {
	for _, d := range dirs {
		fh, err := os.Open(filepath.Join(d, f.Name))
		if err != nil {
			continue
		}
		if st, err := fh.Stat(); err == nil && st.Size() == f.Size {
			h := crc32.New(castagnoliTable)
			if n, err := io.Copy(h, io.NewSectionReader(fh, 0, f.Size)); err == nil && n == f.Size && h.Sum32() == f.CRC32C {
				return fh
			}
		}
		fh.Close()
	}
	return nil
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// fetchFromPeers fetches f from the first other node of this cluster that
// holds it, and reports whether one did.
func (p *Puller) fetchFromPeers(ctx context.Context, b *baseFetch, f checkpoint.FileInfo, path string) bool {
	if p.cfg.Reuse.Peers == nil {
		return false
	}
	for _, addr := range p.cfg.Reuse.Peers() {
		if b.down[addr] {
			continue
		}
		n, err := p.fetchFromPeer(ctx, addr, f, path)
		p.tally(b, fromPeer, n)
		if err == nil {
			return true
		}
		if code := status.Code(err); code != codes.NotFound {
			// The next peer or the remote serves it; a peer that is down
			// or too old is not asked again for this base.
			p.lg.Info("peer did not serve a base file", zap.String("peer", addr), zap.String("file", f.Name), zap.Error(err))
			if code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Unimplemented {
				b.down[addr] = true
			}
		}
		if ctx.Err() != nil {
			return false
		}
	}
	return false
}

// peerTimeout bounds one file from a peer: a stopped peer must not hold
// the base back (the remote has every file).
func peerTimeout(size int64) time.Duration {
	return 30*time.Second + time.Duration(size>>20)*time.Second
}

// fetchFromPeer fetches f from the peer at addr into path, resuming a
// partial file, and returns the bytes it received.
func (p *Puller) fetchFromPeer(ctx context.Context, addr string, f checkpoint.FileInfo, path string) (int64, error) {
	conn, err := p.cfg.Dial(addr)
	if err != nil {
		return 0, status.Error(codes.Unavailable, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout(f.Size))
	defer cancel()
	var offset int64
	if st, err := os.Stat(path); err == nil {
		offset = st.Size()
	}
	stream, err := tpb.NewDuplicationClient(conn).FetchPeerFile(ctx, &tpb.FetchPeerFileRequest{Table: p.cfg.Table,
		Partition: p.cfg.Partition, Name: f.Name, Size: f.Size, Crc32C: f.CRC32C, Offset: offset})
	if err != nil {
		return 0, err
	}
	return p.receiveChecked(stream, path, offset, f, addr)
}

// FetchPeerFile serves a puller of this cluster a file of this node's
// replica of the partition, from its live data or a retained checkpoint,
// only when name, size and CRC32C all match. It reveals nothing the asker
// did not know already (it names the checksum), so it needs no
// duplication: the follower table's metadata may lag on this node.
func (s *Source) FetchPeerFile(req *tpb.FetchPeerFileRequest, stream tpb.Duplication_FetchPeerFileServer) error {
	if !checkpoint.PlainName(req.Name) || !reusable(req.Name) || req.Size < 0 || req.Offset < 0 || req.Offset > req.Size {
		return status.Errorf(codes.InvalidArgument, "no peer file %q of %d bytes at offset %d", req.Name, req.Size, req.Offset)
	}
	r, ok := s.cfg.Replicas.Local(req.Table, req.Partition)
	if !ok {
		return status.Errorf(codes.NotFound, "no replica of %s/%d on %s", req.Table, req.Partition, s.cfg.NodeID)
	}
	fh := openMatching(holderDirs(r), checkpoint.FileInfo{Name: req.Name, Size: req.Size, CRC32C: req.Crc32C})
	if fh == nil {
		return status.Errorf(codes.NotFound, "%s/%d on %s holds no %s of %d bytes crc %08x", req.Table, req.Partition, s.cfg.NodeID, req.Name, req.Size, req.Crc32C)
	}
	defer fh.Close()
	_, err := sendOpen(fh, req.Offset, req.Size, stream)
	return err
}

// peersOf lists cfg's cluster's nodes now (Config.Members), or the nodes
// it started with.
func peersOf(cfg *Config) []Peer {
	if cfg.Members != nil {
		if m := cfg.Members(); len(m) > 0 {
			return m
		}
	}
	return cfg.Peers
}

// otherNodes lists the addresses of this cluster's other nodes: a puller
// asks them for base files its own replica lacks.
func (f *followers) otherNodes() []string {
	var out []string
	for _, p := range peersOf(f.cfg) {
		if p.ID != f.cfg.NodeID && p.Addr != "" {
			out = append(out, p.Addr)
		}
	}
	return out
}

// basePurpose is the checkpoint purpose of a base for duplication d. A
// duplication back to this table's old source (dup resync) takes its base
// as the data is (PurposeFailback): the old source holds many of its
// files, and settling compactions first would replace them.
func basePurpose(d Info) checkpoint.Purpose {
	if d.ReverseOf != "" {
		return checkpoint.PurposeFailback
	}
	return checkpoint.PurposeDuplication
}
