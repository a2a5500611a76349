package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Failback's shell command (issue 13): dup resync.

// resyncCommand is dup resync: TABLE OLD_SOURCE_ADDR on the promoted
// table's cluster, or TABLE DUPID on the old source.
func resyncCommand() *command {
	return &command{name: "resync", usage: "TABLE OLD_SOURCE_ADDR|DUPID",
		help: "fail back after dup promote: on the promoted table's cluster with the old source's address (HOST:PORT of any of its nodes), " +
			"or on the old source with the failed-over duplication's id. The old source saves the writes it acknowledged that the new primary never applied " +
			"to a divergence file, then its TABLE becomes the read-only follower of the new primary (a base that reuses the SST files the old source holds, then the log); run again to resume",
		minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupResync,
		change: adminChange("the resync may have started (writes to the table are refused); run it again to finish it", "dup ls $1")}
}

func runDupResync(ctx context.Context, s *session, a args) (result, error) {
	if a.arg(1) == "" {
		return nil, fmt.Errorf("%w: OLD_SOURCE_ADDR or DUPID is empty", errUsage)
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resync := c.Resync
	if strings.Contains(a.arg(1), ":") { // an address; duplication ids are numbers
		resync = c.ResyncFrom
	}
	resp, err := resync(ctx, a.arg(0), a.arg(1))
	if err != nil {
		return nil, err
	}
	return resyncResult{resp}, nil
}

// resyncResult is dup resync's answer: the divergence file first.
type resyncResult struct{ resp *tandempb.ResyncResponse }

func (r resyncResult) human(w io.Writer) error {
	p := r.resp
	if err := line(w, fmt.Sprintf("divergence file %s on node %s: %d entries, %d mutations, %d bytes (writes acknowledged here that cluster %s never applied)",
		p.GetDivergenceFile(), p.GetDivergenceNode(), p.GetDivergentEntries(), p.GetDivergentMutations(), p.GetDivergenceBytes(), p.GetNewPrimaryCluster())); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("table %s follows cluster %s (%s) as duplication %s (a base reusing the SST files held here, then the log); duplication %s removed",
		p.GetTable(), p.GetNewPrimaryCluster(), strings.Join(p.GetNewPrimaryAddrs(), ","), p.GetNewDupId(), p.GetOldDupId()))
}

func (r resyncResult) json() any {
	p := r.resp
	return map[string]any{"ok": true, "table": p.GetTable(), "old_dup_id": p.GetOldDupId(), "new_dup_id": p.GetNewDupId(),
		"new_primary_cluster": p.GetNewPrimaryCluster(), "new_primary_addrs": p.GetNewPrimaryAddrs(),
		"divergence_file": p.GetDivergenceFile(), "divergence_node": p.GetDivergenceNode(), "divergent_entries": p.GetDivergentEntries(),
		"divergent_mutations": p.GetDivergentMutations(), "divergence_bytes": p.GetDivergenceBytes(),
		"source_decrees": p.GetSourceDecrees(), "fence_decrees": p.GetFenceDecrees()}
}
