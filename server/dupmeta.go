package server

import (
	"errors"
	"fmt"

	"github.com/tandem-kv/tandem/duplication"
)

var (
	// ErrDupNotFound is returned for a duplication id the cluster does not have.
	ErrDupNotFound = errors.New("server: duplication not found")
	// ErrDupExists is returned when a table already duplicates to a remote.
	ErrDupExists = errors.New("server: duplication already exists")
	// ErrRemoteConflict is returned when the remote cluster has a table of
	// that name that is not this duplication's follower.
	ErrRemoteConflict = errors.New("server: remote table conflicts")
	// ErrRemoteUnreachable is returned when the remote cluster cannot be reached.
	ErrRemoteUnreachable = errors.New("server: remote cluster unreachable")
	// ErrFollowerBusy is returned when an operator drops a table that a
	// duplication from another cluster still writes into.
	ErrFollowerBusy = errors.New("server: table is a duplication's follower")
)

// applyDupCommand applies the duplication ops of the meta log.
func applyDupCommand(s *MetaState, cmd metaCommand) metaResult {
	switch cmd.Op {
	case opAddDup:
		d := *cmd.Dup
		if _, ok := s.Tables[d.Table]; !ok {
			return metaResult{Err: fmt.Errorf("table %q: %w", d.Table, ErrTableNotFound)}
		}
		for _, o := range s.Dups {
			if o.Table == d.Table && o.RemoteAddr == d.RemoteAddr && sameRequest(o.RequestID, d.RequestID) {
				c := *o
				return metaResult{Dup: &c}
			}
			if o.Table == d.Table && o.RemoteAddr == d.RemoteAddr {
				return metaResult{Err: fmt.Errorf("table %q to %s is duplication %s: %w", d.Table, d.RemoteAddr, o.ID, ErrDupExists)}
			}
		}
		if _, ok := s.Dups[d.ID]; ok {
			return metaResult{Err: fmt.Errorf("duplication id %s: %w", d.ID, ErrDupExists)}
		}
		s.Dups[d.ID] = &d
		return metaResult{Dup: &d}
	case opSetDupRemote:
		if d, ok := s.Dups[cmd.Name]; ok {
			d.RemoteCluster = cmd.Value
		}
		return metaResult{}
	case opSetDupState:
		d, ok := s.Dups[cmd.Name]
		if !ok {
			return metaResult{Err: fmt.Errorf("duplication %s: %w", cmd.Name, ErrDupNotFound)}
		}
		d.State = duplication.State(cmd.Value)
		c := *d
		return metaResult{Dup: &c}
	case opRemoveDup:
		d, ok := s.Dups[cmd.Name]
		if !ok {
			return metaResult{Err: fmt.Errorf("duplication %s: %w", cmd.Name, ErrDupNotFound)}
		}
		delete(s.Dups, cmd.Name)
		s.RemovedDups[cmd.Name] = d.CreatedAtMs
		s.RemovedDupRemotes[cmd.Name] = d.RemoteAddr
		return metaResult{Dup: d}
	case opDetachFollower:
		t, ok := s.Tables[cmd.Name]
		if !ok {
			return metaResult{Err: fmt.Errorf("table %q: %w", cmd.Name, ErrTableNotFound)}
		}
		if t.Follower != nil && t.Follower.DupID == cmd.Key {
			t.Follower = nil
		}
		return metaResult{Table: t}
	}
	return metaResult{Err: fmt.Errorf("unknown meta op %q", cmd.Op)}
}
