package client

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tandem-kv/tandem/internal/netaddr"
)

// dialOptions are the options of every connection the client opens to
// addr: TLS and the token as cfg says, the message size caps (gRPC's
// default of 4 MiB is too small for a full scan page of large values) and
// keepalive (limits.go).
func dialOptions(cfg Config, addr string) ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	opts := append(transportOptions(), grpc.WithTransportCredentials(creds))
	if cfg.Token == "" {
		return opts, nil
	}
	if cfg.TLS == nil && !netaddr.Loopback(addr) {
		return nil, fmt.Errorf("%w: refusing to send the token in clear to %s (not a loopback address): configure TLS", ErrInvalidArgument, addr)
	}
	return append(opts, grpc.WithPerRPCCredentials(bearerToken(cfg.Token))), nil
}

// connPool holds one *grpc.ClientConn per node address. gRPC connections
// multiplex concurrent calls and reconnect on their own, so one per address
// is enough; the pool is safe for concurrent use.
type connPool struct {
	cfg    Config
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

func newConnPool(cfg Config) *connPool {
	return &connPool{cfg: cfg, conns: make(map[string]*grpc.ClientConn)}
}

// get returns the connection to addr, creating it (without blocking) on
// first use.
func (p *connPool) get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if cc, ok := p.conns[addr]; ok {
		return cc, nil
	}
	opts, err := dialOptions(p.cfg, addr)
	if err != nil {
		return nil, err
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %w", ErrInvalidArgument, addr, err)
	}
	p.conns[addr] = cc
	return cc, nil
}

// isClosed reports whether close has been called.
func (p *connPool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// close closes every connection; later gets fail with ErrClosed.
func (p *connPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for addr, cc := range p.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", addr, err))
		}
	}
	p.conns = nil
	return errors.Join(errs...)
}
