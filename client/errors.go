package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// The client's sentinel errors. Every error a Client or Table method returns
// for one of these conditions wraps the sentinel and keeps the server's
// message, so callers test with errors.Is.
var (
	// ErrNotFound is returned when a record, or a config key, is absent.
	ErrNotFound = errors.New("client: not found")
	// ErrTableNotFound is returned when the named table does not exist.
	ErrTableNotFound = errors.New("client: table not found")
	// ErrInvalidArgument is returned when the client or the server rejects
	// the input: an empty hash key, a key or value over the limits, an
	// empty MultiGet, a non-positive TTL.
	ErrInvalidArgument = errors.New("client: invalid argument")
	// ErrUnavailable is returned when no replica served the request before
	// the deadline: no leader, nodes down or unreachable. It wraps the last
	// error seen and, when the deadline passed, context.DeadlineExceeded.
	ErrUnavailable = errors.New("client: unavailable")
	// ErrReadOnly is returned when a write reaches a read-only table (for
	// example the follower side of a duplication).
	ErrReadOnly = errors.New("client: table is read-only")
	// ErrAlreadyExists is returned when a create (table, duplication)
	// names something that exists and is not what the call would make.
	ErrAlreadyExists = errors.New("client: already exists")
	// ErrClosed is returned by every method once Close has been called.
	ErrClosed = errors.New("client: closed")
	// ErrUnauthenticated is returned when the cluster requires credentials
	// and the call had none or an unknown token (see Config.Token).
	ErrUnauthenticated = errors.New("client: unauthenticated")
	// ErrPermissionDenied is returned when the credentials are valid but
	// their role is too weak for the call (e.g. a read token on a write).
	ErrPermissionDenied = errors.New("client: permission denied")
	// ErrAmbiguous is returned when a write may or may not have applied: it
	// was proposed and its leader lost leadership before it committed, the
	// caller stopped waiting after it was proposed or sent, the connection
	// broke (or the client was closed) after the request was sent, or an
	// attempt failed in any way that does not prove the server refused it.
	// The client does not retry such a write, since a second copy could land
	// after other clients' writes to the same record; read the record to
	// learn the outcome. Every other error of a write means it had no effect.
	ErrAmbiguous = errors.New("client: write outcome unknown")
	// ErrMessageTooLarge is returned when a request or its reply is larger
	// than MaxMessageBytes: nothing was applied (a request is refused before
	// it is sent, or by the node before any of it runs). Split the batch or
	// page the scan.
	ErrMessageTooLarge = errors.New("client: message too large")
)

// errorKind says what the retry loop does with an RPC error: the answer
// every caller of a partition leader gets from tandempb.
type errorKind = tandempb.LeaderAnswer

const (
	// kindFatal errors are returned to the caller at once.
	kindFatal = tandempb.LeaderFinal
	// kindRedirect is a NotLeader that names the leader: retry there now.
	kindRedirect = tandempb.LeaderRedirect
	// kindNoLeader is a NotLeader without a leader: back off, refresh.
	kindNoLeader = tandempb.LeaderUnknown
	// kindUnavailable is a node that is down, unreachable or stopping:
	// try another replica, back off.
	kindUnavailable = tandempb.LeaderUnreachable
)

// classify tells the retry loop what to do with err, and for a redirect the
// leader's address.
func classify(err error) (errorKind, string) { return tandempb.ClassifyLeaderError(err) }

// notSent reports whether a transport error happened before the request
// left the client (no connection could be made), so even a write may be
// retried.
func notSent(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	msg := st.Message()
	return strings.Contains(msg, "Error while dialing") || strings.Contains(msg, "connect: connection refused")
}

// writeRefused reports whether a write attempt's error proves the write had
// no effect, so it may be retried or reported as failed. The server answers
// Unavailable with a NotLeader detail only when nothing was proposed (not
// the leader, not ready, queue full, withdrawn from the queue), and Aborted
// when something was; codes for a request refused before the handler ran
// or before anything was proposed (validation, a missing or read-only
// table, credentials, an over-large message) prove it too. Anything else
// (Aborted, DeadlineExceeded, Canceled, Internal, Unknown, a broken
// connection, an error that is not a status at all) does not.
func writeRefused(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable:
		return tandempb.NotLeaderOf(st) != nil || notSent(err)
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted, codes.OutOfRange,
		codes.Unimplemented:
		return true
	}
	return false
}

// mapError translates a gRPC error into the client's sentinels, keeping the
// server's message. notFound is the sentinel codes.NotFound stands for: the
// table for KV and table admin calls, the key for config calls.
func mapError(err error, notFound error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if derr := drError(st); derr != nil {
		return derr
	}
	var sentinel error
	switch st.Code() {
	case codes.NotFound:
		sentinel = notFound
	case codes.InvalidArgument:
		sentinel = ErrInvalidArgument
	case codes.AlreadyExists:
		sentinel = ErrAlreadyExists
	case codes.FailedPrecondition:
		sentinel = ErrReadOnly
	case codes.Unavailable:
		sentinel = ErrUnavailable
	case codes.Unauthenticated:
		sentinel = ErrUnauthenticated
	case codes.PermissionDenied:
		sentinel = ErrPermissionDenied
	case codes.Aborted:
		sentinel = ErrAmbiguous
	case codes.ResourceExhausted:
		if messageTooLarge(st) {
			return tooLargeError(st)
		}
		return fmt.Errorf("client: %s: %s", st.Code(), st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %w: %s", ErrUnavailable, context.DeadlineExceeded, st.Message())
	case codes.Canceled:
		return fmt.Errorf("client: %w: %s", context.Canceled, st.Message())
	default:
		return fmt.Errorf("client: %s: %s", st.Code(), st.Message())
	}
	return fmt.Errorf("%w: %s", sentinel, st.Message())
}

// giveUp builds the error returned when ctx ended while retrying: the
// deadline becomes ErrUnavailable, a cancellation stays context.Canceled;
// both wrap the last error seen, mapped.
func giveUp(ctx context.Context, last error, notFound error) error {
	cause := context.Cause(ctx)
	if cause == nil { // gRPC's deadline timer can fire just before ctx's
		cause = context.DeadlineExceeded
	}
	if last == nil || errors.Is(last, cause) {
		last = cause
	} else {
		last = mapError(last, notFound)
	}
	if errors.Is(cause, context.Canceled) {
		return fmt.Errorf("client: %w: %w", cause, last)
	}
	return fmt.Errorf("%w: %w: last error: %w", ErrUnavailable, cause, last)
}
