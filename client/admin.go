package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// CreateTable creates a table of the given partition and replica counts;
// zero means the server's default (8 partitions, min(3, nodes) replicas).
func (c *Client) CreateTable(ctx context.Context, name string, partitions, replicas int) (*tandempb.TableInfo, error) {
	if partitions < 0 || replicas < 0 {
		return nil, fmt.Errorf("%w: negative partitions %d or replicas %d", ErrInvalidArgument, partitions, replicas)
	}
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req := &tandempb.CreateTableRequest{Name: name, Partitions: uint32(partitions), Replicas: uint32(replicas)}
	resp, err := c.admin.CreateTable(withRequestID(ctx), req)
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetTable(), nil
}

// DropTable drops the table name; ErrTableNotFound when there is none.
func (c *Client) DropTable(ctx context.Context, name string) error {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if _, err := c.admin.DropTable(ctx, &tandempb.DropTableRequest{Name: name}); err != nil {
		return c.adminError(ctx, err, ErrTableNotFound)
	}
	c.mu.Lock()
	delete(c.routes, name)
	c.mu.Unlock()
	return nil
}

// ListTables returns every table of the cluster.
func (c *Client) ListTables(ctx context.Context) ([]*tandempb.TableInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ListTables(ctx, &tandempb.ListTablesRequest{})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetTables(), nil
}

// Nodes returns the cluster's name and its nodes as the answering node sees
// them.
func (c *Client) Nodes(ctx context.Context) (*tandempb.NodesResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.Nodes(ctx, &tandempb.NodesRequest{})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp, nil
}

// Partitions returns the table's metadata and, per partition, its leader,
// replicas, applied decree and size.
func (c *Client) Partitions(ctx context.Context, table string) (*tandempb.PartitionsResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.Partitions(ctx, &tandempb.PartitionsRequest{Table: table})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp, nil
}

// GetConfig returns the runtime config entry key, or every entry when key
// is empty. An unknown key is ErrNotFound (or ErrInvalidArgument, as the
// server chooses).
func (c *Client) GetConfig(ctx context.Context, key string) ([]*tandempb.ConfigEntry, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.GetConfig(ctx, &tandempb.GetConfigRequest{Key: key})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp.GetEntries(), nil
}

// SetConfig sets the runtime config entry key to value and returns the
// entry as stored.
func (c *Client) SetConfig(ctx context.Context, key, value string) (*tandempb.ConfigEntry, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.SetConfig(ctx, &tandempb.SetConfigRequest{Key: key, Value: value})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp.GetEntry(), nil
}

// withRequestID gives one metadata change an id (tandempb.RequestIDHeader).
// The admin connection retries a call on another node when an attempt
// fails without saying whether it was applied; the same id on every attempt
// lets the server answer a retry of an applied change with its result.
func withRequestID(ctx context.Context) context.Context {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return metadata.AppendToOutgoingContext(ctx, tandempb.RequestIDHeader, hex.EncodeToString(b[:]))
}

// adminError maps the error of an Admin call: a retryable error that
// outlived ctx becomes ErrUnavailable, the rest map as KV errors do, with
// codes.NotFound standing for notFound.
func (c *Client) adminError(ctx context.Context, err error, notFound error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	if kind, _ := classify(err); kind != kindFatal && expired(ctx) {
		return giveUp(ctx, err, notFound)
	}
	return mapError(err, notFound)
}

// ListCheckpoints returns each partition leader's checkpoints of table.
func (c *Client) ListCheckpoints(ctx context.Context, table string) ([]*tandempb.CheckpointInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ListCheckpoints(ctx, &tandempb.ListCheckpointsRequest{Table: table})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetCheckpoints(), nil
}

// CreateCheckpoint asks every listed partition's leader (all when
// partitions is empty) for a checkpoint at its current decree and waits.
// Per-partition failures are reported in the results' Error fields.
func (c *Client) CreateCheckpoint(ctx context.Context, table string, partitions ...uint32) ([]*tandempb.CheckpointResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.CreateCheckpoint(ctx, &tandempb.CreateCheckpointRequest{Table: table, Partitions: partitions})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetResults(), nil
}

// AddDuplication starts duplicating table to the cluster at remoteAddr and
// returns the duplication (options: see DupAddOption).
func (c *Client) AddDuplication(ctx context.Context, table, remoteAddr string, opts ...DupAddOption) (*tandempb.DuplicationInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req := &tandempb.AddDuplicationRequest{Table: table, RemoteAddr: remoteAddr}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.admin.AddDuplication(withRequestID(ctx), req)
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetDuplication(), nil
}

// ListDuplications lists duplications (of table, or all when empty).
func (c *Client) ListDuplications(ctx context.Context, table string) ([]*tandempb.DuplicationInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ListDuplications(ctx, &tandempb.ListDuplicationsRequest{Table: table})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	return resp.GetDuplications(), nil
}

// ShowDuplication returns a duplication with per-partition progress.
func (c *Client) ShowDuplication(ctx context.Context, table, id string) (*tandempb.ShowDuplicationResponse, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.ShowDuplication(ctx, &tandempb.DuplicationRequest{Table: table, DupId: id})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp, nil
}

// PauseDuplication stops shipping (the source keeps the log, within its cap).
func (c *Client) PauseDuplication(ctx context.Context, table, id string) (*tandempb.DuplicationInfo, error) {
	return c.dupOp(ctx, table, id, c.admin.PauseDuplication)
}

// StartDuplication resumes a paused duplication from its confirmed decree.
func (c *Client) StartDuplication(ctx context.Context, table, id string) (*tandempb.DuplicationInfo, error) {
	return c.dupOp(ctx, table, id, c.admin.StartDuplication)
}

// RemoveDuplication removes a duplication; the remote table becomes writable.
func (c *Client) RemoveDuplication(ctx context.Context, table, id string) (*tandempb.DuplicationInfo, error) {
	return c.dupOp(ctx, table, id, c.admin.RemoveDuplication)
}

func (c *Client) dupOp(ctx context.Context, table, id string,
	op func(context.Context, *tandempb.DuplicationRequest, ...grpc.CallOption) (*tandempb.DuplicationResponse, error)) (*tandempb.DuplicationInfo, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := op(ctx, &tandempb.DuplicationRequest{Table: table, DupId: id})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrNotFound)
	}
	return resp.GetDuplication(), nil
}
