package duplication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// Failback after an unplanned failover (dup resync TABLE DUPID), run on
// the old source once it is back and its remote was promoted:
//
//  1. the new primary (AcceptResync) checks that its table is failed over
//     from duplication DUPID and reads each partition's source decree S_p
//     (the last decree of this cluster it applied, kept by its replicas);
//  2. every partition leader here fences its partition (no client write
//     applies after the fence) and returns the client mutations of its log
//     after S_p, a page at a time: writes this cluster acknowledged that
//     the new primary never applied. The duplication's floor kept that
//     log; if it is gone the resync is refused and the partitions are
//     unfenced, leaving everything as it was;
//  3. they are written, synced, to a JSON lines file under this (the meta
//     leader's) data directory before anything is given up; the new
//     primary records the file, its node and counts on the duplication
//     back (dup show names them);
//  4. every partition forgets its source decree; the new primary records a
//     duplication from itself back to this cluster (ending its promotion
//     record), and in one metadata change duplication DUPID is removed
//     and the table becomes the new duplication's follower: its pullers
//     load a base from the new primary (reusing the SST files this
//     cluster still holds, reuse.go) and then follow its log.
//
// It runs here, not on the new primary, because everything it must save
// lives here (the log after S_p, the data directory the file goes to) and
// it is this cluster's table that is replaced: the operator acts on the
// cluster that gives its state up. Every step is idempotent: run again
// after an error, it resumes (the fence and the floor keep the divergent
// log exactly as it was, so the file is rewritten identical).

// divergeEntryOverhead is what an entry adds to a page besides its
// command (decree, time, field tags).
const divergeEntryOverhead = 32

