package duplication

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// An unplanned failover (dup promote, on the remote): the source is lost,
// so the follower table becomes writable where it is, from the replicated
// time it holds. Every partition leader first proposes an unfollow entry
// (no shipped batch still in flight applies after it, so none can land on
// top of the writes the table now takes) and reports the source decree
// and replicated time it ends with; then one metadata change makes the
// table writable and records the failover. The source, if it comes back,
// is told so when it asks (CheckFollower), and its `dup show` says why.

// reachTimeout bounds the check that the source cluster still answers.
const reachTimeout = 2 * time.Second

// Promote runs dup promote on the remote's meta leader.
func (n *Node) Promote(ctx context.Context, table string, force bool) (*tpb.PromoteResponse, error) {
	if p, ok := n.promotion(table); ok {
		return promoteResponse(p), nil // done already: a retry
	}
	f, ok := n.follower(table)
	if !ok {
		return nil, fmt.Errorf("%w: table %q of cluster %s is not a duplication's follower", ErrRefused, table, n.cfg.Cluster)
	}
	if !force {
		if addr, ok := n.sourceAnswers(ctx, f); ok {
			return nil, fmt.Errorf("%w: the source cluster %s answers at %s: move the primary with dup switchover there, or promote anyway with --force (writes the source takes after that are not here)",
				ErrRefused, f.SourceCluster, addr)
		}
	}
	resps, err := n.stepAllResp(ctx, n.sourceAddrs(), table, f.Partitions, tpb.DupStep_DUP_STEP_UNFOLLOW, "", nil)
	if err != nil {
		return nil, fmt.Errorf("promote %s: stop following: %w", table, err)
	}
	p := Promotion{Table: table, DupID: f.DupID, SourceCluster: f.SourceCluster, SourceAddrs: f.SourceAddrs, AtMs: n.cfg.Now().UnixMilli()}
	for i, r := range resps {
		p.SourceDecrees = append(p.SourceDecrees, r.Decree)
		if i == 0 || r.ReplicatedTimeUnixMs < p.ReplicatedMs {
			p.ReplicatedMs = r.ReplicatedTimeUnixMs
		}
	}
	if p, err = n.cfg.Registry.Promote(ctx, p); err != nil {
		return nil, err
	}
	n.lg.Info("follower table promoted", zap.String("table", table), zap.String("dup", f.DupID), zap.String("source", f.SourceCluster),
		zap.Int64("replicated_ms", p.ReplicatedMs), zap.Bool("force", force))
	return promoteResponse(p), nil
}

func promoteResponse(p Promotion) *tpb.PromoteResponse {
	return &tpb.PromoteResponse{Table: p.Table, DupId: p.DupID, SourceCluster: p.SourceCluster, ReplicatedTimeUnixMs: p.ReplicatedMs,
		PromotedAtUnixMs: p.AtMs, SourceDecrees: p.SourceDecrees}
}

func (n *Node) follower(table string) (Follower, bool) {
	for _, f := range n.cfg.Meta.Followers() {
		if f.Table == table {
			return f, true
		}
	}
	return Follower{}, false
}

func (n *Node) promotion(table string) (Promotion, bool) {
	for _, p := range n.cfg.Meta.Promotions() {
		if p.Table == table {
			return p, true
		}
	}
	return Promotion{}, false
}

// sourceAnswers reports whether a node of the source cluster answers a
// route query for the table, and which. The nodes are asked at once, so a
// lost source costs reachTimeout, not that per node.
func (n *Node) sourceAnswers(ctx context.Context, f Follower) (string, bool) {
	cctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	answers := make(chan string, len(f.SourceAddrs))
	for _, addr := range f.SourceAddrs {
		go func(addr string) {
			conn, err := n.cfg.Dial(addr)
			if err == nil {
				_, err = tpb.NewAdminClient(conn).Route(cctx, &tpb.RouteRequest{Table: f.Table})
			}
			if err == nil || status.Code(err) == codes.NotFound {
				answers <- addr
				return
			}
			answers <- ""
		}(addr)
	}
	for range f.SourceAddrs {
		if addr := <-answers; addr != "" {
			return addr, true
		}
	}
	return "", false
}

// CheckFollower answers a source's check of this cluster's follower table
// of duplication id: nil while it follows, ErrFailedOver once promoted.
func (n *Node) CheckFollower(table, id string) error {
	for _, p := range n.cfg.Meta.Promotions() {
		if p.Table == table && p.DupID == id {
			return fmt.Errorf("%w: cluster %s promoted its table %q (dup promote) at %s with replicated time %s; it will not pull again (dup rm %s %s on the source)",
				ErrFailedOver, n.cfg.Cluster, table, msText(p.AtMs), msText(p.ReplicatedMs), table, id)
		}
	}
	if f, ok := n.follower(table); ok && f.DupID == id {
		return nil
	}
	return fmt.Errorf("cluster %s has no table %q following duplication %s: %w", n.cfg.Cluster, table, id, ErrDupNotFound)
}

// msText formats unix ms as UTC with milliseconds, "unknown" for 0.
func msText(ms int64) string {
	if ms <= 0 {
		return "unknown"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// remoteNote asks the remote why it stopped pulling, when a partition has
// been silent: "" while it follows or does not answer.
func (n *Node) remoteNote(ctx context.Context, d Info, parts []*tpb.DupPartitionStatus) string {
	silent := false
	now := n.cfg.Now()
	for _, p := range parts {
		if p.LastContactUnixMs == 0 || now.Sub(time.UnixMilli(p.LastContactUnixMs)) > staleContact {
			silent = true
		}
	}
	if !silent || d.RemoteAddr == "" {
		return ""
	}
	conn, err := n.cfg.Dial(d.RemoteAddr)
	if err != nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	_, err = tpb.NewAdminClient(conn).CheckFollower(cctx, &tpb.DuplicationRequest{Table: d.Table, DupId: d.ID})
	if st, ok := status.FromError(err); ok && tpb.HasReason(st, tpb.ReasonFailedOver) {
		return strings.TrimPrefix(st.Message(), ErrFailedOver.Error()+": ")
	}
	return ""
}

// failedOverInfo is a promoted table's duplication as the remote shows it.
func (n *Node) failedOverInfo(p Promotion) *tpb.DuplicationInfo {
	info := &tpb.DuplicationInfo{Id: p.DupID, Table: p.Table, RemoteCluster: p.SourceCluster, State: string(StateFailedOver),
		StateCode: StateFailedOver.Proto(), ReplicatedTimeUnixMs: p.ReplicatedMs,
		RemoteNote: fmt.Sprintf("promoted at %s from cluster %s: writable here; writes the source acknowledged after the replicated time may be missing", msText(p.AtMs), p.SourceCluster)}
	if len(p.SourceAddrs) > 0 {
		info.RemoteAddr = p.SourceAddrs[0]
	}
	if p.ReplicatedMs > 0 {
		info.ReplicatedAgeSeconds = n.cfg.Now().Sub(time.UnixMilli(p.ReplicatedMs)).Seconds()
	}
	return info
}
