package server

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// The edge tells clients exactly whether a failed write may have applied:
// Aborted when it was proposed, Unavailable with a NotLeader detail only
// when nothing was (so a retry cannot apply it twice). Read barrier
// timeouts stay retry-safe.
func TestToStatusSaysWhetherAWriteMayHaveApplied(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		code      codes.Code
		retrySafe bool // carries the NotLeader detail
	}{
		{"caller left after proposing", fmt.Errorf("%w: %v (the write was proposed and may still apply)", replica.ErrOutcomeUnknown, context.Canceled), codes.Aborted, false},
		{"leadership lost", fmt.Errorf("%w: leadership lost", replica.ErrOutcomeUnknown), codes.Aborted, false},
		{"shut down while pending", fmt.Errorf("%w: %w while the write was pending", replica.ErrOutcomeUnknown, replica.ErrClosed), codes.Aborted, false},
		{"withdrawn from the queue", fmt.Errorf("%w: %v (the write was withdrawn before it was proposed)", replica.ErrTimeout, context.DeadlineExceeded), codes.Unavailable, true},
		{"read barrier timeout", fmt.Errorf("%w: verify leadership: %v", replica.ErrTimeout, context.DeadlineExceeded), codes.Unavailable, true},
		{"not leader", replica.ErrNotLeader, codes.Unavailable, true},
		{"closed", replica.ErrClosed, codes.Unavailable, true},
		{"not ready", fmt.Errorf("table %q: %w", "t", ErrNotReady), codes.Unavailable, true},
		{"unclassified", fmt.Errorf("rocksdb: io error"), codes.Internal, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := status.Convert(toStatus(c.err))
			if st.Code() != c.code || (notLeaderOf(st) != nil) != c.retrySafe {
				t.Fatalf("toStatus(%v) = %s (NotLeader detail: %v); want %s (detail: %v)", c.err, st.Code(), notLeaderOf(st) != nil, c.code, c.retrySafe)
			}
		})
	}
}

// Duplication's sentinels keep the codes (and, for a bad remote address,
// the message) they had when they were the server's.
func TestToStatusOfDuplicationErrors(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{duplication.CheckRemoteAddr("nocolon"), codes.InvalidArgument, `remote address "nocolon": want HOST:PORT of a node of the remote cluster`},
		{fmt.Errorf("duplication 9 of table %q: %w", "t", duplication.ErrDupNotFound), codes.NotFound, ""},
		{fmt.Errorf("table %q to r:1 is duplication 9: %w", "t", duplication.ErrDupExists), codes.AlreadyExists, ""},
		{fmt.Errorf("%w: taken", duplication.ErrRemoteConflict), codes.AlreadyExists, ""},
		{fmt.Errorf("%w: r:1: refused", duplication.ErrRemoteUnreachable), codes.Unavailable, ""},
	}
	for _, c := range cases {
		st := status.Convert(toStatus(c.err))
		if st.Code() != c.code || (c.msg != "" && st.Message() != c.msg) || notLeaderOf(st) != nil {
			t.Errorf("toStatus(%v) = %s %q (NotLeader detail: %v); want %s %q", c.err, st.Code(), st.Message(), notLeaderOf(st) != nil, c.code, c.msg)
		}
	}
	if st := status.Convert(toStatus(fmt.Errorf("%w: r:1", duplication.ErrRemoteUnreachable))); !tpb.HasReason(st, tpb.ReasonRemoteUnreachable) {
		t.Error("an unreachable remote is not marked as the node's final answer")
	}
}
