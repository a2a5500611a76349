package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes the pause before retry number attempt (0 for the first
// retry): exponential from initial, capped at max, with "equal jitter" so
// the pause lies in [d/2, d] and clients that failed together spread out.
func backoff(initial, max time.Duration, attempt int) time.Duration {
	d := initial
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleepCtx waits for d or until ctx ends, whichever is first, and reports
// ctx's error in the second case.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// withDefaultTimeout gives ctx the client's request timeout when it has no
// deadline of its own.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// expired reports whether ctx has ended or its deadline has passed; gRPC's
// own deadline timer can fire a moment before ctx records it.
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
