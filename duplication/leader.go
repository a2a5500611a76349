package duplication

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// maxImmediateRedirects bounds the NotLeader hints a puller follows
// without a pause, so two source nodes naming each other during an
// election cannot make it spin.
const maxImmediateRedirects = 3

// routeTimeout bounds one source node's answer to a route lookup.
const routeTimeout = 3 * time.Second

// sourceLeader finds and remembers the leader of a source partition, as
// every caller of a partition leader does (tandempb's leader discovery): a
// NotLeader answer naming the leader is followed at once; any other
// failure forgets the leader, and the next call asks the source nodes for
// the table's route.
type sourceLeader struct {
	table     string
	partition uint32
	addrs     []string
	dial      func(addr string) (*grpc.ClientConn, error)

	mu        sync.Mutex
	addr      string
	redirects int
}

// client returns a Duplication client for the source partition's leader
// and the leader's address.
func (l *sourceLeader) client(ctx context.Context) (tpb.DuplicationClient, string, error) {
	conn, addr, err := l.conn(ctx)
	if err != nil {
		return nil, "", err
	}
	return tpb.NewDuplicationClient(conn), addr, nil
}

// conn returns a connection to the partition's leader and its address.
func (l *sourceLeader) conn(ctx context.Context) (*grpc.ClientConn, string, error) {
	addr := l.current()
	if addr == "" {
		var err error
		if addr, err = l.find(ctx); err != nil {
			return nil, "", err
		}
		l.mu.Lock()
		l.addr = addr
		l.mu.Unlock()
	}
	conn, err := l.dial(addr)
	if err != nil {
		return nil, "", err
	}
	return conn, addr, nil
}

func (l *sourceLeader) current() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

// find asks the source nodes, in turn, for the partition's leader.
func (l *sourceLeader) find(ctx context.Context) (string, error) {
	resp, err := tpb.FindRoute(ctx, tpb.RouteQuery{
		Table: l.table, Addrs: l.addrs, CallTimeout: routeTimeout,
		Admin: func(addr string) (tpb.AdminClient, error) {
			conn, err := l.dial(addr)
			if err != nil {
				return nil, err
			}
			return tpb.NewAdminClient(conn), nil
		},
		Accept: func(r *tpb.RouteResponse) bool { return r.LeaderOf(l.partition) != "" },
	})
	if err != nil {
		return "", fmt.Errorf("%w (sources %v): %v", ErrNoSourceLeader, l.addrs, err)
	}
	return resp.LeaderOf(l.partition), nil
}

// follow handles the failure of a call to the leader: it reports whether
// the answer named another leader to call at once, and otherwise forgets
// the leader.
func (l *sourceLeader) follow(err error) bool {
	kind, hint := tpb.ClassifyLeaderError(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if kind == tpb.LeaderRedirect && hint != l.addr && l.redirects < maxImmediateRedirects {
		l.addr = hint
		l.redirects++
		return true
	}
	l.addr, l.redirects = "", 0
	return false
}

// ok records a call the leader answered.
func (l *sourceLeader) ok() {
	l.mu.Lock()
	l.redirects = 0
	l.mu.Unlock()
}
