package server

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/rocksdb"
)

// Peer is one node of the cluster as named in --peers.
type Peer struct {
	ID   string
	Addr string
}

// Config is a node's static configuration; flags in cmd/tandem-server map
// onto it. Values that change at run time live in the meta group instead.
type Config struct {
	NodeID   string
	Addr     string
	HTTPAddr string
	DataDir  string
	Cluster  string
	// Peers lists every node of the cluster, this one included. Empty means
	// a single-node cluster of this node alone.
	Peers []Peer
	// Join, when set, is the address of any member of a running cluster
	// this node joins (instead of Peers).
	Join string
	// AdvertiseAddr is the address other nodes, remote clusters and clients
	// are told to use for this node (routes, leader hints, duplication
	// sources): set it when the node is reached through a load balancer, a
	// proxy or NAT. Empty: the address it listens on.
	AdvertiseAddr string
	// Listener, when set, is used instead of listening on Addr (tests bind
	// 127.0.0.1:0 first so peers know each other's ports).
	Listener net.Listener
	Raft     replica.RaftTiming
	RocksDB  rocksdb.Config
	// DefaultPartitions and the limits below are defaults; operators change
	// the limits at run time with `config set`.
	DefaultPartitions uint32
	Now               func() time.Time
	Logger            *zap.Logger
	// TLS, when set, puts the RPC port (gRPC and raft) under TLS and is
	// the node's identity on its outgoing connections (see security.go).
	TLS *TLSIdentity
	// AuthTokens, when set, makes every gRPC call need a role: a token of
	// the set, or a client certificate signed by TLS's CA (role admin).
	AuthTokens *Tokens
	// AuthToken is the bearer token the node presents on its outgoing
	// gRPC calls, to its peers and to remote clusters; empty: none.
	AuthToken string
}

// DefaultConfig returns a single-node configuration on loopback ports.
func DefaultConfig() Config {
	return Config{
		NodeID:            "n1",
		Addr:              "127.0.0.1:7100",
		HTTPAddr:          "127.0.0.1:7180",
		DataDir:           "./data/n1",
		Cluster:           "default",
		Raft:              replica.DefaultRaftTiming(),
		RocksDB:           rocksdb.DefaultConfig(),
		DefaultPartitions: 8,
		Now:               time.Now,
		Logger:            zap.NewNop(),
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("server config: node id is empty")
	case c.Addr == "" && c.Listener == nil:
		return errors.New("server config: addr is empty")
	case c.AdvertiseAddr != "" && !validHostPort(c.AdvertiseAddr):
		return fmt.Errorf("server config: advertise address %q: want HOST:PORT", c.AdvertiseAddr)
	case c.DataDir == "":
		return errors.New("server config: data dir is empty")
	case c.Logger == nil || c.Now == nil:
		return errors.New("server config: Logger and Now are required")
	}
	if !validName(c.Cluster) {
		return fmt.Errorf("server config: cluster name %q: %w", c.Cluster, ErrInvalidName)
	}
	seen := map[string]bool{}
	self := false
	for _, p := range c.Peers {
		if p.ID == "" || p.Addr == "" || seen[p.ID] {
			return fmt.Errorf("server config: peer %q=%q is empty or repeated", p.ID, p.Addr)
		}
		seen[p.ID] = true
		self = self || p.ID == c.NodeID
	}
	if c.Join != "" && (len(c.Peers) > 0 || !validHostPort(c.Join)) {
		return fmt.Errorf("server config: --join %q: want HOST:PORT of a member, and no --peers", c.Join)
	}
	if len(c.Peers) > 0 && !self {
		return fmt.Errorf("server config: --peers does not name this node %q", c.NodeID)
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	return c.RocksDB.Validate()
}

// peers returns the cluster's nodes sorted by id, with this node's address
// filled in for a single-node cluster.
func (c Config) peers(selfAddr string) []Peer {
	ps := append([]Peer(nil), c.Peers...)
	if len(ps) == 0 {
		ps = []Peer{{ID: c.NodeID, Addr: selfAddr}}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != ""
}

// ParsePeers parses "n1=127.0.0.1:7100,n2=127.0.0.1:7101".
func ParsePeers(s string) ([]Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ps []Peer
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("peer %q: want ID=HOST:PORT", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peer %q: %w", part, err)
		}
		ps = append(ps, Peer{ID: id, Addr: addr})
	}
	return ps, nil
}
