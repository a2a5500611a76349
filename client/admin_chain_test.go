package client

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// A cycle refusal maps to ErrDupCycle, which is also ErrAlreadyExists; a
// plain AlreadyExists is not a cycle.
func TestCycleRefusalMapsToErrDupCycle(t *testing.T) {
	st := status.New(codes.AlreadyExists, "duplication: cycle: table \"t\" of cluster east reaches cluster south already")
	st, _ = st.WithDetails(&errdetails.ErrorInfo{Domain: tandempb.ErrorDomain, Reason: tandempb.ReasonDupCycle})
	err := mapError(st.Err(), ErrNotFound)
	if !errors.Is(err, ErrDupCycle) || !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("cycle refusal mapped to %v", err)
	}
	if err := mapError(status.Error(codes.AlreadyExists, "exists"), ErrNotFound); errors.Is(err, ErrDupCycle) || !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("plain conflict mapped to %v", err)
	}
}
