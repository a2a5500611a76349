package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// defaultPartitions is the servers' partition count when create is not
// given one.
const defaultPartitions = 8

func runCreate(ctx context.Context, s *session, a args) (result, error) {
	partitions, err := a.countFlag("partitions")
	if err != nil {
		return nil, err
	}
	replicas, err := a.countFlag("replicas")
	if err != nil {
		return nil, err
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	info, err := c.CreateTable(ctx, a.arg(0), partitions, replicas)
	if isAlreadyExists(err) {
		return existingTable(ctx, c, a.arg(0), partitions, replicas, s.cfg.RequestTimeout, err)
	}
	if err != nil {
		return nil, err
	}
	s.forgetTables()
	return createdResult{info}, nil
}

// isAlreadyExists reports whether err is the servers' "table exists"
// refusal.
func isAlreadyExists(err error) bool {
	return errors.Is(err, client.ErrAlreadyExists)
}

// existingTable answers a create refused because table name exists. A
// table of exactly the shape asked (partitions and, when given, replicas)
// is success: it is what a create that timed out may have left, and what
// the command asks for either way; the answer says so and shows its age.
// Another shape is refused with that shape. Age decides nothing: it
// cannot tell the earlier attempt from someone else's create.
func existingTable(ctx context.Context, c *client.Client, name string, partitions, replicas int, timeout time.Duration, refusal error) (result, error) {
	t := findTable(ctx, c, name, timeout)
	if t == nil {
		return nil, refusal
	}
	wantParts := cmp.Or(partitions, defaultPartitions)
	if int(t.GetPartitions()) == wantParts && (replicas == 0 || int(t.GetReplicas()) == replicas) {
		return existsResult{info: t, now: time.Now()}, nil
	}
	return nil, fmt.Errorf("%w: %s has %d partitions and %d replicas (created %s), not as asked; nothing changed",
		errTableExists, name, t.GetPartitions(), t.GetReplicas(), age(t, time.Now()))
}

// tablePoll is how often findTable lists the tables again.
const tablePoll = 50 * time.Millisecond

// findTable lists the tables until name shows up, for at most timeout:
// the refusal came from the metadata leader, and the node that answers
// the list may apply the table's creation a moment later. Nil when the
// table never showed up (dropped meanwhile, or the node is far behind).
func findTable(ctx context.Context, c *client.Client, name string, timeout time.Duration) *tandempb.TableInfo {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		tables, err := c.ListTables(ctx)
		if i := slices.IndexFunc(tables, func(t *tandempb.TableInfo) bool { return t.GetName() == name }); err == nil && i >= 0 {
			return tables[i]
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tablePoll):
		}
	}
}

// existsResult is create's answer when the table already exists as asked.
type existsResult struct {
	info *tandempb.TableInfo
	now  time.Time
}

func (r existsResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("table %s already exists as asked: id %d, %d partitions, %d replicas, created %s "+
		"(by an earlier create that timed out?); nothing changed",
		r.info.GetName(), r.info.GetId(), r.info.GetPartitions(), r.info.GetReplicas(), age(r.info, r.now)))
}

func (r existsResult) json() any {
	doc := tableDoc(r.info)
	doc["already_existed"] = true
	return doc
}

// age says when a table was created: "12s ago", or the time itself when
// the clocks disagree.
func age(t *tandempb.TableInfo, now time.Time) string {
	if t.GetCreatedAtUnixMs() == 0 {
		return "at an unknown time"
	}
	created := time.UnixMilli(t.GetCreatedAtUnixMs())
	if d := now.Sub(created); d >= 0 {
		return d.Round(time.Second).String() + " ago"
	}
	return "at " + createdAt(t)
}
