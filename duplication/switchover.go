package duplication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// A planned switchover moves a table's primary to its duplication's remote
// with no acknowledged write lost and no base transfer back:
//
//  1. the source records the duplication as switching (nodes refuse
//     writes to the table, naming the remote) and every source partition
//     leader proposes a fence entry F_p: client mutations after it are
//     refused by every replica's FSM, so nothing acknowledged lies beyond;
//  2. the source waits until the remote confirmed F_p on every partition;
//  3. the remote (AcceptSwitchover) unfences its partitions, takes each
//     partition's applied decree X_p as the start of the reversed
//     duplication and holds its log after it (the floor), then in one
//     metadata change detaches its follower table (writable now) and
//     records the reversed duplication;
//  4. each source partition resumes as a follower from X_p (both sides
//     hold the same data there: entries the remote applied after the
//     batch reaching F_p are shipped ones, never shipped back), and in one
//     change the source removes the duplication and makes its table the
//     follower of the reversed one, which pulls in LOG from X_p + 1.
//
// Every step is idempotent, so after a crash or a kill -9 the command is
// run again and resumes. Running it on the other side switches back.

// stepRetry is the pause between attempts of a partition step.
const stepRetry = 50 * time.Millisecond

// Switchover runs dup switchover on the source's meta leader.
func (n *Node) Switchover(ctx context.Context, table, id string) (*tpb.SwitchoverResponse, error) {
	d, err := n.Find(table, id)
	if err != nil {
		return nil, err
	}
	if err := n.switchoverReady(ctx, d); err != nil {
		return nil, err
	}
	if d.State != StateSwitching {
		if d, err = n.cfg.Registry.SetState(ctx, id, StateSwitching); err != nil {
			return nil, err
		}
		n.lg.Info("switchover: table fenced in the metadata", zap.String("dup", id), zap.String("table", table))
	}
	fences, err := n.stepAll(ctx, n.sourceAddrs(), table, d.Partitions, tpb.DupStep_DUP_STEP_FENCE, "", nil)
	if err != nil {
		return nil, fmt.Errorf("switchover %s: fence: %w", id, err)
	}
	if err := n.waitConfirmed(ctx, d, fences); err != nil {
		return nil, err
	}
	acc, err := n.acceptRemote(ctx, d)
	if err != nil {
		return nil, err
	}
	if _, err := n.stepAll(ctx, n.sourceAddrs(), table, d.Partitions, tpb.DupStep_DUP_STEP_FOLLOW, "", acc.StartDecrees); err != nil {
		return nil, fmt.Errorf("switchover %s: follow the reversed duplication: %w", id, err)
	}
	f := Follower{Table: table, DupID: acc.ReverseDupId, SourceCluster: acc.Cluster, SourceAddrs: acc.Addrs, Partitions: d.Partitions, SwitchedFrom: id}
	if err := n.cfg.Registry.CompleteSwitchover(ctx, id, f); err != nil {
		return nil, err
	}
	n.lg.Info("switchover done", zap.String("dup", id), zap.String("table", table), zap.String("new_primary", acc.Cluster),
		zap.String("reverse_dup", acc.ReverseDupId))
	d.State = StateRemoved
	return &tpb.SwitchoverResponse{Duplication: d.Proto(), ReverseDupId: acc.ReverseDupId, NewPrimaryCluster: acc.Cluster,
		NewPrimaryAddrs: acc.Addrs, FenceDecrees: fences, StartDecrees: acc.StartDecrees}, nil
}

