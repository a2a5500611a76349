package duplication

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrRebootstrap is returned by a pull when the source no longer has
	// the log the remote needs: the puller fetches a new base.
	ErrRebootstrap = errors.New("duplication: source log gone, re-bootstrap")
	// ErrNoSourceLeader is returned when no source node names a leader.
	ErrNoSourceLeader = errors.New("duplication: no source partition leader found")
	// ErrFollowerTable is returned when a client writes to a follower table.
	ErrFollowerTable = errors.New("duplication: table is a duplication follower")
	// ErrDupNotFound is returned for a duplication id the cluster does not
	// have.
	ErrDupNotFound = errors.New("duplication: not found")
	// ErrDupExists is returned when a table already duplicates to a remote.
	ErrDupExists = errors.New("duplication: already exists")
	// ErrRemoteConflict is returned when the remote cluster has a table of
	// that name that is not this duplication's follower.
	ErrRemoteConflict = errors.New("duplication: remote table conflicts")
	// ErrRemoteUnreachable is returned when the remote cluster cannot be
	// reached.
	ErrRemoteUnreachable = errors.New("duplication: remote cluster unreachable")
	// ErrBadRemoteAddr is returned for a remote address that cannot be a
	// node's.
	ErrBadRemoteAddr = errors.New("duplication: bad remote address")
	// ErrSwitchedOver is returned for a client write to a table that was
	// switched over (or is being switched over) to another cluster; the
	// error is a *SwitchedOverError naming the new primary.
	ErrSwitchedOver = errors.New("duplication: table switched over")
	// ErrRefused is returned when a disaster-recovery command cannot run in
	// the state the duplication or its table is in (a paused
	// duplication's switchover, a partition not in LOG, a table that is
	// not the duplication's follower).
	ErrRefused = errors.New("duplication: refused")
	// ErrFailedOver is a remote's answer that its follower table of the
	// duplication was promoted (dup promote): it will not pull again, and
	// the source must not count on it.
	ErrFailedOver = errors.New("duplication: remote table failed over")
)

// SwitchedOverError is a write refused because its table's primary moved
// to another cluster: the application writes there.
type SwitchedOverError struct {
	Table   string
	Cluster string
	Addrs   []string
	// Done is false while the switchover is under way (the new primary
	// takes writes once it completes).
	Done bool
}

func (e *SwitchedOverError) Error() string {
	if e.Cluster == "" {
		return fmt.Sprintf("%v: table %q is fenced for a switchover; write to its new primary", ErrSwitchedOver, e.Table)
	}
	verb := "is being switched over"
	if e.Done {
		verb = "was switched over"
	}
	return fmt.Sprintf("%v: table %q %s to cluster %s (%s); write there", ErrSwitchedOver, e.Table, verb, e.Cluster, strings.Join(e.Addrs, ","))
}

// Is makes errors.Is(err, ErrSwitchedOver) true.
func (e *SwitchedOverError) Is(target error) bool { return target == ErrSwitchedOver }

// FollowerWriteError explains why a follower table refuses a write.
func FollowerWriteError(table, dupID, sourceCluster string) error {
	return fmt.Errorf("%w: table %q is the follower of duplication %s from cluster %s and is read-only until that duplication is removed",
		ErrFollowerTable, table, dupID, sourceCluster)
}
