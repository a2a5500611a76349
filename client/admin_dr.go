package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Disaster recovery on the admin API: replicated time, switchover,
// promote. Kept apart from admin.go, which every area extends.

// ReplicatedTime returns a duplication's replicated time: every write the
// source acknowledged before it is applied on the remote, so a failover
// now loses at most the writes acknowledged after it. ok is false while it
// is unknown (a partition has not reported one yet). The time is the
// source cluster's clock; compare it with clocks in sync with it.
func ReplicatedTime(d *tandempb.DuplicationInfo) (t time.Time, ok bool) {
	if d.GetReplicatedTimeUnixMs() <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(d.GetReplicatedTimeUnixMs()), true
}

// ErrSwitchedOver is returned for a write to a table whose primary moved
// (or is moving) to another cluster by a switchover: the write did not
// apply. The error is a *SwitchedOverError naming the new primary; write
// there (a Client dialed to its addresses).
var ErrSwitchedOver = errors.New("client: table switched over to another cluster")

// ErrDupRefused is returned when a disaster-recovery command cannot run
// in the state the duplication or its table is in (a paused duplication's
// switchover, a partition still loading its base, a remote table that is
// not the duplication's follower); the message says why.
var ErrDupRefused = errors.New("client: duplication command refused")

// SwitchedOverError names a switched-over table's new primary.
type SwitchedOverError struct {
	Table string
	// Cluster and Addrs are the new primary's cluster name and node
	// addresses (empty when the refusing node did not know them).
	Cluster string
	Addrs   []string
	msg     string
}

func (e *SwitchedOverError) Error() string { return "client: " + e.msg }

// Is makes errors.Is(err, ErrSwitchedOver) true.
func (e *SwitchedOverError) Is(target error) bool { return target == ErrSwitchedOver }

// drError maps disaster recovery's statuses to the client's errors, nil
// for any other status.
func drError(st *status.Status) error {
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != tandempb.ErrorDomain {
			continue
		}
		switch info.GetReason() {
		case tandempb.ReasonSwitchedOver:
			md := info.GetMetadata()
			e := &SwitchedOverError{Table: md[tandempb.MetaTable], Cluster: md[tandempb.MetaNewPrimaryCluster], msg: st.Message()}
			if a := md[tandempb.MetaNewPrimaryAddrs]; a != "" {
				e.Addrs = strings.Split(a, ",")
			}
			return e
		case tandempb.ReasonDupRefused:
			return fmt.Errorf("%w: %s", ErrDupRefused, st.Message())
		case tandempb.ReasonDupCycle:
			return fmt.Errorf("%w: %s", ErrDupCycle, st.Message())
		}
	}
	return nil
}

// Switchover moves table's primary to the remote of duplication id, run
// on the source cluster: the table is fenced (writes get ErrSwitchedOver
// naming the remote), the remote catches up to the fence on every
// partition and becomes the primary, and a duplication back to this
// cluster starts in LOG at the fence, with no base transfer. Run again
// after an error, it resumes. Without a deadline on ctx it waits a minute.
func (c *Client) Switchover(ctx context.Context, table, id string) (*tandempb.SwitchoverResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, switchoverTimeout)
	defer cancel()
	resp, err := c.admin.SwitchoverDuplication(ctx, &tandempb.DuplicationRequest{Table: table, DupId: id})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp, nil
}

// switchoverTimeout bounds a switchover whose caller set no deadline.
const switchoverTimeout = time.Minute

// Promote makes follower table table writable on this (the remote)
// cluster when its source is lost, and returns the replicated time it
// starts from: writes the source acknowledged after it may be missing. It
// is refused (ErrDupRefused) while the source cluster answers unless
// force. Without a deadline on ctx it waits a minute.
func (c *Client) Promote(ctx context.Context, table string, force bool) (*tandempb.PromoteResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, switchoverTimeout)
	defer cancel()
	resp, err := c.admin.PromoteFollower(ctx, &tandempb.PromoteRequest{Table: table, Force: force})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp, nil
}