// switchoverReady refuses a switchover that cannot run: a paused or still
// added duplication, or (before the fence) a partition not shipping its log.
func (n *Node) switchoverReady(ctx context.Context, d Info) error {
	switch d.State {
	case StateSwitching:
		return nil // a resumed switchover: the fence is in place
	case StatePaused:
		return fmt.Errorf("%w: duplication %s is paused; dup start it first (a switchover must catch the remote up)", ErrRefused, d.ID)
	case StateAdding:
		return fmt.Errorf("%w: duplication %s is still being added", ErrRefused, d.ID)
	}
	for _, o := range n.cfg.Meta.Duplications() {
		if o.Table == d.Table && o.ID != d.ID {
			// The table would become a follower feeding the other remote:
			// a chain would work (followers ship onward), but a switch
			// back from there is refused; kept simple: remove it first.
			return fmt.Errorf("%w: table %q also duplicates to %s (duplication %s); remove it first: a switched-over table cannot feed it",
				ErrRefused, d.Table, o.RemoteAddr, o.ID)
		}
	}
	if f, ok := n.follower(d.Table); ok {
		return fmt.Errorf("%w: table %q is itself the follower of duplication %s from cluster %s (the middle of a chain); switch over from the head of the chain",
			ErrRefused, d.Table, f.DupID, f.SourceCluster)
	}
	if err := n.onwardRefusal(ctx, d); err != nil {
		return err
	}
	for _, st := range n.Status(ctx, d) {
		if partitionStateOf(&tpb.FollowerReport{State: st.State, StateCode: st.StateCode}) != PartitionLog {
			return fmt.Errorf("%w: partition %d of duplication %s is %s, not LOG (wait until the base is loaded)", ErrRefused, st.Partition, d.ID, st.State)
		}
	}
	return nil
}