// Resync runs dup resync on the old source's meta leader.
func (n *Node) Resync(ctx context.Context, table, id string) (*tpb.ResyncResponse, error) {
	d, err := n.resyncable(table, id)
	if err != nil {
		return nil, err
	}
	acc, err := n.acceptResyncRemote(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	resps, err := n.divergeAll(ctx, d, acc.SourceDecrees)
	if err != nil {
		return nil, err
	}
	div, err := writeDivergence(n.cfg.DataDir, table, id, resps, n.divergePager(ctx, d))
	if err != nil {
		return nil, fmt.Errorf("resync %s: %w (run dup resync again to resume)", id, err)
	}
	if _, err := n.stepAll(ctx, n.sourceAddrs(), table, d.Partitions, tpb.DupStep_DUP_STEP_REBASE, "", nil); err != nil {
		return nil, fmt.Errorf("resync %s: rebase: %w (run dup resync again to resume)", id, err)
	}
	saved := &Divergence{File: div.path, Node: n.cfg.NodeID, Cluster: n.cfg.Cluster, Entries: div.entries, Mutations: div.mutations,
		Bytes: div.bytes, AtMs: n.cfg.Now().UnixMilli(), FromDup: id}
	if acc, err = n.acceptResyncRemote(ctx, d, saved); err != nil {
		return nil, err
	}
	f := Follower{Table: table, DupID: acc.NewDupId, SourceCluster: acc.Cluster, SourceAddrs: acc.Addrs, Partitions: d.Partitions}
	if err := n.cfg.Registry.CompleteSwitchover(ctx, id, f); err != nil {
		return nil, err
	}
	n.lg.Info("resync done: table follows the new primary", zap.String("table", table), zap.String("old_dup", id),
		zap.String("new_dup", acc.NewDupId), zap.String("new_primary", acc.Cluster), zap.String("divergence_file", div.path),
		zap.Uint64("divergent_entries", div.entries), zap.Uint64("divergent_mutations", div.mutations))
	resp := &tpb.ResyncResponse{Table: table, OldDupId: id, NewDupId: acc.NewDupId, NewPrimaryCluster: acc.Cluster, NewPrimaryAddrs: acc.Addrs,
		DivergenceFile: div.path, DivergenceNode: n.cfg.NodeID, DivergentEntries: div.entries, DivergentMutations: div.mutations,
		DivergenceBytes: div.bytes, SourceDecrees: acc.SourceDecrees}
	for _, r := range resps {
		resp.FenceDecrees = append(resp.FenceDecrees, r.Decree)
	}
	return resp, nil
}

// divergeAll fences every partition and reads its divergent log's first
// page. When a partition refuses (its log after the source decree is
// gone), every partition takes writes again: the refused resync
// leaves the table as it found it (nothing was recorded anywhere yet).
func (n *Node) divergeAll(ctx context.Context, d Info, after []uint64) ([]*tpb.DupStepResponse, error) {
	resps, err := n.stepAllResp(ctx, n.sourceAddrs(), d.Table, d.Partitions, tpb.DupStep_DUP_STEP_DIVERGE, "", after)
	if err == nil {
		return resps, nil
	}
	st, _ := status.FromError(errors.Unwrap(err))
	if !errors.Is(err, ErrRefused) && !tpb.HasReason(st, tpb.ReasonDupRefused) {
		return nil, fmt.Errorf("resync %s: read the divergent log: %w (run dup resync again to resume)", d.ID, err)
	}
	if _, uerr := n.stepAll(ctx, n.sourceAddrs(), d.Table, d.Partitions, tpb.DupStep_DUP_STEP_UNFENCE, "", nil); uerr != nil {
		n.lg.Warn("resync refused, and the table's partitions could not all be unfenced", zap.String("dup", d.ID), zap.Error(uerr))
	}
	return nil, fmt.Errorf("%w: resync %s: %s", ErrRefused, d.ID, trimSentinel(st.Message(), ErrRefused))
}

// resyncable returns duplication id of table when a resync may run: it
// exists and is the table's only one (the table becomes a follower, and a
// follower does not ship onward).
func (n *Node) resyncable(table, id string) (Info, error) {
	d, err := n.Find(table, id)
	if err != nil {
		if _, removed := n.cfg.Meta.RemovedRemote(id); removed {
			return Info{}, fmt.Errorf("%w: duplication %s of table %q was removed (resynced already? see dup ls %s)", ErrDupNotFound, id, table, table)
		}
		return Info{}, err
	}
	if n.cfg.DataDir == "" {
		return Info{}, fmt.Errorf("%w: this node has no data directory for the divergence file", ErrRefused)
	}
	for _, o := range n.cfg.Meta.Duplications() {
		if o.Table == table && o.ID != id {
			return Info{}, fmt.Errorf("%w: table %q also duplicates to %s (duplication %s); remove it first: a resynced table is a follower and cannot feed it",
				ErrRefused, table, o.RemoteAddr, o.ID)
		}
	}
	return d, nil
}

// divergePager reads a partition's next page of divergent log (the fence
// is in place: DIVERGE keeps it and reads after the decree given).
func (n *Node) divergePager(ctx context.Context, d Info) pageFunc {
	return func(p uint32, after uint64) (*tpb.DupStepResponse, error) {
		return n.stepPartition(ctx, n.sourceAddrs(), &tpb.DupStepRequest{Table: d.Table, Partition: p, Step: tpb.DupStep_DUP_STEP_DIVERGE, Decree: after})
	}
}

// acceptResyncRemote asks the new primary for its part (saved nil: the
// check and the source decrees only; else record the duplication back,
// naming the divergence saved), at each of its nodes in turn while they
// do not answer.
func (n *Node) acceptResyncRemote(ctx context.Context, d Info, saved *Divergence) (*tpb.AcceptResyncResponse, error) {
	req := &tpb.AcceptResyncRequest{Table: d.Table, DupId: d.ID, Cluster: n.cfg.Cluster, Addrs: n.sourceAddrs(), Partitions: d.Partitions,
		Record: saved != nil, Divergence: saved.Proto()}
	var last error
	for _, addr := range append([]string{d.RemoteAddr}, d.RemoteAddrs...) {
		resp, err := n.acceptResyncAt(ctx, addr, req)
		if err == nil {
			if len(resp.SourceDecrees) != int(d.Partitions) {
				return nil, fmt.Errorf("%w: the new primary answered %d source decrees for %d partitions", ErrRefused, len(resp.SourceDecrees), d.Partitions)
			}
			return resp, nil
		}
		if last = err; !errors.Is(err, ErrRemoteUnreachable) || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// acceptResyncAt asks the new primary's node at addr, keeping its refusal
// typed.
func (n *Node) acceptResyncAt(ctx context.Context, addr string, req *tpb.AcceptResyncRequest) (*tpb.AcceptResyncResponse, error) {
	conn, err := n.cfg.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRemoteUnreachable, addr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
	defer cancel()
	resp, err := tpb.NewAdminClient(conn).AcceptResync(cctx, req)
	if err == nil {
		return resp, nil
	}
	st, _ := status.FromError(err)
	switch {
	case st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded:
		return nil, fmt.Errorf("%w: the new primary at %s does not answer: %s (nothing changed here; run dup resync again when it does)", ErrRemoteUnreachable, addr, st.Message())
	case tpb.HasReason(st, tpb.ReasonDupRefused):
		return nil, fmt.Errorf("%w: %s", ErrRefused, trimSentinel(st.Message(), ErrRefused))
	case st.Code() == codes.NotFound:
		return nil, fmt.Errorf("%w: the remote at %s: %s", ErrDupNotFound, addr, st.Message())
	}
	return nil, fmt.Errorf("resync %s: remote %s: %s", req.DupId, addr, st.Message())
}

// trimSentinel drops a sentinel's text the remote's message starts with.
func trimSentinel(msg string, sentinel error) string {
	if p := sentinel.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

// AcceptResync runs on the new primary's meta leader: it checks that its
// table is promoted from duplication req.DupId and reads the source
// decrees; with req.Record, the table duplicates back to the old source,
// which asked. Done already, it answers the same.
func (n *Node) AcceptResync(ctx context.Context, req *tpb.AcceptResyncRequest) (*tpb.AcceptResyncResponse, error) {
	d, done := n.resyncedDup(req.Table, req.DupId)
	if !done {
		if err := n.checkFailedOver(req); err != nil {
			return nil, err
		}
	}
	// The promoted partitions keep the source decree they stopped at.
	decrees, err := n.stepAll(ctx, n.sourceAddrs(), req.Table, req.Partitions, tpb.DupStep_DUP_STEP_UNFOLLOW, "", nil)
	if err != nil {
		return nil, fmt.Errorf("resync %s: read the source decrees: %w", req.DupId, err)
	}
	if !done && req.Record {
		now := n.cfg.Now().UnixMilli()
		d = Info{ID: fmt.Sprintf("%d", now), Table: req.Table, RemoteAddr: req.Addrs[0], RemoteAddrs: req.Addrs[1:], RemoteCluster: req.Cluster,
			State: StateActive, CreatedAtMs: now, ReverseOf: req.DupId, Partitions: req.Partitions, Divergence: DivergenceFromProto(req.Divergence)}
		if d, err = n.cfg.Registry.AcceptResync(ctx, req.Table, req.DupId, d); err != nil {
			return nil, err
		}
		n.lg.Info("resync accepted: duplicating back to the old source", zap.String("table", req.Table), zap.String("from_dup", req.DupId),
			zap.String("new_dup", d.ID), zap.String("old_source", req.Cluster))
	}
	return &tpb.AcceptResyncResponse{NewDupId: d.ID, Cluster: n.cfg.Cluster, Addrs: n.sourceAddrs(), SourceDecrees: decrees}, nil
}

// resyncedDup finds the duplication an earlier AcceptResync recorded.
func (n *Node) resyncedDup(table, fromDup string) (Info, bool) {
	for _, d := range n.cfg.Meta.Duplications() {
		if d.ReverseOf == fromDup && d.Table == table {
			return d, true
		}
	}
	return Info{}, false
}

// checkFailedOver refuses a resync into a table that is not failed over
// from the duplication.
func (n *Node) checkFailedOver(req *tpb.AcceptResyncRequest) error {
	if len(req.Addrs) == 0 || req.Partitions == 0 {
		return fmt.Errorf("%w: a resync request needs the old source's addresses and partition count", ErrRefused)
	}
	if f, ok := n.follower(req.Table); ok && f.DupID == req.DupId {
		return fmt.Errorf("%w: table %q of cluster %s still follows duplication %s (it was not promoted): nothing to resync; move the primary with dup switchover",
			ErrRefused, req.Table, n.cfg.Cluster, req.DupId)
	}
	p, ok := n.promotion(req.Table)
	if !ok || p.DupID != req.DupId {
		return fmt.Errorf("%w: table %q of cluster %s is not failed over from duplication %s (dup promote makes it so)", ErrRefused, req.Table, n.cfg.Cluster, req.DupId)
	}
	return nil
}

// diverge fences a partition of the old source and returns a page of the
// client mutations of its log after decree after: writes acknowledged here
// that the new primary never applied. The fence decree is the answer's
// decree. A page holds about DivergePageBytes (at least one entry when any
// is left); the caller asks again after its last entry until a page is
// empty, so a divergence of any size travels (the fence stays in place).
func (n *Node) diverge(ctx context.Context, r Replica, after uint64) (*tpb.DupStepResponse, error) {
	fence, err := r.Fence(ctx)
	if err != nil {
		return nil, n.cfg.ToStatus(err)
	}
	resp := &tpb.DupStepResponse{Decree: fence}
	size := 0
	for from := after + 1; from <= r.Applied() && size < n.cfg.DivergePageBytes; {
		entries, upTo, err := r.ReadLog(from, n.cfg.DivergePageBytes-size)
		if errors.Is(err, replica.ErrLogGone) {
			return nil, refusedStatus(fmt.Errorf("%w: partition %d: the log after decree %d is gone (%v): the divergent writes cannot be read out (comparing the data instead is not built)",
				ErrRefused, r.Info().Partition, after, err))
		}
		if err != nil {
			return nil, n.cfg.ToStatus(err)
		}
		for _, e := range entries {
			size += len(e.Command) + divergeEntryOverhead
			resp.Entries = append(resp.Entries, &tpb.WalEntry{Decree: e.Decree, Command: e.Command, AppendedAtUnixMs: e.AppendedAt.UnixMilli()})
		}
		if upTo < from {
			break
		}
		from = upTo + 1
	}
	return resp, nil
}

// refusedStatus is a partition step's refusal as the meta leader reads
// it: final (stepPartition does not retry it) and typed, whatever the
// node's own translation of errors.
func refusedStatus(err error) error {
	st := status.New(codes.FailedPrecondition, err.Error())
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: tpb.ErrorDomain, Reason: tpb.ReasonDupRefused}); derr == nil {
		st = d
	}
	return st.Err()
}

// ResyncFrom runs dup resync TABLE OLD_SOURCE_ADDR on the promoted table's
// cluster (its meta leader): the duplication is the one the table was
// promoted from, and the old source at addr runs the resync (Resync), which
// calls back here (AcceptResync). Refused (ErrRefused) when the table was
// not promoted; an old source that does not answer is ErrRemoteUnreachable
// with nothing changed; its own refusals come back as it gave them.
func (n *Node) ResyncFrom(ctx context.Context, table, addr string) (*tpb.ResyncResponse, error) {
	p, ok := n.promotion(table)
	if !ok {
		return nil, fmt.Errorf("%w: table %q of cluster %s was not promoted (dup promote): there is no old source to fail back", ErrRefused, table, n.cfg.Cluster)
	}
	conn, err := n.cfg.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRemoteUnreachable, addr, err)
	}
	if !connected(ctx, conn, oldSourceWait) {
		return nil, fmt.Errorf("%w: the old source at %s does not answer (nothing changed; run dup resync again when it does)", ErrRemoteUnreachable, addr)
	}
	n.lg.Info("resync asked of the old source", zap.String("table", table), zap.String("dup", p.DupID), zap.String("old_source", addr))
	resp, err := tpb.NewAdminClient(conn).ResyncDuplication(ctx, &tpb.ResyncRequest{Table: table, DupId: p.DupID})
	if err == nil {
		return resp, nil
	}
	if st, _ := status.FromError(err); st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
		return nil, fmt.Errorf("%w: the old source at %s does not answer: %s (nothing changed; run dup resync again when it does)", ErrRemoteUnreachable, addr, st.Message())
	}
	return nil, err
}

// oldSourceWait bounds how long ResyncFrom waits for the old source's
// node to accept a connection.
const oldSourceWait = 5 * time.Second

// connected waits at most d until conn is connected. The old source was
// down (that is why the table was promoted): gRPC backs off from a node it
// failed to reach, up to minutes, and a call in the backoff fails at once,
// so a node that is back is dialed again now rather than then.
func connected(ctx context.Context, conn *grpc.ClientConn, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		switch s {
		case connectivity.Ready:
			return true
		case connectivity.TransientFailure:
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return false
			}
			conn.ResetConnectBackoff()
		}
		if !conn.WaitForStateChange(ctx, s) {
			return false
		}
	}
}
