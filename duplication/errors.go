package duplication

import (
	"errors"
	"fmt"
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
)

// FollowerWriteError explains why a follower table refuses a write.
func FollowerWriteError(table, dupID, sourceCluster string) error {
	return fmt.Errorf("%w: table %q is the follower of duplication %s from cluster %s and is read-only until that duplication is removed",
		ErrFollowerTable, table, dupID, sourceCluster)
}
