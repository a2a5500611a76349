package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Membership refusals. Each error of DrainNode and RemoveNode for one of
// these conditions wraps the sentinel below and keeps the server's message.
var (
	// ErrUnknownNode is returned for a node id the cluster does not have.
	ErrUnknownNode = errors.New("client: unknown node")
	// ErrNodeRemoved is returned for a node that was removed already.
	ErrNodeRemoved = errors.New("client: node was removed")
	// ErrLastCopy is returned by RemoveNode while the node holds the only
	// live replica of a partition.
	ErrLastCopy = errors.New("client: node holds the only copy of a partition")
	// ErrLastVoter is returned when draining or removing the node would
	// leave the meta group without a quorum, or tables without enough
	// nodes for their replicas.
	ErrLastVoter = errors.New("client: node is needed for a quorum")
	// ErrNotDrained is returned by RemoveNode of a node that is alive and
	// not draining.
	ErrNotDrained = errors.New("client: node is alive and not drained")
)

// nodeReasons maps the server's ErrorInfo reasons to the sentinels.
var nodeReasons = map[string]error{
	tandempb.ReasonUnknownNode: ErrUnknownNode,
	tandempb.ReasonNodeRemoved: ErrNodeRemoved,
	tandempb.ReasonLastCopy:    ErrLastCopy,
	tandempb.ReasonLastVoter:   ErrLastVoter,
	tandempb.ReasonNotDrained:  ErrNotDrained,
}

// nodeError is adminError for membership calls, with the refusal's own
// sentinel when the server named one.
func (c *Client) nodeError(ctx context.Context, err error) error {
	mapped := c.adminError(ctx, err, ErrUnknownNode)
	st, ok := status.FromError(err)
	if !ok {
		return mapped
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == tandempb.ErrorDomain {
			if sentinel := nodeReasons[info.GetReason()]; sentinel != nil {
				return fmt.Errorf("%w: %s", sentinel, st.Message())
			}
		}
	}
	return mapped
}

// DrainNode starts moving every replica, and with them every leadership,
// off node id while it runs; it returns once the node is draining. Watch
// Nodes (its replicas go to zero) or Rebalance; then RemoveNode.
func (c *Client) DrainNode(ctx context.Context, id string) (*tandempb.NodeInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.DrainNode(ctx, &tandempb.DrainNodeRequest{NodeId: id})
	if err != nil {
		return nil, c.nodeError(ctx, err)
	}
	return resp.GetNode(), nil
}

// RemoveNode removes a drained or dead node from the cluster: it leaves
// the meta group, and whatever is still placed on it moves to live nodes.
// Removing a removed node again is not an error. The id cannot join again.
func (c *Client) RemoveNode(ctx context.Context, id string) (*tandempb.NodeInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.RemoveNode(ctx, &tandempb.RemoveNodeRequest{NodeId: id})
	if err != nil {
		return nil, c.nodeError(ctx, err)
	}
	return resp.GetNode(), nil
}

// Rebalance returns the replica moves in progress and the number of
// partitions short of live replicas.
func (c *Client) Rebalance(ctx context.Context) (*tandempb.RebalanceResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.Rebalance(ctx, &tandempb.RebalanceRequest{})
	if err != nil {
		return nil, c.nodeError(ctx, err)
	}
	return resp, nil
}
