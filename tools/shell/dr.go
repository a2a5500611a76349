package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Disaster recovery's shell commands (issue 13): dup switchover.

// drCommands are the dup subcommands of disaster recovery.
func drCommands() []*command {
	return []*command{
		{name: "switchover", usage: "TABLE DUPID",
			help:    "on the source: fence TABLE, catch the remote up, make it the primary and duplicate back (no base transfer); run again to resume",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupSwitchover,
			change: adminChange("the switchover may have started (writes to the table are refused); run it again to finish it", "dup ls $1")},
		{name: "promote", usage: "TABLE [--force]",
			help:    "on the remote, when the source is lost: make follower TABLE writable; prints the replicated time it starts from (--force: even while the source answers)",
			minArgs: 1, maxArgs: 1, bools: []string{"force"}, tableArgs: true, run: runDupPromote,
			change: adminChange("the table may have been promoted; run it again to see", "dup ls $1")},
		resyncCommand(),
		reapplyCommand(),
	}
}

func runDupPromote(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Promote(ctx, a.arg(0), a.boolFlag("force"))
	if err != nil {
		return nil, err
	}
	return promoteResult{resp}, nil
}

// promoteResult is dup promote's answer: the replicated time first.
type promoteResult struct{ resp *tandempb.PromoteResponse }

func (r promoteResult) human(w io.Writer) error {
	p := r.resp
	if err := line(w, "replicated time "+replicatedTime(p.GetReplicatedTimeUnixMs())); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("table %s promoted: writable here; duplication %s from cluster %s is failed over (writes the source acknowledged after the replicated time may be missing)",
		p.GetTable(), p.GetDupId(), p.GetSourceCluster()))
}

func (r promoteResult) json() any {
	p := r.resp
	return map[string]any{"ok": true, "table": p.GetTable(), "dup_id": p.GetDupId(), "source_cluster": p.GetSourceCluster(),
		"replicated_time_unix_ms": p.GetReplicatedTimeUnixMs(), "promoted_at_unix_ms": p.GetPromotedAtUnixMs(),
		"source_decrees": p.GetSourceDecrees()}
}

func runDupSwitchover(ctx context.Context, s *session, a args) (result, error) {
	if a.arg(1) == "" {
		return nil, fmt.Errorf("%w: DUPID is empty", errUsage)
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Switchover(ctx, a.arg(0), a.arg(1))
	if err != nil {
		return nil, err
	}
	return switchoverResult{table: a.arg(0), id: a.arg(1), resp: resp}, nil
}

// switchoverResult is dup switchover's answer.
type switchoverResult struct {
	table, id string
	resp      *tandempb.SwitchoverResponse
}

func (r switchoverResult) human(w io.Writer) error {
	addrs := strings.Join(r.resp.GetNewPrimaryAddrs(), ",")
	if err := line(w, fmt.Sprintf("switched over: table %s is now primary on cluster %s (%s)", r.table, r.resp.GetNewPrimaryCluster(), addrs)); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("duplication %s removed; duplication %s ships back from cluster %s in LOG from the fence (no base transfer)",
		r.id, r.resp.GetReverseDupId(), r.resp.GetNewPrimaryCluster()))
}

func (r switchoverResult) json() any {
	return map[string]any{"ok": true, "table": r.table, "id": r.id, "reverse_dup_id": r.resp.GetReverseDupId(),
		"new_primary_cluster": r.resp.GetNewPrimaryCluster(), "new_primary_addrs": r.resp.GetNewPrimaryAddrs(),
		"fence_decrees": r.resp.GetFenceDecrees(), "start_decrees": r.resp.GetStartDecrees()}
}
