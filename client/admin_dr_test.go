package client

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

func TestSwitchedOverStatusNamesTheNewPrimary(t *testing.T) {
	st, _ := status.New(codes.FailedPrecondition, "table t was switched over").WithDetails(&errdetails.ErrorInfo{
		Domain: tandempb.ErrorDomain, Reason: tandempb.ReasonSwitchedOver,
		Metadata: map[string]string{tandempb.MetaTable: "t", tandempb.MetaNewPrimaryCluster: "west", tandempb.MetaNewPrimaryAddrs: "a:1,b:2"}})
	err := mapError(st.Err(), ErrTableNotFound)
	var so *SwitchedOverError
	if !errors.Is(err, ErrSwitchedOver) || !errors.As(err, &so) || so.Cluster != "west" || len(so.Addrs) != 2 || so.Table != "t" {
		t.Fatalf("mapped to %v (%+v)", err, so)
	}
	if errors.Is(err, ErrReadOnly) {
		t.Fatal("a switched-over table's refusal is not a read-only table's")
	}
	if !writeRefused(st.Err()) {
		t.Fatal("a switchover refusal must count as not applied")
	}
	refused := status.New(codes.FailedPrecondition, "paused")
	refused, _ = refused.WithDetails(&errdetails.ErrorInfo{Domain: tandempb.ErrorDomain, Reason: tandempb.ReasonDupRefused})
	if err := mapError(refused.Err(), ErrNotFound); !errors.Is(err, ErrDupRefused) {
		t.Fatalf("refused command mapped to %v", err)
	}
	if err := mapError(status.Error(codes.FailedPrecondition, "follower"), ErrNotFound); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a plain follower refusal mapped to %v", err)
	}
}

func TestReplicatedTimeUnknownUntilReported(t *testing.T) {
	if _, ok := ReplicatedTime(&tandempb.DuplicationInfo{}); ok {
		t.Fatal("a zero replicated time is unknown")
	}
	if rt, ok := ReplicatedTime(&tandempb.DuplicationInfo{ReplicatedTimeUnixMs: 1500}); !ok || rt.UnixMilli() != 1500 {
		t.Fatalf("replicated time %v %v", rt, ok)
	}
}
