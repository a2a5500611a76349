package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// Disaster recovery's Admin calls (issue 13): made by the duplication
// package, wired here. Switchover runs on the source's meta leader;
// AcceptSwitchover is its call to the remote's; DupPartitionStep is a
// partition leader's step of either.

// SwitchoverDuplication runs dup switchover on the source cluster.
func (a *adminService) SwitchoverDuplication(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.SwitchoverResponse, error) {
	if _, err := a.n.dup.Find(req.Table, req.DupId); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.SwitchoverDuplication, func() (*tpb.SwitchoverResponse, error) {
		resp, err := a.n.dup.Switchover(ctx, req.Table, req.DupId)
		return resp, toStatus(err)
	})
}

// AcceptSwitchover runs on the remote cluster, called by the source.
func (a *adminService) AcceptSwitchover(ctx context.Context, req *tpb.AcceptSwitchoverRequest) (*tpb.AcceptSwitchoverResponse, error) {
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.AcceptSwitchover, func() (*tpb.AcceptSwitchoverResponse, error) {
		resp, err := a.n.dup.AcceptSwitchover(ctx, req)
		return resp, toStatus(err)
	})
}

// DupPartitionStep takes a switchover step on this node's leader replica.
func (a *adminService) DupPartitionStep(ctx context.Context, req *tpb.DupStepRequest) (*tpb.DupStepResponse, error) {
	return a.n.dup.PartitionStep(ctx, req)
}

// switchoverRefusal is the error a write to table t gets while its
// primary moves to another cluster or after it moved: nil otherwise.
func (n *Node) switchoverRefusal(t *TableMeta) error {
	if f := t.Follower; f != nil && f.SwitchedFrom != "" {
		return &duplication.SwitchedOverError{Table: t.Name, Cluster: f.SourceCluster, Addrs: f.SourceAddrs, Done: true}
	}
	for _, d := range n.meta.dups(t.Name) {
		if d.State == duplication.StateSwitching {
			return &duplication.SwitchedOverError{Table: t.Name, Cluster: d.RemoteCluster, Addrs: []string{d.RemoteAddr}}
		}
	}
	return nil
}

// fencedWrite explains a write the partition's fence refused: the table is
// being (or was) switched over.
func (n *Node) fencedWrite(table string, err error) error {
	if !errors.Is(err, replica.ErrFenced) {
		return err
	}
	if t, ok := n.table(table); ok {
		if serr := n.switchoverRefusal(t); serr != nil {
			return serr
		}
	}
	return &duplication.SwitchedOverError{Table: table}
}

// drStatus translates disaster recovery's errors at the gRPC edge: a
// switched-over table's refusal names the new primary in an ErrorInfo.
func drStatus(err error) (error, bool) {
	var so *duplication.SwitchedOverError
	switch {
	case errors.As(err, &so):
		st := status.New(codes.FailedPrecondition, err.Error())
		info := &errdetails.ErrorInfo{Domain: tpb.ErrorDomain, Reason: tpb.ReasonSwitchedOver, Metadata: map[string]string{
			tpb.MetaTable: so.Table, tpb.MetaNewPrimaryCluster: so.Cluster, tpb.MetaNewPrimaryAddrs: strings.Join(so.Addrs, ",")}}
		if d, derr := st.WithDetails(info); derr == nil {
			st = d
		}
		return st.Err(), true
	case errors.Is(err, duplication.ErrCycle):
		return withReason(codes.AlreadyExists, err.Error(), tpb.ReasonDupCycle), true
	case errors.Is(err, duplication.ErrFailedOver):
		return withReason(codes.FailedPrecondition, err.Error(), tpb.ReasonFailedOver), true
	case errors.Is(err, duplication.ErrRefused):
		return withReason(codes.FailedPrecondition, err.Error(), tpb.ReasonDupRefused), true
	case errors.Is(err, replica.ErrFenced):
		return drStatus(&duplication.SwitchedOverError{})
	}
	return nil, false
}

// PromoteFollower runs dup promote on the remote cluster.
func (a *adminService) PromoteFollower(ctx context.Context, req *tpb.PromoteRequest) (*tpb.PromoteResponse, error) {
	if _, err := a.n.findTable(ctx, req.Table); err != nil {
		return nil, toStatus(err)
	}
	return onMetaLeader(a.n, ctx, req, tpb.AdminClient.PromoteFollower, func() (*tpb.PromoteResponse, error) {
		resp, err := a.n.dup.Promote(ctx, req.Table, req.Force)
		return resp, toStatus(err)
	})
}

// CheckFollower answers a source's check of this cluster's follower table.
func (a *adminService) CheckFollower(ctx context.Context, req *tpb.DuplicationRequest) (*tpb.CheckFollowerResponse, error) {
	if err := a.n.dup.CheckFollower(req.Table, req.DupId); err != nil {
		return nil, toStatus(err)
	}
	return &tpb.CheckFollowerResponse{}, nil
}

// cycleRefusal refuses a follower table that would close a cycle: this
// cluster's table reaches the cluster asking already, directly or along a
// chain (duplication.CheckCycle). Only a switchover reverses a duplication.
func (n *Node) cycleRefusal(ctx context.Context, t *TableMeta, spec *tpb.FollowerSpec) error {
	if err := n.dup.CheckCycle(ctx, t.Name, spec.SourceCluster); err != nil {
		return toStatus(err)
	}
	return nil
}
