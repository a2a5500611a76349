package duplication

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The operator's commands on the source cluster (dup add, pause, start,
// rm, ls, show). Changes run on the meta leader (the server forwards them
// there): they change the metadata through Registry and talk to the
// remote cluster's Admin service; views assemble `dup show`.

// remoteCallTimeout bounds a call to a remote cluster.
const remoteCallTimeout = 15 * time.Second

// Table is a table of this cluster, as a duplication of it needs it.
type Table struct {
	Name       string
	Partitions uint32
	// ID is the cluster's id of the table (0: unknown); an archive seeds
	// a duplication only of the table it was taken of.
	ID uint64
}

// Find returns duplication id of table, or ErrDupNotFound.
func (n *Node) Find(table, id string) (Info, error) {
	if d, ok := n.cfg.Meta.Duplication(id); ok && d.Table == table {
		return d, nil
	}
	return Info{}, fmt.Errorf("duplication %s of table %q: %w", id, table, ErrDupNotFound)
}

// Add duplicates table t to the remote cluster at remoteAddr: it records
// the duplication, then asks the remote for the follower table. The record
// says adding until the remote has it; when the remote refuses or cannot
// be reached in time the record is removed again, so a failed `dup add`
// leaves nothing behind. A retry of the same request (Registry.Add) gets
// the duplication its first attempt added.
func (n *Node) Add(ctx context.Context, t Table, remoteAddr string) (*tpb.DuplicationInfo, error) {
	return n.AddFromArchive(ctx, t, remoteAddr, "")
}

// AddFromArchive is Add with the remote's bases taken from the table's
// archive at url (none when url is empty): the source checks the archive
// and holds its log after each partition's archived point first, and
// refuses with ErrRefused when it cannot.
func (n *Node) AddFromArchive(ctx context.Context, t Table, remoteAddr, url string) (*tpb.DuplicationInfo, error) {
	if err := CheckRemoteAddr(remoteAddr); err != nil {
		return nil, err
	}
	now := n.cfg.Now().UnixMilli()
	d, err := n.cfg.Registry.Add(ctx, Info{ID: fmt.Sprintf("%d", now), Table: t.Name, RemoteAddr: remoteAddr, State: StateAdding, CreatedAtMs: now})
	if err != nil {
		return nil, err
	}
	var seed []uint64
	if url != "" {
		seed, err = n.planSeed(ctx, t, d.ID, url)
	}
	cluster := ""
	if err == nil {
		cluster, err = n.createFollower(ctx, t, d, url, seed)
	}
	if err == nil && d.State == StateAdding {
		_, err = n.cfg.Registry.SetState(ctx, d.ID, StateActive)
		d.State = StateActive
	}
	if err != nil {
		// The caller may have given up already: clean up regardless.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rerr := n.cfg.Registry.Remove(cctx, d.ID)
		cancel()
		if rerr != nil {
			n.lg.Warn("could not remove the record of a failed dup add", zap.String("dup", d.ID), zap.Error(rerr))
		}
		return nil, err
	}
	d.RemoteCluster = cluster
	n.lg.Info("duplication added", zap.String("dup", d.ID), zap.String("table", t.Name), zap.String("remote", remoteAddr), zap.String("remote_cluster", cluster))
	return d.Proto(), nil
}

// CheckRemoteAddr refuses, with ErrBadRemoteAddr, what cannot be the
// address of a remote cluster's node.
func CheckRemoteAddr(addr string) error {
	if addr == "" || !strings.Contains(addr, ":") {
		return fmt.Errorf("%w: remote address %q: want HOST:PORT of a node of the remote cluster", ErrBadRemoteAddr, addr)
	}
	return nil
}

// remoteTimeout bounds a call to a remote cluster: remoteCallTimeout, and
// short of the caller's own deadline, so the caller hears why rather than
// a bare deadline and the node still has time to clean up.
func remoteTimeout(ctx context.Context) time.Duration {
	d := remoteCallTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(dl)-time.Second, time.Second))
	}
	return d
}

// createFollower asks the remote cluster for the follower table of d and
// records the remote cluster's name.
func (n *Node) createFollower(ctx context.Context, t Table, d Info, seedURL string, seed []uint64) (string, error) {
	conn, err := n.cfg.Dial(d.RemoteAddr)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrRemoteUnreachable, d.RemoteAddr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
	defer cancel()
	spec := &tpb.FollowerSpec{Table: t.Name, Partitions: t.Partitions, DupId: d.ID, SourceCluster: n.cfg.Cluster, SourceAddrs: n.sourceAddrs(),
		ArchiveUrl: seedURL, ArchiveDecrees: seed}
	resp, err := tpb.NewAdminClient(conn).CreateFollowerTable(cctx, spec)
	if err != nil {
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.AlreadyExists:
			if tpb.HasReason(st, tpb.ReasonDupCycle) {
				return "", fmt.Errorf("%w: %s", ErrCycle, strings.TrimPrefix(st.Message(), ErrCycle.Error()+": "))
			}
			return "", fmt.Errorf("%w: %s", ErrRemoteConflict, st.Message())
		case codes.Unavailable, codes.DeadlineExceeded:
			return "", fmt.Errorf("%w: no answer from %s within %s: %s", ErrRemoteUnreachable, d.RemoteAddr, remoteTimeout(ctx).Round(time.Second), st.Message())
		}
		return "", fmt.Errorf("remote %s: %s", d.RemoteAddr, st.Message())
	}
	if resp.Cluster == n.cfg.Cluster {
		n.lg.Warn("duplicating to a cluster with the same name", zap.String("cluster", resp.Cluster))
	}
	return resp.Cluster, n.cfg.Registry.SetRemoteCluster(ctx, d.ID, resp.Cluster)
}

