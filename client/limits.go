package client

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// MaxMessageBytes is the largest request the client sends and the largest
// reply it accepts, the same cap the nodes enforce (80 MiB).
const MaxMessageBytes = tandempb.MaxMessageBytes

// Keepalive: the client pings a connection idle for keepaliveTime (through
// NATs and load balancers that drop flows idle for a minute or more) and
// drops it when a ping goes unanswered for keepaliveTimeout. Nodes accept
// pings every 5s or slower (server/grpcops.go), so these never count as
// abuse.
const (
	keepaliveTime    = 30 * time.Second
	keepaliveTimeout = 10 * time.Second
)

// transportOptions are the size caps and keepalive of every connection.
func transportOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
	}
}

// messageTooLarge reports whether st is gRPC refusing a message over a size
// cap (either side's), which mapError turns into ErrMessageTooLarge.
func messageTooLarge(st *status.Status) bool {
	return st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "message larger than max")
}

// tooLargeError is ErrMessageTooLarge with the limit and gRPC's figures.
func tooLargeError(st *status.Status) error {
	return fmt.Errorf("%w: the limit is %d bytes (client.MaxMessageBytes): %s", ErrMessageTooLarge, MaxMessageBytes, st.Message())
}
