package server

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// maxMessageBytes caps one gRPC message (tandempb.MaxMessageBytes); it sits
// above the value limit so an oversized value gets our InvalidArgument
// naming the limit, not a transport error.
const maxMessageBytes = tpb.MaxMessageBytes

// Keepalive: the node pings a connection idle for serverPingInterval so NATs
// and load balancers that drop idle flows after a minute or more keep it,
// and drops a peer that does not answer within serverPingTimeout. It
// accepts clients' pings every minClientPing or slower, with or without
// calls in flight: the SDK pings every 30s (client/pool.go), the nodes'
// own connections likewise (KeepaliveDialOption).
const (
	serverPingInterval = 30 * time.Second
	serverPingTimeout  = 10 * time.Second
	minClientPing      = 5 * time.Second
	clientPingInterval = 30 * time.Second
	clientPingTimeout  = 10 * time.Second
)

// servedServices are the services whose grpc.health.v1 status follows the
// node's readiness; "" is the node as a whole.
var servedServices = []string{"", tpb.KV_ServiceDesc.ServiceName, tpb.Admin_ServiceDesc.ServiceName, tpb.Duplication_ServiceDesc.ServiceName}

// keepaliveServerOptions are the keepalive settings every node serves
// with (the message size caps are in startGRPC).
func keepaliveServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverPingInterval, Timeout: serverPingTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minClientPing, PermitWithoutStream: true}),
	}
}

// keepaliveDialOption is the keepalive of the node's outgoing connections
// (other nodes, remote clusters; dialOptions): within what
// keepaliveServerOptions accepts.
func keepaliveDialOption() grpc.DialOption {
	return grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: clientPingInterval, Timeout: clientPingTimeout, PermitWithoutStream: true})
}

// registerOps adds the standard services operators' tools expect: server
// reflection (grpcurl list/describe) and grpc.health.v1, every service
// NOT_SERVING until the node is ready (markServing).
func (n *Node) registerOps() {
	n.health = health.NewServer()
	for _, s := range servedServices {
		n.health.SetServingStatus(s, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(n.grpc, n.health)
	reflection.Register(n.grpc)
}

// markServing reports the node and its services SERVING once it is ready.
func (n *Node) markServing() {
	if n.health == nil {
		return
	}
	for _, s := range servedServices {
		n.health.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
}

// markStopping reports every service NOT_SERVING for good, before the node
// drains its calls, so load balancers move clients away first.
func (n *Node) markStopping() {
	if n.health != nil {
		n.health.Shutdown()
	}
}