// SetState pauses or starts duplication id.
func (n *Node) SetState(ctx context.Context, id string, state State) (*tpb.DuplicationInfo, error) {
	d, err := n.cfg.Registry.SetState(ctx, id, state)
	if err != nil {
		return nil, err
	}
	n.lg.Info("duplication state set", zap.String("dup", id), zap.String("state", string(state)))
	return d.Proto(), nil
}

// Remove drops duplication id of table (every node then releases its
// floors and base pins) and tells the remote to make its table writable.
// Run again after the remote did not answer, it only tells the remote.
func (n *Node) Remove(ctx context.Context, table, id string) (*tpb.DuplicationInfo, error) {
	d, err := n.Find(table, id)
	if remote, removed := n.cfg.Meta.RemovedRemote(id); err != nil && removed {
		// A retry of a removal whose answer was lost, or a second dup
		// rm after the remote was not reachable: the record is gone,
		// so only the remote's table may still need detaching.
		return n.detachRemote(ctx, Info{ID: id, Table: table, State: StateRemoved}, remote)
	}
	if err != nil {
		return nil, err
	}
	if err := n.cfg.Registry.Remove(ctx, id); err != nil {
		return nil, err
	}
	n.lg.Info("duplication removed", zap.String("dup", id))
	d.State = StateRemoved
	return n.detachRemote(ctx, d, d.RemoteAddr)
}

// detachRemote tells the remote cluster to make the follower table of a
// removed duplication writable.
func (n *Node) detachRemote(ctx context.Context, d Info, remote string) (*tpb.DuplicationInfo, error) {
	if remote == "" {
		return d.Proto(), nil
	}
	conn, err := n.cfg.Dial(remote)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
		_, err = tpb.NewAdminClient(conn).DetachFollower(cctx, &tpb.DetachFollowerRequest{Table: d.Table, DupId: d.ID})
		cancel()
	}
	if err != nil {
		n.lg.Warn("remote did not detach its follower table; it stays read-only until it is told", zap.String("dup", d.ID), zap.Error(err))
		return nil, status.Errorf(codes.Unavailable, "duplication %s is removed here, but the remote %s did not make its table writable: %v (run dup rm again when it is back)", d.ID, remote, err)
	}
	return d.Proto(), nil
}

// List describes the duplications of table ("" for every table), by id,
// each with its progress summary.
func (n *Node) List(ctx context.Context, table string) []*tpb.DuplicationInfo {
	var dups []Info
	for _, d := range n.cfg.Meta.Duplications() {
		if table == "" || d.Table == table {
			dups = append(dups, d)
		}
	}
	sort.Slice(dups, func(i, j int) bool { return dups[i].ID < dups[j].ID })
	out := make([]*tpb.DuplicationInfo, 0, len(dups))
	for _, d := range dups {
		info := d.Proto()
		parts := n.Status(ctx, d)
		Summarize(info, parts)
		info.RemoteNote = n.remoteNote(ctx, d, parts)
		out = append(out, info)
	}
	for _, p := range n.cfg.Meta.Promotions() {
		if table == "" || p.Table == table {
			out = append(out, n.failedOverInfo(p))
		}
	}
	return append(out, n.incomingRows(table)...)
}

// Show describes duplication id of table with every partition's progress.
func (n *Node) Show(ctx context.Context, table, id string) (*tpb.ShowDuplicationResponse, error) {
	d, err := n.Find(table, id)
	if err != nil {
		if p, ok := n.promotion(table); ok && p.DupID == id {
			return &tpb.ShowDuplicationResponse{Duplication: n.failedOverInfo(p)}, nil
		}
		if f, ok := n.follower(table); ok && f.DupID == id {
			return &tpb.ShowDuplicationResponse{Duplication: n.incomingInfo(f)}, nil
		}
		return nil, err
	}
	parts := n.Status(ctx, d)
	info := d.Proto()
	Summarize(info, parts)
	if info.RemoteNote = n.remoteNote(ctx, d, parts); info.RemoteNote != "" {
		for _, p := range parts {
			p.LastError = "the remote failed over (see above)"
		}
	}
	return &tpb.ShowDuplicationResponse{Duplication: info, Partitions: parts}, nil
}
