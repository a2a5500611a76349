package archive

import (
	"context"
	"sync"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// statusTimeout bounds how long `archive show` waits for one node.
const statusTimeout = 2 * time.Second

// LocalStatus reports the partitions of archive id this node leads.
func (n *Node) LocalStatus(id string) []*tpb.ArchivePartitionStatus {
	n.mu.Lock()
	var out []*tpb.ArchivePartitionStatus
	seen := map[uint32]bool{}
	for k, a := range n.archivers {
		if k.id == id {
			out = append(out, a.status())
			seen[k.p] = true
		}
	}
	n.mu.Unlock()
	info, ok := n.findByID(id)
	if !ok || info.State != StatePaused {
		return out
	}
	for _, r := range n.cfg.Replicas.All() {
		ri := r.Info()
		if ri.Table != info.Table || !r.IsLeader() || seen[ri.Partition] {
			continue
		}
		st := &tpb.ArchivePartitionStatus{Partition: ri.Partition, State: "PAUSED", ArchivedDecree: r.Confirmed()[FloorID(id)]}
		if t, ok := r.EntryTime(st.ArchivedDecree); ok {
			st.ArchivedTimeUnixMs = t.UnixMilli()
		}
		fillLag(st, r, n.cfg.Now())
		out = append(out, st)
	}
	return out
}

func (n *Node) findByID(id string) (Info, bool) {
	for _, a := range n.cfg.Meta.Archives() {
		if a.ID == id {
			return a, true
		}
	}
	return Info{}, false
}

// Status gathers every partition's status of an archive from the
// partition leaders; a partition no leader reported is UNKNOWN.
func (n *Node) Status(ctx context.Context, info Info) []*tpb.ArchivePartitionStatus {
	byPart := map[uint32]*tpb.ArchivePartitionStatus{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range n.cfg.Peers {
		wg.Add(1)
		go func(p Peer) {
			defer wg.Done()
			parts := n.peerStatus(ctx, p, info)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range parts {
				byPart[s.Partition] = s
			}
		}(p)
	}
	wg.Wait()
	out := make([]*tpb.ArchivePartitionStatus, info.Partitions)
	for i := range out {
		if s, ok := byPart[uint32(i)]; ok {
			if info.State == StatePaused {
				// This metadata says paused; a leader whose metadata lags
				// stops its uploads as soon as it learns it.
				s.State = "PAUSED"
			}
			out[i] = s
			continue
		}
		out[i] = &tpb.ArchivePartitionStatus{Partition: uint32(i), State: "UNKNOWN", LastError: "no partition leader answered"}
	}
	return out
}

func (n *Node) peerStatus(ctx context.Context, p Peer, info Info) []*tpb.ArchivePartitionStatus {
	if p.ID == n.cfg.NodeID {
		return n.LocalStatus(info.ID)
	}
	conn, err := n.cfg.Dial(p.Addr)
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	resp, err := tpb.NewAdminClient(conn).LocalArchiveStatus(cctx, &tpb.LocalArchiveStatusRequest{Table: info.Table, ArchiveId: info.ID})
	if err != nil {
		return nil
	}
	return resp.Partitions
}

// summarize fills an archive's worst lag, bytes and archived time (the
// oldest partition's) from its partitions.
func summarize(a *tpb.ArchiveInfo, parts []*tpb.ArchivePartitionStatus) {
	for i, p := range parts {
		a.MaxLagDecrees = max(a.MaxLagDecrees, p.LagDecrees)
		a.MaxLagSeconds = max(a.MaxLagSeconds, p.LagSeconds)
		a.UploadedBytes += p.UploadedBytes
		if i == 0 || p.ArchivedTimeUnixMs < a.ArchivedTimeUnixMs {
			a.ArchivedTimeUnixMs = p.ArchivedTimeUnixMs
		}
	}
}

// Proto is the archive as the Admin service shows it.
func (i Info) Proto() *tpb.ArchiveInfo {
	return &tpb.ArchiveInfo{Id: i.ID, Table: i.Table, Url: i.URL, State: string(i.State), CreatedAtUnixMs: i.CreatedAtMs}
}