// waitConfirmed waits until the remote confirmed every partition's fence.
func (n *Node) waitConfirmed(ctx context.Context, d Info, fences []uint64) error {
	for {
		missing := -1
		for _, st := range n.Status(ctx, d) {
			if int(st.Partition) < len(fences) && st.ConfirmedDecree < fences[st.Partition] {
				missing = int(st.Partition)
				break
			}
		}
		if missing < 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("switchover %s: the remote did not confirm partition %d's fence decree %d: %w (run dup switchover again to resume)",
				d.ID, missing, fences[missing], ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// acceptRemote asks the remote to become the primary, at each of its
// nodes it knows in turn while they do not answer.
func (n *Node) acceptRemote(ctx context.Context, d Info) (*tpb.AcceptSwitchoverResponse, error) {
	req := &tpb.AcceptSwitchoverRequest{Table: d.Table, DupId: d.ID, SourceCluster: n.cfg.Cluster, SourceAddrs: n.sourceAddrs()}
	var last error
	for _, addr := range append([]string{d.RemoteAddr}, d.RemoteAddrs...) {
		resp, err := n.acceptAt(ctx, addr, req)
		if err == nil {
			if len(resp.StartDecrees) != int(d.Partitions) {
				return nil, fmt.Errorf("%w: the remote answered %d start decrees for %d partitions", ErrRefused, len(resp.StartDecrees), d.Partitions)
			}
			return resp, nil
		}
		if last = err; !errors.Is(err, ErrRemoteUnreachable) || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// acceptAt asks the remote node at addr.
func (n *Node) acceptAt(ctx context.Context, addr string, req *tpb.AcceptSwitchoverRequest) (*tpb.AcceptSwitchoverResponse, error) {
	conn, err := n.cfg.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRemoteUnreachable, addr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, remoteTimeout(ctx))
	defer cancel()
	resp, err := tpb.NewAdminClient(conn).AcceptSwitchover(cctx, req)
	if err != nil {
		st, _ := status.FromError(err)
		if st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
			return nil, fmt.Errorf("%w: %s: %s (run dup switchover again to resume)", ErrRemoteUnreachable, addr, st.Message())
		}
		return nil, fmt.Errorf("switchover %s: remote %s: %s", req.DupId, addr, st.Message())
	}
	return resp, nil
}

// AcceptSwitchover runs on the remote's meta leader: its follower table of
// duplication req.DupId becomes the primary and duplicates back.
func (n *Node) AcceptSwitchover(ctx context.Context, req *tpb.AcceptSwitchoverRequest) (*tpb.AcceptSwitchoverResponse, error) {
	for _, d := range n.cfg.Meta.Duplications() {
		if d.ReverseOf == req.DupId && d.Table == req.Table {
			return n.acceptedResponse(d), nil // done already: a resumed switchover
		}
	}
	var f Follower
	ok := false
	for _, t := range n.cfg.Meta.Followers() {
		if t.Table == req.Table && t.DupID == req.DupId {
			f, ok = t, true
		}
	}
	if !ok || len(req.SourceAddrs) == 0 {
		return nil, fmt.Errorf("%w: cluster %s has no table %q following duplication %s", ErrRefused, n.cfg.Cluster, req.Table, req.DupId)
	}
	rid := reverseID(req.DupId)
	starts, err := n.stepAll(ctx, n.sourceAddrs(), req.Table, f.Partitions, tpb.DupStep_DUP_STEP_CUT, rid, nil)
	if err != nil {
		return nil, fmt.Errorf("switchover %s: cut the new primary's log: %w", req.DupId, err)
	}
	rev := Info{ID: rid, Table: req.Table, RemoteAddr: req.SourceAddrs[0], RemoteAddrs: req.SourceAddrs[1:], RemoteCluster: req.SourceCluster, State: StateActive,
		CreatedAtMs: n.cfg.Now().UnixMilli(), ReverseOf: req.DupId, Starts: starts, Partitions: f.Partitions}
	d, err := n.cfg.Registry.AcceptSwitchover(ctx, req.Table, req.DupId, rev)
	if err != nil {
		return nil, n.unownedCut(ctx, req, f.Partitions, rid, err)
	}
	n.lg.Info("switchover accepted: table is primary here", zap.String("table", req.Table), zap.String("from_dup", req.DupId),
		zap.String("reverse_dup", d.ID), zap.String("old_primary", req.SourceCluster))
	return n.acceptedResponse(d), nil
}

// unownedCut handles a refused metadata step of AcceptSwitchover (err):
// the floors CUT raised for rid hold the log for a duplication the
// metadata never recorded, which nothing would ever release (floors are
// released for removed duplications only). A refusal is final, so they are
// dropped; a re-run raises its own. After an error whose outcome is
// unknown the record may yet apply, so they stay: the re-run, finding the
// duplication or recording it, owns them. err is returned either way.
func (n *Node) unownedCut(ctx context.Context, req *tpb.AcceptSwitchoverRequest, parts uint32, rid string, err error) error {
	if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrDupExists) {
		return err
	}
	if _, ok := n.cfg.Meta.Duplication(rid); ok {
		return err
	}
	if _, rerr := n.stepAll(ctx, n.sourceAddrs(), req.Table, parts, tpb.DupStep_DUP_STEP_RELEASE, rid, nil); rerr != nil {
		n.lg.Warn("switchover refused, and the floors its cut raised could not all be released", zap.String("dup", req.DupId),
			zap.String("reverse_dup", rid), zap.Error(rerr))
	}
	return err
}

// releaseCut drops the floor a cut raised for duplication id on r, unless
// the metadata records id (then the floor is its own).
func (n *Node) releaseCut(ctx context.Context, r Replica, id string) error {
	if id == "" {
		return status.Error(codes.InvalidArgument, "release step without a duplication id")
	}
	if _, ok := n.cfg.Meta.Duplication(id); ok {
		return refusedStatus(fmt.Errorf("%w: duplication %s exists: its floor is not released", ErrRefused, id))
	}
	if _, held := r.Confirmed()[id]; !held {
		return nil
	}
	return r.ProposeDupRelease(ctx, id)
}

func (n *Node) acceptedResponse(d Info) *tpb.AcceptSwitchoverResponse {
	return &tpb.AcceptSwitchoverResponse{ReverseDupId: d.ID, Cluster: n.cfg.Cluster, Addrs: n.sourceAddrs(), StartDecrees: d.Starts}
}

// reverseID names the reversed duplication after the one it reverses, so
// a resumed switchover finds it: the next number when the id is one.
func reverseID(id string) string {
	if v, err := strconv.ParseUint(id, 10, 64); err == nil {
		return strconv.FormatUint(v+1, 10)
	}
	return id + "r"
}

// stepAll takes a step on every partition's leader of this cluster (the
// nodes at addrs), in parallel, retrying until ctx ends, and returns each
// partition's decree. decrees, when set, gives each partition's argument.
func (n *Node) stepAll(ctx context.Context, addrs []string, table string, parts uint32, step tpb.DupStep, dupID string, decrees []uint64) ([]uint64, error) {
	resps, err := n.stepAllResp(ctx, addrs, table, parts, step, dupID, decrees)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, parts)
	for p, r := range resps {
		out[p] = r.Decree
	}
	return out, nil
}

// stepAllResp is stepAll returning the partitions' whole answers.
func (n *Node) stepAllResp(ctx context.Context, addrs []string, table string, parts uint32, step tpb.DupStep, dupID string, decrees []uint64) ([]*tpb.DupStepResponse, error) {
	out := make([]*tpb.DupStepResponse, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := uint32(0); p < parts; p++ {
		wg.Add(1)
		go func(p uint32) {
			defer wg.Done()
			req := &tpb.DupStepRequest{Table: table, Partition: p, Step: step, DupId: dupID}
			if decrees != nil {
				req.Decree = decrees[p]
			}
			out[p], errs[p] = n.stepPartition(ctx, addrs, req)
		}(p)
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, err)
		}
	}
	return out, nil
}

