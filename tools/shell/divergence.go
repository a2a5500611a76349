package main

import (
	"fmt"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// How dup show names a resync's divergence file (issue 13), kept apart
// from dups.go.

// divergenceText is dup show's divergence line: what the old source saved
// and how to re-apply it.
func divergenceText(table string, dv *tandempb.Divergence) string {
	return fmt.Sprintf("divergence: %s (%s, %s) cluster %s acknowledged that were never applied here, saved %s by the resync of duplication %s "+
		"in %s on node %s (re-apply: dup reapply %s FILE)",
		plural(int(dv.GetMutations()), "write"), entriesText(dv.GetEntries()), humanBytes(dv.GetBytes()), dash(dv.GetCluster()), replicatedTime(dv.GetAtUnixMs()),
		dash(dv.GetFromDupId()), dv.GetFile(), dash(dv.GetNode()), table)
}

// divergenceDoc is a divergence as JSON.
func divergenceDoc(dv *tandempb.Divergence) map[string]any {
	return map[string]any{"file": dv.GetFile(), "node": dv.GetNode(), "cluster": dv.GetCluster(), "entries": dv.GetEntries(),
		"mutations": dv.GetMutations(), "bytes": dv.GetBytes(), "at_unix_ms": dv.GetAtUnixMs(), "from_dup_id": dv.GetFromDupId()}
}

// entriesText formats "1 entry", "3 entries".
func entriesText(n uint64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
