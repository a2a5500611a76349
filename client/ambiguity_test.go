package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// writeOps are the SDK's writes, each run once against tbl.
func writeOps(tbl *Table, ctx context.Context) map[string]func() error {
	return map[string]func() error{
		"set": func() error { return tbl.Set(ctx, []byte("hk"), []byte("sk"), []byte("v")) },
		"del": func() error { return tbl.Del(ctx, []byte("hk"), []byte("sk")) },
		"multiset": func() error {
			return tbl.MultiSet(ctx, []byte("hk"), []SortKeyValue{{SortKey: []byte("a"), Value: []byte("1")}})
		},
	}
}

// A write error is exact: an answer that does not prove the server refused
// the write (an internal error, a deadline or cancellation the server
// reports, anything unexpected) is ErrAmbiguous and is not retried; an
// answer that does prove it (validation, a missing or read-only table,
// credentials) is never ErrAmbiguous. An Internal answer used to come back
// as a plain error, as if the write had failed.
func TestWriteErrorsSayWhetherTheWriteMayHaveApplied(t *testing.T) {
	cases := []struct {
		code      codes.Code
		ambiguous bool
	}{
		{codes.Internal, true}, {codes.Unknown, true}, {codes.DataLoss, true},
		{codes.DeadlineExceeded, true}, {codes.Canceled, true}, {codes.Aborted, true},
		{codes.InvalidArgument, false}, {codes.NotFound, false}, {codes.FailedPrecondition, false},
		{codes.PermissionDenied, false}, {codes.Unauthenticated, false}, {codes.ResourceExhausted, false},
	}
	for _, c := range cases {
		t.Run(c.code.String(), func(t *testing.T) {
			cl := newTestCluster(1)
			n := mustStartNode(t, cl, nodeMode{leader: true, failWith: c.code})
			n.setRoute(n.addr, n.addr)
			tbl := mustTable(t, mustDial(t, n.addr))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for op, write := range writeOps(tbl, ctx) {
				before := n.kvCalls.Load()
				err := write()
				if err == nil || errors.Is(err, ErrAmbiguous) != c.ambiguous {
					t.Fatalf("%s answered %s: err = %v, want ambiguous: %v", op, c.code, err, c.ambiguous)
				}
				if calls := n.kvCalls.Load() - before; calls != 1 {
					t.Fatalf("%s answered %s: %d calls, want 1 (no retry)", op, c.code, calls)
				}
			}
		})
	}
}

// An ambiguous answer that arrives as the deadline passes, after earlier
// attempts were refused, is still ErrAmbiguous: the call used to report the
// earlier refusal as ErrUnavailable, as if nothing had been proposed.
func TestAmbiguousAnswerAtTheDeadlineStaysAmbiguous(t *testing.T) {
	cl := newTestCluster(1)
	n := mustStartNode(t, cl, nodeMode{leader: true})
	n.setRoute(n.addr, n.addr)
	tbl := mustTable(t, mustDial(t, n.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	attempts := 0
	err := tbl.call(ctx, 0, true, func(ctx context.Context, _ tandempb.KVClient) error {
		if attempts++; attempts == 1 {
			return mustNotLeader(t, "") // refused: retried after a pause
		}
		<-ctx.Done() // proposed; the answer comes as the deadline passes
		return status.Error(codes.Aborted, "leadership lost while the write was being replicated")
	})
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("after %d attempts: err = %v, want ErrAmbiguous", attempts, err)
	}
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
}

// A write that is out when the client is closed may still apply: it is
// ErrAmbiguous (and ErrClosed), not only ErrClosed as if it never left.
func TestWriteOutWhenTheClientClosesIsAmbiguous(t *testing.T) {
	n, tbl, _ := startHeld(t)
	errc := make(chan error, 1)
	go func() { errc <- tbl.Set(context.Background(), []byte("hk"), []byte("sk"), []byte("v")) }()
	waitFor(t, "the write at the node", func() bool { return n.batchCalls.Load() == 1 })
	if err := tbl.c.Close(); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if !errors.Is(err, ErrAmbiguous) || !errors.Is(err, ErrClosed) {
		t.Fatalf("write out at close: err = %v, want ErrAmbiguous and ErrClosed", err)
	}
	if err := tbl.Set(context.Background(), []byte("hk"), []byte("sk"), []byte("v")); !errors.Is(err, ErrClosed) || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("write after close: err = %v, want ErrClosed only (never sent)", err)
	}
}

func TestWriteRefused(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"not leader, no leader known", mustNotLeader(t, ""), true},
		{"not leader, redirect", mustNotLeader(t, "127.0.0.1:1"), true},
		{"no connection", status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused\""), true},
		{"connection broke", status.Error(codes.Unavailable, "error reading from server: EOF"), false},
		{"invalid", status.Error(codes.InvalidArgument, "bad"), true},
		{"aborted", status.Error(codes.Aborted, "leadership lost"), false},
		{"deadline", status.Error(codes.DeadlineExceeded, "late"), false},
		{"internal", status.Error(codes.Internal, "boom"), false},
		{"not a status", ErrClosed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := writeRefused(c.err); got != c.want {
				t.Fatalf("writeRefused(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