// stepPartition takes one partition's step on its leader, following
// leader changes, until it is done or ctx ends.
func (n *Node) stepPartition(ctx context.Context, addrs []string, req *tpb.DupStepRequest) (*tpb.DupStepResponse, error) {
	l := &sourceLeader{table: req.Table, partition: req.Partition, addrs: addrs, dial: n.cfg.Dial}
	for {
		conn, _, err := l.conn(ctx)
		if err == nil {
			var resp *tpb.DupStepResponse
			cctx, cancel := context.WithTimeout(ctx, remoteCallTimeout)
			resp, err = tpb.NewAdminClient(conn).DupPartitionStep(cctx, req)
			cancel()
			if err == nil {
				return resp, nil
			}
			if st, ok := status.FromError(err); ok && (st.Code() == codes.InvalidArgument || st.Code() == codes.NotFound || tpb.HasReason(st, tpb.ReasonDupRefused)) {
				return nil, err // a refusal is final (resync's divergent log gone)
			}
			if l.follow(err) {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%v (last: %v)", ctx.Err(), err)
		case <-time.After(stepRetry):
		}
	}
}

// PartitionStep takes a switchover step on this node's leader replica of
// the partition.
func (n *Node) PartitionStep(ctx context.Context, req *tpb.DupStepRequest) (*tpb.DupStepResponse, error) {
	r, err := n.cfg.Replicas.Leader(req.Table, req.Partition)
	if err != nil {
		return nil, n.cfg.ToStatus(err)
	}
	var d uint64
	switch req.Step {
	case tpb.DupStep_DUP_STEP_FENCE:
		d, err = r.Fence(ctx)
	case tpb.DupStep_DUP_STEP_CUT:
		if req.DupId == "" {
			return nil, status.Error(codes.InvalidArgument, "cut step without a duplication id")
		}
		if err = r.Unfence(ctx); err == nil {
			d = r.Applied()
			err = raiseFloor(ctx, r, req.DupId, d)
		}
	case tpb.DupStep_DUP_STEP_FOLLOW:
		d, err = req.Decree, r.FollowFrom(ctx, req.Decree)
	case tpb.DupStep_DUP_STEP_UNFOLLOW:
		return n.unfollow(ctx, r)
	case tpb.DupStep_DUP_STEP_DIVERGE:
		return n.diverge(ctx, r, req.Decree)
	case tpb.DupStep_DUP_STEP_REBASE:
		err = r.FollowAnew(ctx)
	case tpb.DupStep_DUP_STEP_UNFENCE:
		err = r.Unfence(ctx)
	case tpb.DupStep_DUP_STEP_RELEASE:
		if err = n.releaseCut(ctx, r, req.DupId); err != nil {
			if _, typed := status.FromError(err); typed {
				return nil, err // a refusal, final
			}
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown duplication step %v", req.Step)
	}
	if err != nil {
		return nil, n.cfg.ToStatus(err)
	}
	return &tpb.DupStepResponse{Decree: d}, nil
}

// unfollow ends following on a promoted partition and makes it writable
// (a table switched over earlier is fenced). Its replicated time is the
// later of the stored one and the puller's, read before the unfollow entry
// (an idle partition stores its advances only every idlePersist; a batch
// the unfollow entry then ignores cannot have raised the earlier reading).
func (n *Node) unfollow(ctx context.Context, r Replica) (*tpb.DupStepResponse, error) {
	pulled := n.followers.replicatedTime(r.Info().Group)
	d, at, err := r.Unfollow(ctx)
	if err == nil {
		err = r.Unfence(ctx)
	}
	if err != nil {
		return nil, n.cfg.ToStatus(err)
	}
	if pulled.After(at) {
		at = pulled
	}
	return &tpb.DupStepResponse{Decree: d, ReplicatedTimeUnixMs: unixMs(at)}, nil
}
