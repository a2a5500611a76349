package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// maxImmediateRedirects bounds the NotLeader redirects followed without a
// pause, so two nodes that name each other during an election cannot spin.
const maxImmediateRedirects = 3

// kvFunc is one attempt of a KV call against the given node.
type kvFunc func(ctx context.Context, kv tandempb.KVClient) error

// call runs fn against partition p's leader. It follows NotLeader
// redirects at once; when no leader is known or a node is unavailable it
// backs off, refreshes the route and tries again (another replica when the
// node failed) until ctx ends, then returns ErrUnavailable wrapping the last
// error. Other errors are mapped and returned without a retry.
//
// A write (write true) is retried only when the error proves the attempt
// had no effect (writeRefused: a NotLeader or not-ready answer, a
// validation refusal, or no connection at all). Any other failure of an
// attempt that may have reached a leader ends the call with ErrAmbiguous,
// however much time is left and whatever earlier attempts said.
func (t *Table) call(ctx context.Context, p int, write bool, fn kvFunc) error {
	ctx, cancel := withDefaultTimeout(ctx, t.c.cfg.RequestTimeout)
	defer cancel()
	var (
		last, retryable   error // the latest error, the latest retryable one
		avoid             string
		redirects, pauses int
	)
	// Without a known leader, calls start at different replicas, so one that
	// is down (and answers nothing a call could learn from) does not catch
	// every call.
	spread := rand.IntN(1 << 16)
	for attempt := 1; ; attempt++ {
		if err := t.beforeAttempt(ctx, retryable); err != nil {
			return err // nothing more is sent
		}
		addr, ok := t.route.target(p, attempt+spread, avoid)
		if !ok {
			last = errNoRoute(t.name, p)
		} else if last = fn(ctx, t.c.kvAt(addr)); last == nil {
			return nil
		}
		kind, leader := classify(last)
		if !ok {
			kind = kindNoLeader
		}
		if write && ok && !writeRefused(last) {
			if kind == kindUnavailable {
				t.route.forgetLeader(p, addr) // the next call looks elsewhere
			}
			return ambiguous(last)
		}
		switch kind {
		case kindFatal:
			err := mapError(last, ErrTableNotFound)
			if retryable != nil && (expired(ctx) || status.Code(last) == codes.DeadlineExceeded) {
				err = giveUp(ctx, retryable, ErrTableNotFound)
			}
			return err
		case kindRedirect:
			t.route.setLeader(p, leader)
			if redirects++; redirects <= maxImmediateRedirects && leader != addr {
				continue
			}
		case kindNoLeader:
			t.route.forgetLeader(p, addr)
		case kindUnavailable:
			t.route.forgetLeader(p, addr) // the next call looks elsewhere
			avoid = addr
		}
		retryable = last
		t.c.lg.Debug("kv call failed, retrying", zap.String("table", t.name),
			zap.Int("partition", p), zapAddr(addr), zap.Int("attempt", attempt), zapErr(last))
		redirects = 0
		if sleepCtx(ctx, backoff(t.c.cfg.InitialBackoff, t.c.cfg.MaxBackoff, pauses)) != nil {
			return giveUp(ctx, last, ErrTableNotFound)
		}
		pauses++
		if err := t.refreshRoute(ctx); err != nil {
			return err
		}
	}
}

// beforeAttempt refuses to start an attempt that could only fail after
// leaving the client: once ctx has ended (the attempt would come back as
// DeadlineExceeded, indistinguishable from a write that was sent) or the
// client is closed. The error says nothing was sent.
func (t *Table) beforeAttempt(ctx context.Context, retryable error) error {
	if t.c.pool.isClosed() {
		return ErrClosed
	}
	if expired(ctx) {
		return giveUp(ctx, retryable, ErrTableNotFound)
	}
	return nil
}

// ambiguous is the error of a write attempt that may have applied.
func ambiguous(err error) error {
	if errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: the client was closed while the write was out: %w", ErrAmbiguous, err)
	}
	mapped := mapError(err, ErrTableNotFound)
	if errors.Is(mapped, ErrAmbiguous) {
		return mapped
	}
	return fmt.Errorf("%w: %w", ErrAmbiguous, mapped)
}

// errNoRoute is the error of an attempt that found no node to send to; it
// is retried like an unavailable node.
func errNoRoute(table string, p int) error {
	return status.Errorf(codes.Unavailable, "no known node for table %q partition %d", table, p)
}

// refreshRoute asks the known nodes, one after the other, for the table's
// route and updates the cache from the first answer. Any node answers
// Route, so the configured addresses and every replica address are tried.
// It fails only when retrying is pointless: the table is gone or the
// client is closed; other failures leave the cache as it was.
func (t *Table) refreshRoute(ctx context.Context) error {
	resp, err := tandempb.FindRoute(ctx, tandempb.RouteQuery{
		Table: t.name,
		Addrs: append(slices.Clone(t.c.cfg.Addrs), t.route.addrs()...),
		Admin: func(addr string) (tandempb.AdminClient, error) { return t.c.adminAt(addr), nil },
		Final: routeFinal,
	})
	switch {
	case err == nil:
		t.route.update(resp)
		return nil
	case errors.Is(err, ErrClosed):
		return err
	case routeFinal(err):
		return mapError(err, ErrTableNotFound)
	}
	t.c.lg.Debug("route refresh failed", zap.String("table", t.name), zapErr(err))
	return nil
}

// routeFinal reports the route lookup errors that asking another node
// cannot change: the client is closed, the table is gone, the credentials
// are refused.
func routeFinal(err error) bool {
	switch {
	case errors.Is(err, ErrClosed):
		return true
	case status.Code(err) == codes.NotFound, status.Code(err) == codes.Unauthenticated, status.Code(err) == codes.PermissionDenied:
		return true
	}
	return false
}
