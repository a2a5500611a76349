package client

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Config configures a Client. Start from DefaultConfig and set Addrs.
type Config struct {
	// Addrs are the RPC addresses (host:port) of one or more nodes of the
	// cluster. Any node answers admin and routing calls; the client learns
	// the other nodes from the routes.
	Addrs []string
	// DialTimeout bounds how long Dial waits for the first node to become
	// reachable. Zero makes Dial lazy: nothing is contacted until the first
	// call.
	DialTimeout time.Duration
	// RequestTimeout bounds a call, retries included, when its context has
	// no deadline of its own.
	RequestTimeout time.Duration
	// InitialBackoff is the first pause between retries; it doubles on
	// every retry up to MaxBackoff, with jitter.
	InitialBackoff time.Duration
	// MaxBackoff caps the pause between retries.
	MaxBackoff time.Duration
	// Logger receives debug logs about retries and route refreshes. Nil
	// means no logging.
	Logger *zap.Logger
	// TLS, when set, makes every connection TLS with this config: its
	// RootCAs verify the nodes, its Certificates (optional) are presented
	// as a client certificate. LoadTLS builds one from PEM files. Nil means
	// plaintext.
	TLS *tls.Config
	// Token, when set, is sent as `authorization: Bearer TOKEN` on every
	// call to a cluster that runs with --auth-tokens. Without TLS it is
	// sent only to loopback addresses (a development setup); a call to any
	// other address fails with ErrInvalidArgument rather than send the
	// token in clear.
	Token string
	// BatchOps caps how many concurrent data operations on one partition
	// (Get, Set, Del, MultiGet, MultiSet, scan pages) share one gRPC call
	// (a lone call never waits for others to join). Zero means 128; 1 sends
	// every operation at once in a call of its own.
	BatchOps int
}

// batchOps returns the effective BatchOps.
func (c Config) batchOps() int {
	if c.BatchOps == 0 {
		return defaultBatchOps
	}
	return c.BatchOps
}

// DefaultConfig returns the defaults: a 5s dial timeout, a 10s request
// timeout, backoff from 10ms to 250ms, and no logging. Addrs is empty.
func DefaultConfig() Config {
	return Config{
		DialTimeout:    5 * time.Second,
		RequestTimeout: 10 * time.Second,
		InitialBackoff: 10 * time.Millisecond,
		MaxBackoff:     250 * time.Millisecond,
		Logger:         zap.NewNop(),
	}
}

// Validate reports the first problem with c, wrapping ErrInvalidArgument.
func (c Config) Validate() error {
	var problem string
	switch {
	case len(c.Addrs) == 0:
		problem = "no addresses"
	case c.DialTimeout < 0:
		problem = fmt.Sprintf("dial timeout %v is negative", c.DialTimeout)
	case c.RequestTimeout <= 0:
		problem = fmt.Sprintf("request timeout %v must be positive", c.RequestTimeout)
	case c.InitialBackoff <= 0:
		problem = fmt.Sprintf("initial backoff %v must be positive", c.InitialBackoff)
	case c.BatchOps < 0:
		problem = fmt.Sprintf("batch ops %d is negative", c.BatchOps)
	case c.MaxBackoff < c.InitialBackoff:
		problem = fmt.Sprintf("max backoff %v is below initial backoff %v", c.MaxBackoff, c.InitialBackoff)
	}
	if problem == "" {
		problem = addrsProblem(c.Addrs)
	}
	if problem != "" {
		return fmt.Errorf("%w: config: %s", ErrInvalidArgument, problem)
	}
	return nil
}

// addrsProblem describes the first empty address in addrs, or returns "".
func addrsProblem(addrs []string) string {
	for i, a := range addrs {
		if a == "" {
			return fmt.Sprintf("address %d is empty", i)
		}
	}
	return ""
}

// SplitAddrs splits a comma-separated list of node addresses ("h1:p1,h2:p2"),
// dropping blanks; the command-line tools take their --addr this way.
func SplitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
