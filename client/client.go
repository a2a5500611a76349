package client

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Client is a connection to a Tandem cluster. It is safe for concurrent use
// and should be shared: it keeps one gRPC connection per node and one
// routing cache per table.
type Client struct {
	cfg   Config
	lg    *zap.Logger
	pool  *connPool
	admin tandempb.AdminClient

	mu      sync.Mutex
	routes  map[string]*routeCache
	batches map[string]*tableBatches
}

// Dial connects to the cluster through the nodes at addrs with the default
// configuration.
func Dial(ctx context.Context, addrs ...string) (*Client, error) {
	cfg := DefaultConfig()
	cfg.Addrs = addrs
	return DialConfig(ctx, cfg)
}

// DialConfig connects to the cluster as cfg says. Unless cfg.DialTimeout is
// zero it waits until at least one of cfg.Addrs is reachable, and fails
// with ErrUnavailable when none is within the timeout.
func DialConfig(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	c := &Client{
		cfg:     cfg,
		lg:      cfg.Logger.Named("client"),
		pool:    newConnPool(cfg),
		routes:  make(map[string]*routeCache),
		batches: make(map[string]*tableBatches),
	}
	c.admin = tandempb.NewAdminClient(&adminConn{c: c})
	if cfg.DialTimeout == 0 {
		return c, nil
	}
	if err := c.waitReachable(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// waitReachable returns once a connection to one of the configured
// addresses is ready, or fails when DialTimeout or ctx ends first.
func (c *Client) waitReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	ready := make(chan struct{}, len(c.cfg.Addrs))
	for _, addr := range c.cfg.Addrs {
		cc, err := c.pool.get(addr)
		if err != nil {
			return err
		}
		go func() {
			if waitReady(ctx, cc) {
				ready <- struct{}{}
			}
		}()
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: no node of %v reachable: %w", ErrUnavailable, c.cfg.Addrs, ctx.Err())
	}
}

// waitReady drives cc to connect and reports whether it got ready before
// ctx ended.
func waitReady(ctx context.Context, cc *grpc.ClientConn) bool {
	cc.Connect()
	for {
		s := cc.GetState()
		if s == connectivity.Ready {
			return true
		}
		if s == connectivity.TransientFailure || s == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

// Close closes every connection. Calls in flight fail and later calls
// return ErrClosed.
func (c *Client) Close() error {
	return c.pool.close()
}

// Admin returns a client of the Admin service. Its calls go to any
// reachable configured node (the server forwards what needs the metadata
// leader), move on to another node when one is unavailable, and get the
// client's RequestTimeout when their context has no deadline. Errors are
// raw gRPC status errors; the helpers on Client map them to sentinels.
func (c *Client) Admin() tandempb.AdminClient {
	return c.admin
}

// invoke makes one unary call to the node at addr.
func (c *Client) invoke(ctx context.Context, addr, method string, args, reply any, opts ...grpc.CallOption) error {
	cc, err := c.pool.get(addr)
	if err != nil {
		return err
	}
	err = cc.Invoke(ctx, method, args, reply, opts...)
	if err != nil && c.pool.isClosed() {
		return ErrClosed
	}
	return err
}

// kvAt returns a KV client bound to the node at addr.
func (c *Client) kvAt(addr string) tandempb.KVClient {
	return tandempb.NewKVClient(nodeConn{c: c, addr: addr})
}

// adminAt returns an Admin client bound to the node at addr, without the
// failover of Admin.
func (c *Client) adminAt(addr string) tandempb.AdminClient {
	return tandempb.NewAdminClient(nodeConn{c: c, addr: addr})
}

// nodeConn is a grpc.ClientConnInterface bound to one node through the
// pool, so that every call notices a closed client the same way.
type nodeConn struct {
	c    *Client
	addr string
}

// Invoke implements grpc.ClientConnInterface.
func (n nodeConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return n.c.invoke(ctx, n.addr, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (n nodeConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, err := n.c.pool.get(n.addr)
	if err != nil {
		return nil, err
	}
	return cc.NewStream(ctx, desc, method, opts...)
}
