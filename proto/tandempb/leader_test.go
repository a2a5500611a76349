package tandempb

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func notLeader(t *testing.T, addr string) error {
	t.Helper()
	st, err := status.New(codes.Unavailable, "not leader").WithDetails(&NotLeader{Table: "t", LeaderAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestClassifyLeaderError(t *testing.T) {
	remote, err := status.New(codes.Unavailable, "remote down").WithDetails(&errdetails.ErrorInfo{Domain: ErrorDomain, Reason: ReasonRemoteUnreachable})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		err        error
		want       LeaderAnswer
		wantLeader string
	}{
		{"hint", notLeader(t, "10.0.0.2:7100"), LeaderRedirect, "10.0.0.2:7100"},
		{"no hint", notLeader(t, ""), LeaderUnknown, ""},
		{"node down", status.Error(codes.Unavailable, "connection refused"), LeaderUnreachable, ""},
		{"remote unreachable is the node's answer", remote.Err(), LeaderFinal, ""},
		{"not found", status.Error(codes.NotFound, "no table"), LeaderFinal, ""},
		{"deadline", status.Error(codes.DeadlineExceeded, "late"), LeaderFinal, ""},
		{"not a status", errors.New("x"), LeaderFinal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, leader := ClassifyLeaderError(tt.err)
			if got != tt.want || leader != tt.wantLeader {
				t.Fatalf("ClassifyLeaderError = (%v, %q), want (%v, %q)", got, leader, tt.want, tt.wantLeader)
			}
		})
	}
}

// routeNode is a node answering Route with a fixed answer or error, over a
// real gRPC server on loopback.
type routeNode struct {
	UnimplementedAdminServer
	resp  *RouteResponse
	err   error
	calls atomic.Int32
}

func (n *routeNode) Route(context.Context, *RouteRequest) (*RouteResponse, error) {
	n.calls.Add(1)
	return n.resp, n.err
}

func mustServe(t *testing.T, n *routeNode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	RegisterAdminServer(s, n)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func dialAdmin(t *testing.T) func(string) (AdminClient, error) {
	return func(addr string) (AdminClient, error) {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		return NewAdminClient(c), nil
	}
}

func route(leader string) *RouteResponse {
	return &RouteResponse{Partitions: []*PartitionRoute{{Index: 0, LeaderAddr: "x"}, {Index: 1, LeaderAddr: leader}}}
}

func TestFindRouteAsksUntilAnAnswerIsAccepted(t *testing.T) {
	down := &routeNode{err: status.Error(codes.Unavailable, "stopping")}
	unknown := &routeNode{resp: route("")}
	knows := &routeNode{resp: route("10.0.0.9:7100")}
	addrs := []string{mustServe(t, down), mustServe(t, unknown), mustServe(t, knows)}
	q := RouteQuery{Table: "t", Addrs: append(addrs, addrs[0]), Admin: dialAdmin(t), CallTimeout: 5 * time.Second,
		Accept: func(r *RouteResponse) bool { return r.LeaderOf(1) != "" }}
	resp, err := FindRoute(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.LeaderOf(1); got != "10.0.0.9:7100" {
		t.Fatalf("leader of partition 1 = %q", got)
	}
	if down.calls.Load() != 1 || unknown.calls.Load() != 1 || knows.calls.Load() != 1 {
		t.Fatalf("calls = %d, %d, %d; want one each", down.calls.Load(), unknown.calls.Load(), knows.calls.Load())
	}
}

func TestFindRouteStopsAtAFinalError(t *testing.T) {
	gone := &routeNode{err: status.Error(codes.NotFound, "no table t")}
	knows := &routeNode{resp: route("10.0.0.9:7100")}
	q := RouteQuery{Table: "t", Addrs: []string{mustServe(t, gone), mustServe(t, knows)}, Admin: dialAdmin(t),
		Final: func(err error) bool { return status.Code(err) == codes.NotFound }}
	_, err := FindRoute(context.Background(), q)
	if status.Code(err) != codes.NotFound || knows.calls.Load() != 0 {
		t.Fatalf("FindRoute = %v after %d calls to the next node; want NotFound at once", err, knows.calls.Load())
	}
}

func TestFindRouteWithoutAnAnswerSaysWhy(t *testing.T) {
	unknown := &routeNode{resp: route("")}
	q := RouteQuery{Table: "t", Addrs: []string{mustServe(t, unknown)}, Admin: dialAdmin(t),
		Accept: func(r *RouteResponse) bool { return r.LeaderOf(1) != "" }}
	if _, err := FindRoute(context.Background(), q); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("FindRoute = %v, want ErrNoRoute", err)
	}
	if _, err := FindRoute(context.Background(), RouteQuery{Table: "t", Admin: dialAdmin(t)}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("FindRoute without addresses = %v, want ErrNoRoute", err)
	}
}
