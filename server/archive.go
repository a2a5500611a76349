package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/archive"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Archive's wiring: the node hands the archive package its replicas and
// metadata through narrow adapters, like duplication's.

func init() {
	for _, k := range []configKey{
		{name: "archive.segment_bytes", def: "8388608", check: intRange(1, 1<<30),
			help: "archived log segment size: a segment is uploaded once it holds this many bytes of commands"},
		{name: "archive.segment_age", def: "10s", check: durationRange(10*time.Millisecond, 24*time.Hour),
			help: "archived log segment age: a segment is uploaded once its oldest entry is this old (the archive's RPO)"},
		{name: "archive.base_interval", def: "6h0m0s", check: durationRange(time.Second, 30*24*time.Hour),
			help: "how often each archived partition uploads a new base (only files the bucket lacks are sent)"},
		{name: "archive.retain_bases", def: "4", check: intRange(0, 10000),
			help: "bases each archived partition keeps in the bucket, with the log after the oldest (0 keeps every base)"},
	} {
		configKeys[k.name] = k
	}
	for _, m := range []string{tpb.Admin_ListArchives_FullMethodName, tpb.Admin_ShowArchive_FullMethodName, tpb.Admin_LocalArchiveStatus_FullMethodName} {
		methodRoles[m] = RoleRead
	}
	for _, m := range []string{tpb.Admin_AddArchive_FullMethodName, tpb.Admin_PauseArchive_FullMethodName, tpb.Admin_StartArchive_FullMethodName,
		tpb.Admin_RemoveArchive_FullMethodName, tpb.Admin_Restore_FullMethodName, tpb.Admin_RestorePartition_FullMethodName} {
		methodRoles[m] = RoleAdmin
	}
}

// archiveSettings is the archive's part of the runtime config.
func archiveSettings(overrides map[string]string) archive.Settings {
	get := func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return configKeys[k].def
	}
	n, _ := strconv.Atoi(get("archive.segment_bytes"))
	age, _ := time.ParseDuration(get("archive.segment_age"))
	base, _ := time.ParseDuration(get("archive.base_interval"))
	keep, _ := strconv.Atoi(get("archive.retain_bases"))
	return archive.Settings{SegmentBytes: n, SegmentAge: age, BaseInterval: base, RetainBases: keep}
}

// newArchive makes the node's archive work (started once the meta group
// is open).
func (n *Node) newArchive() (*archive.Node, error) {
	cfg := archive.DefaultConfig()
	cfg.NodeID = n.cfg.NodeID
	for _, p := range n.peers {
		cfg.Peers = append(cfg.Peers, archive.Peer{ID: p.ID, Addr: p.Addr})
	}
	cfg.Replicas, cfg.Meta, cfg.Registry = archiveReplicas{n}, archiveMeta{n}, archiveRegistry{n}
	cfg.Settings = func() archive.Settings { return archiveSettings(n.meta.configOverrides()) }
	cfg.Dial, cfg.Ready = n.dial, n.Ready
	cfg.Now, cfg.Logger = n.cfg.Now, n.lg
	return archive.NewNode(cfg)
}

// startArchive runs the node's archive work, told of every metadata change.
func (n *Node) startArchive() {
	n.meta.watch(n.archive.Changed)
	n.archive.Start()
}

// archiveReplicas adapts the node's replicas to archive.Replicas.
type archiveReplicas struct{ n *Node }

func (a archiveReplicas) Leader(table string, p uint32) (archive.Replica, error) {
	r, _, _, err := a.n.leaderFor(context.Background(), table, p, true, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a archiveReplicas) All() []archive.Replica {
	var out []archive.Replica
	for _, r := range a.n.localReplicas() {
		out = append(out, r)
	}
	return out
}

func (a archiveReplicas) Dir(group uint64) string { return a.n.replicaDir(group) }

// archiveMeta adapts the meta group's state to archive.Meta.
type archiveMeta struct{ n *Node }

func (m archiveMeta) Archive(table string) (archive.Info, bool) {
	for _, a := range m.n.meta.archives() {
		if a.Table == table {
			return m.info(a), true
		}
	}
	return archive.Info{}, false
}

func (m archiveMeta) Archives() []archive.Info {
	var out []archive.Info
	for _, a := range m.n.meta.archives() {
		out = append(out, m.info(a))
	}
	return out
}

func (m archiveMeta) Removed() []string { return m.n.meta.removedArchives() }

func (m archiveMeta) info(a *ArchiveMeta) archive.Info {
	info := archive.Info{ID: a.ID, Table: a.Table, URL: a.URL, State: a.State, CreatedAtMs: a.CreatedAtMs}
	if t, ok := m.n.meta.table(a.Table); ok {
		info.Partitions = t.Partitions
	}
	return info
}

// archiveRegistry applies the archive's metadata changes (on the meta
// leader).
type archiveRegistry struct{ n *Node }

func (r archiveRegistry) Add(ctx context.Context, a archive.Info) (archive.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &addArchiveCmd{Archive: &ArchiveMeta{ID: a.ID, Table: a.Table, URL: a.URL,
		State: a.State, CreatedAtMs: a.CreatedAtMs, RequestID: requestID(ctx)}})
	if err != nil {
		return archive.Info{}, err
	}
	return archiveMeta(r).info(res.Archive), nil
}

func (r archiveRegistry) SetState(ctx context.Context, table string, s archive.State) (archive.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &setArchiveStateCmd{Table: table, State: s})
	if err != nil {
		return archive.Info{}, err
	}
	return archiveMeta(r).info(res.Archive), nil
}

func (r archiveRegistry) Remove(ctx context.Context, table string) (archive.Info, error) {
	res, _, err := r.n.meta.apply(ctx, &removeArchiveCmd{Table: table})
	if err != nil {
		return archive.Info{}, err
	}
	return archiveMeta(r).info(res.Archive), nil
}

// archiveStatus translates the archive's sentinels at the gRPC edge (each
// with a reason the client maps back), then everything else as toStatus.
func archiveStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, archive.ErrPointUnreachable):
		return withReason(codes.OutOfRange, err.Error(), tpb.ReasonPointUnreachable)
	case errors.Is(err, archive.ErrCorrupt):
		return withReason(codes.DataLoss, err.Error(), tpb.ReasonArchiveCorrupt)
	case errors.Is(err, archive.ErrArchiveNotFound):
		return withReason(codes.NotFound, err.Error(), tpb.ReasonArchiveNotFound)
	case errors.Is(err, archive.ErrArchiveExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, archive.ErrBadURL):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, archive.ErrStoreUnavailable):
		return withReason(codes.Unavailable, err.Error(), tpb.ReasonArchiveUnavailable)
	}
	return toStatus(err)
}
