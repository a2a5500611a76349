package client

import (
	"context"
	"fmt"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Table is a handle on one table of the cluster, obtained from
// Client.Table. It is cheap, safe for concurrent use, and shares its
// routing cache with every other handle of the same table.
//
// A write is retried only when it provably was not proposed; when its
// outcome is unknown (its leader failed in the middle of the call, or the
// caller's deadline passed after it was sent) it returns ErrAmbiguous; one
// that was still queued when the deadline passed was never sent and
// returns ErrUnavailable. Concurrent data operations on one partition
// share calls (see Config.BatchOps): Gets, MultiGets and scan pages one
// BatchGet and its read barrier, Sets, Dels and MultiSets (with or without
// a TTL) one BatchWrite, applied atomically with the others of its call in
// one raft entry. Count is a call of its own.
type Table struct {
	c       *Client
	name    string
	route   *routeCache
	batches *tableBatches
}

// Table returns a handle on the table name after fetching its route. It
// fails with ErrTableNotFound when the table does not exist.
func (c *Client) Table(ctx context.Context, name string) (*Table, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty table name", ErrInvalidArgument)
	}
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.admin.Route(ctx, &tandempb.RouteRequest{Table: name})
	if err != nil {
		return nil, c.adminError(ctx, err, ErrTableNotFound)
	}
	route := c.routeCache(name)
	route.update(resp)
	return &Table{c: c, name: name, route: route, batches: c.tableBatches(name)}, nil
}

// routeCache returns the shared routing cache of table name.
func (c *Client) routeCache(name string) *routeCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.routes[name]
	if !ok {
		r = &routeCache{}
		c.routes[name] = r
	}
	return r
}

// tableBatches returns the shared batching queues of table name.
func (c *Client) tableBatches(name string) *tableBatches {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.batches[name]
	if !ok {
		b = &tableBatches{queues: make(map[int]*batchQueue)}
		c.batches[name] = b
	}
	return b
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Partitions returns the table's partition count, fixed at its creation.
func (t *Table) Partitions() int { return t.route.partitions() }

// Info returns the table's metadata as of the last route refresh.
func (t *Table) Info() *tandempb.TableInfo { return t.route.tableInfo() }

// partitionOf returns the partition that holds hashKey.
func (t *Table) partitionOf(hashKey []byte) int {
	return int(tandempb.PartitionOf(hashKey, uint32(t.Partitions())))
}

// checkHashKey rejects an empty hash key before it is routed anywhere.
func checkHashKey(hashKey []byte) error {
	if len(hashKey) == 0 {
		return fmt.Errorf("%w: hash key is empty", ErrInvalidArgument)
	}
	return nil
}

// checkPartition rejects a partition index outside the table.
func (t *Table) checkPartition(p int) error {
	if p < 0 || p >= t.Partitions() {
		return fmt.Errorf("%w: partition %d out of range [0, %d)", ErrInvalidArgument, p, t.Partitions())
	}
	return nil
}
