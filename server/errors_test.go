package server

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
