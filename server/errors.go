package server

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

var (
	// ErrTableNotFound is returned for a table the cluster does not have.
	ErrTableNotFound = errors.New("server: table not found")
	// ErrTableExists is returned when creating a table whose name is taken.
	ErrTableExists = errors.New("server: table already exists")
	// ErrInvalidArgument is returned for malformed or oversized requests.
	ErrInvalidArgument = errors.New("server: invalid argument")
	// ErrInvalidName is returned for a table or cluster name outside
	// [A-Za-z0-9_.-]{1,128}.
	ErrInvalidName = errors.New("server: invalid name")
	// ErrNoMetaLeader is returned when the meta group has no leader to take
	// a metadata change.
	ErrNoMetaLeader = errors.New("server: meta group has no leader")
	// ErrUnknownConfigKey is returned by config get/set for a key that does
	// not exist.
	ErrUnknownConfigKey = errors.New("server: unknown config key")
	// ErrUnknownPeer is returned when a node id is not in this node's
	// --peers.
	ErrUnknownPeer = errors.New("server: node is not in --peers")
	// ErrNoLocalReplica is returned by calls about one node's own replica
	// when that node hosts none of the partition.
	ErrNoLocalReplica = errors.New("server: no replica of the partition on this node")
	// ErrNotReady is returned when a node that has just started cannot
	// answer yet because its metadata has not caught up with the cluster.
	ErrNotReady = errors.New("server: node not ready: metadata not caught up")

	// Membership (issue 14).

	// ErrUnknownNode is returned for a node id the registry does not have.
	ErrUnknownNode = errors.New("server: unknown node")
	// ErrNodeRemoved is returned when a removed node tries to join again
	// under the same id, or is drained.
	ErrNodeRemoved = errors.New("server: node was removed from the cluster")
	// ErrLastCopy is returned by node rm while the node holds a replica no
	// live node has (re-replication or a drain has not finished).
	ErrLastCopy = errors.New("server: node holds the only copy of a partition")
	// ErrLastVoter is returned when removing or draining a node would leave
	// the meta group or a partition without a quorum of voters.
	ErrLastVoter = errors.New("server: node is needed for a quorum")
	// ErrNotDrained is returned by node rm of a node that is alive and not
	// draining: drain it first.
	ErrNotDrained = errors.New("server: node is alive and not drained")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

// notLeaderError says which node leads a partition, so the edge can attach
// a NotLeader detail the client follows.
type notLeaderError struct {
	table      string
	partition  uint32
	leaderID   string
	leaderAddr string
	cause      error
}

func (e *notLeaderError) Error() string {
	msg := "not leader of " + e.table + " partition"
	if e.leaderAddr != "" {
		msg += "; leader is " + e.leaderID + " at " + e.leaderAddr
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *notLeaderError) Unwrap() error { return replica.ErrNotLeader }

// toStatus translates an error to a gRPC status at the edge; clients map
// the codes back to their own sentinels.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if st, ok := drStatus(err); ok {
		return st
	}
	if st, ok := membershipStatus(err); ok {
		return st
	}
	var nl *notLeaderError
	switch {
	case errors.As(err, &nl):
		st := status.New(codes.Unavailable, err.Error())
		if d, derr := st.WithDetails(&tpb.NotLeader{Table: nl.table, Partition: nl.partition, LeaderId: nl.leaderID, LeaderAddr: nl.leaderAddr}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, duplication.ErrFollowerTable), errors.Is(err, ErrFollowerBusy):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, duplication.ErrDupExists), errors.Is(err, duplication.ErrRemoteConflict):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, duplication.ErrRemoteUnreachable):
		// The node's answer, not the node's absence: asking another node
		// would try the same remote again.
		return withReason(codes.Unavailable, err.Error(), tpb.ReasonRemoteUnreachable)
	case errors.Is(err, duplication.ErrDupNotFound), errors.Is(err, checkpoint.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, checkpoint.ErrInvalid), errors.Is(err, replica.ErrMalformedCommand):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrTableNotFound), errors.Is(err, ErrUnknownConfigKey), errors.Is(err, ErrNoLocalReplica):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrTableExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, duplication.ErrBadRemoteAddr):
		// The code already says "invalid argument"; keep the message to the point.
		msg := strings.Replace(err.Error(), ErrInvalidArgument.Error()+": ", "", 1)
		return status.Error(codes.InvalidArgument, strings.Replace(msg, duplication.ErrBadRemoteAddr.Error()+": ", "", 1))
	case errors.Is(err, ErrInvalidName):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, replica.ErrOutcomeUnknown):
		// Proposed, outcome not learned (checked before the refusals: it may
		// wrap ErrClosed). Clients report it as ambiguous, never retry it.
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, replica.ErrNotLeader), errors.Is(err, replica.ErrTimeout),
		errors.Is(err, replica.ErrClosed), errors.Is(err, checkpoint.ErrClosed), errors.Is(err, ErrNoMetaLeader), errors.Is(err, ErrNotReady):
		// Refused before anything was proposed (replica.ErrTimeout is a read
		// barrier not confirmed in time or a write withdrawn from the queue):
		// an empty NotLeader detail tells clients a retry (elsewhere, later)
		// cannot apply a write twice. Only these errors carry the detail.
		st := status.New(codes.Unavailable, err.Error())
		if d, derr := st.WithDetails(&tpb.NotLeader{}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// withReason is a status with an ErrorInfo detail naming reason in
// Tandem's domain, for clients to tell apart answers that share a code.
func withReason(code codes.Code, msg, reason string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Domain: tpb.ErrorDomain, Reason: reason}); err == nil {
		st = d
	}
	return st.Err()
}
