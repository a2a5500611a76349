package tandempb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Leader discovery, shared by every caller of a partition leader (the
// client SDK, a duplication's puller): follow a NotLeader answer that
// names the leader at once, and otherwise ask the known nodes for the
// table's route. It lives beside the wire contract because it interprets
// it, and because the SDK depends on this package alone.

// LeaderAnswer is what a failed call to a node tells the caller about where
// the partition's leader is.
type LeaderAnswer int

const (
	// LeaderFinal is an error about the request itself, or a node's own
	// final answer (a remote cluster it could not reach): asking another
	// node does not help.
	LeaderFinal LeaderAnswer = iota
	// LeaderRedirect is a NotLeader answer naming the leader: call it now.
	LeaderRedirect
	// LeaderUnknown is a NotLeader answer without a leader (an election
	// runs): back off, then look the leader up again.
	LeaderUnknown
	// LeaderUnreachable is a node that is down, unreachable or stopping:
	// try another node, back off.
	LeaderUnreachable
)

// ClassifyLeaderError says what err, the error of a call to a node, tells
// about the partition's leader; for a redirect it also returns the
// leader's address.
func ClassifyLeaderError(err error) (LeaderAnswer, string) {
	st, ok := status.FromError(err)
	if !ok {
		return LeaderFinal, ""
	}
	if st.Code() != codes.Unavailable || HasReason(st, ReasonRemoteUnreachable) {
		return LeaderFinal, ""
	}
	if nl := NotLeaderOf(st); nl != nil {
		if nl.GetLeaderAddr() != "" {
			return LeaderRedirect, nl.GetLeaderAddr()
		}
		return LeaderUnknown, ""
	}
	return LeaderUnreachable, ""
}

// NotLeaderOf returns the NotLeader detail of st, or nil.
func NotLeaderOf(st *status.Status) *NotLeader {
	for _, d := range st.Details() {
		if nl, ok := d.(*NotLeader); ok {
			return nl
		}
	}
	return nil
}

// HasReason reports whether st carries Tandem's ErrorInfo with reason.
func HasReason(st *status.Status, reason string) bool {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetDomain() == ErrorDomain && ei.GetReason() == reason {
			return true
		}
	}
	return false
}

// LeaderOf returns the address of partition p's leader in the route, ""
// when the answering node knew none.
func (r *RouteResponse) LeaderOf(p uint32) string {
	for _, pr := range r.GetPartitions() {
		if pr.GetIndex() == p {
			return pr.GetLeaderAddr()
		}
	}
	return ""
}

// ErrNoRoute is returned by FindRoute when no node gave an answer it took.
var ErrNoRoute = errors.New("tandempb: no node answered with a usable route")

// RouteQuery asks nodes, one after the other, for a table's route.
type RouteQuery struct {
	Table string
	// Addrs are the nodes to ask, in order; repeats are asked once.
	Addrs []string
	// Admin returns a client for the node at an address.
	Admin func(addr string) (AdminClient, error)
	// Accept, when set, refuses answers the caller cannot use (for
	// example one that names no leader of the partition wanted); the next
	// node is asked.
	Accept func(*RouteResponse) bool
	// Final, when set, ends the search at an error it reports as final
	// (an unknown table, refused credentials).
	Final func(error) bool
	// CallTimeout, when positive, bounds each node's answer.
	CallTimeout time.Duration
}

// FindRoute returns the first route answer q accepts. Otherwise it
// returns the error Final stopped at, or ErrNoRoute wrapping the last
// error seen (ctx's once it ended).
func FindRoute(ctx context.Context, q RouteQuery) (*RouteResponse, error) {
	last := errors.New("no node to ask")
	var asked []string
	for _, addr := range q.Addrs {
		if slices.Contains(asked, addr) {
			continue
		}
		if ctx.Err() != nil {
			last = ctx.Err()
			break
		}
		asked = append(asked, addr)
		resp, err := askRoute(ctx, q, addr)
		switch {
		case err == nil && (q.Accept == nil || q.Accept(resp)):
			return resp, nil
		case err == nil:
			last = fmt.Errorf("%s knows no leader", addr)
		case q.Final != nil && q.Final(err):
			return nil, err
		default:
			last = err
		}
	}
	return nil, fmt.Errorf("%w for table %q (asked %v): %w", ErrNoRoute, q.Table, asked, last)
}

func askRoute(ctx context.Context, q RouteQuery, addr string) (*RouteResponse, error) {
	c, err := q.Admin(addr)
	if err != nil {
		return nil, err
	}
	if q.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.CallTimeout)
		defer cancel()
	}
	return c.Route(ctx, &RouteRequest{Table: q.Table})
}
