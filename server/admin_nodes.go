package server

import (
	"context"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Membership calls of the Admin service (membership*.go does the work).

func (a *adminService) JoinCluster(ctx context.Context, req *tpb.JoinClusterRequest) (*tpb.JoinClusterResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.JoinCluster, func() (*tpb.JoinClusterResponse, error) {
		resp, err := a.n.joinCluster(ctx, req)
		return resp, toStatus(err)
	})
}

func (a *adminService) NodeHeartbeat(_ context.Context, req *tpb.NodeHeartbeatRequest) (*tpb.NodeHeartbeatResponse, error) {
	if err := a.n.nodeHeartbeat(req); err != nil {
		return nil, toStatus(err)
	}
	return &tpb.NodeHeartbeatResponse{}, nil
}

func (a *adminService) DrainNode(ctx context.Context, req *tpb.DrainNodeRequest) (*tpb.DrainNodeResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.DrainNode, func() (*tpb.DrainNodeResponse, error) {
		ni, err := a.n.drainNode(ctx, req.NodeId)
		if err != nil {
			return nil, toStatus(err)
		}
		return &tpb.DrainNodeResponse{Node: ni}, nil
	})
}

func (a *adminService) RemoveNode(ctx context.Context, req *tpb.RemoveNodeRequest) (*tpb.RemoveNodeResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.RemoveNode, func() (*tpb.RemoveNodeResponse, error) {
		ni, err := a.n.removeNode(ctx, req.NodeId)
		if err != nil {
			return nil, toStatus(err)
		}
		return &tpb.RemoveNodeResponse{Node: ni}, nil
	})
}

func (a *adminService) TransferLeader(_ context.Context, req *tpb.TransferLeaderRequest) (*tpb.TransferLeaderResponse, error) {
	if err := a.n.transferLeader(req); err != nil {
		return nil, toStatus(err)
	}
	return &tpb.TransferLeaderResponse{}, nil
}

func (a *adminService) MoveStep(ctx context.Context, req *tpb.MoveStepRequest) (*tpb.MoveStepResponse, error) {
	resp, err := a.n.moveStep(ctx, req)
	return resp, toStatus(err)
}

func (a *adminService) Rebalance(ctx context.Context, req *tpb.RebalanceRequest) (*tpb.RebalanceResponse, error) {
	return onMetaLeaderOrLocal(a.n, ctx, req, tpb.AdminClient.Rebalance, func() (*tpb.RebalanceResponse, error) {
		return a.n.rebalanceView(), nil
	})
}
