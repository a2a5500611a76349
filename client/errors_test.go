package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// mustNotLeader returns the status error a non-leader replica answers.
func mustNotLeader(t *testing.T, leaderAddr string) error {
	t.Helper()
	st, err := status.New(codes.Unavailable, "not leader").
		WithDetails(&tandempb.NotLeader{Table: "t", Partition: 1, LeaderAddr: leaderAddr})
	if err != nil {
		t.Fatalf("with details: %v", err)
	}
	return st.Err()
}

func TestMapError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		notFound error
		want     error
		msg      string
	}{
		{"table not found", status.Error(codes.NotFound, `table "x" not found`), ErrTableNotFound, ErrTableNotFound, `table "x" not found`},
		{"config key not found", status.Error(codes.NotFound, `no key "k"`), ErrNotFound, ErrNotFound, `no key "k"`},
		{"invalid argument", status.Error(codes.InvalidArgument, "value is 2 MiB, over the 1 MiB limit"), ErrTableNotFound, ErrInvalidArgument, "over the 1 MiB limit"},
		{"read-only", status.Error(codes.FailedPrecondition, "table t is read-only"), ErrTableNotFound, ErrReadOnly, "read-only"},
		{"unavailable", status.Error(codes.Unavailable, "shutting down"), ErrTableNotFound, ErrUnavailable, "shutting down"},
		{"not leader", mustNotLeader(t, ""), ErrTableNotFound, ErrUnavailable, "not leader"},
		{"deadline", status.Error(codes.DeadlineExceeded, "deadline"), ErrTableNotFound, context.DeadlineExceeded, "deadline"},
		{"canceled", status.Error(codes.Canceled, "canceled"), ErrTableNotFound, context.Canceled, "canceled"},
		{"not a status", ErrClosed, ErrTableNotFound, ErrClosed, "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapError(tt.err, tt.notFound)
			if !errors.Is(got, tt.want) {
				t.Fatalf("mapError(%v) = %v, want it to wrap %v", tt.err, got, tt.want)
			}
			if !strings.Contains(got.Error(), tt.msg) {
				t.Fatalf("mapError(%v) = %q, want message containing %q", tt.err, got, tt.msg)
			}
		})
	}
	if mapError(nil, ErrNotFound) != nil {
		t.Fatal("mapError(nil) != nil")
	}
	if got := mapError(status.Error(codes.Internal, "boom"), ErrNotFound); !strings.Contains(got.Error(), "boom") {
		t.Fatalf("internal error lost its message: %v", got)
	}
	if got := fmt.Sprint(mapError(status.Error(codes.InvalidArgument, "m"), nil)); got != "client: invalid argument: m" {
		t.Fatalf("message format = %q", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantKind   errorKind
		wantLeader string
	}{
		{"redirect", mustNotLeader(t, "10.0.0.2:7100"), kindRedirect, "10.0.0.2:7100"},
		{"no leader", mustNotLeader(t, ""), kindNoLeader, ""},
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), kindUnavailable, ""},
		{"invalid", status.Error(codes.InvalidArgument, "bad"), kindFatal, ""},
		{"not found", status.Error(codes.NotFound, "no table"), kindFatal, ""},
		{"read-only", status.Error(codes.FailedPrecondition, "ro"), kindFatal, ""},
		{"deadline", status.Error(codes.DeadlineExceeded, "late"), kindFatal, ""},
		{"plain error", errors.New("x"), kindFatal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, leader := classify(tt.err)
			if kind != tt.wantKind || leader != tt.wantLeader {
				t.Fatalf("classify = (%v, %q), want (%v, %q)", kind, leader, tt.wantKind, tt.wantLeader)
			}
		})
	}
}

func TestGiveUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	err := giveUp(ctx, mustNotLeader(t, ""), ErrTableNotFound)
	for _, want := range []error{ErrUnavailable, context.DeadlineExceeded} {
		if !errors.Is(err, want) {
			t.Errorf("giveUp after deadline = %v, want it to wrap %v", err, want)
		}
	}
	if !strings.Contains(err.Error(), "not leader") {
		t.Errorf("giveUp lost the last error: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	err = giveUp(ctx, status.Error(codes.Unavailable, "down"), ErrTableNotFound)
	if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("giveUp after cancel = %v, want context.Canceled", err)
	}
}
