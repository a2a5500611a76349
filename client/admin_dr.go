package client

import (
	"time"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Disaster recovery on the admin API: replicated time, switchover,
// promote. Kept apart from admin.go, which every area extends.

// ReplicatedTime returns a duplication's replicated time: every write the
// source acknowledged before it is applied on the remote, so a failover
// now loses at most the writes acknowledged after it. ok is false while it
// is unknown (a partition has not reported one yet). The time is the
// source cluster's clock; compare it with clocks in sync with it.
func ReplicatedTime(d *tandempb.DuplicationInfo) (t time.Time, ok bool) {
	if d.GetReplicatedTimeUnixMs() <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(d.GetReplicatedTimeUnixMs()), true
}
