package client

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// adminConn is a grpc.ClientConnInterface over all the configured
// addresses: a unary call goes to the node that answered last, and on
// Unavailable moves on to the next node, backing off after each full round,
// until the context ends. Any node answers Admin calls, so this is all the
// routing they need.
type adminConn struct {
	c         *Client
	preferred atomic.Uint32
}

var _ grpc.ClientConnInterface = (*adminConn)(nil)

// Invoke implements grpc.ClientConnInterface.
func (a *adminConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx, cancel := withDefaultTimeout(ctx, a.c.cfg.RequestTimeout)
	defer cancel()
	addrs := a.c.cfg.Addrs
	start := int(a.preferred.Load())
	var retryable error
	for attempt := 0; ; attempt++ {
		i := (start + attempt) % len(addrs)
		err := a.c.invoke(ctx, addrs[i], method, args, reply, opts...)
		if err == nil {
			a.preferred.Store(uint32(i))
			return nil
		}
		if kind, _ := classify(err); kind == kindFatal {
			if retryable != nil && expired(ctx) {
				return retryable // more telling than the deadline itself
			}
			return err
		}
		retryable = err
		a.c.lg.Debug("admin call failed, trying next node",
			zapMethod(method), zapAddr(addrs[i]), zapErr(err))
		if (attempt+1)%len(addrs) != 0 {
			continue
		}
		round := (attempt + 1) / len(addrs)
		if sleepCtx(ctx, backoff(a.c.cfg.InitialBackoff, a.c.cfg.MaxBackoff, round-1)) != nil {
			return err
		}
	}
}

// NewStream implements grpc.ClientConnInterface; the Admin service has no
// streaming calls.
func (a *adminConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "client: admin streams are not supported")
}
