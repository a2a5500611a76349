package server

import (
	"errors"
	"fmt"

	"github.com/tandem-kv/tandem/duplication"
)

var (
	// ErrFollowerBusy is returned when an operator drops a table that a
	// duplication from another cluster still writes into.
	ErrFollowerBusy = errors.New("server: table is a duplication's follower")
)

// addDupCmd records a duplication (state adding until the remote has its
// follower table).
type addDupCmd struct {
	Dup *DupMeta `json:"dup"`
}

func (*addDupCmd) op() string { return opAddDup }

func (c *addDupCmd) check() error {
	if c.Dup == nil || c.Dup.ID == "" {
		return fmt.Errorf("%w: %s without a duplication", errMalformedMeta, opAddDup)
	}
	return nil
}

func (c *addDupCmd) apply(s *MetaState) metaResult {
	d := *c.Dup
	if _, ok := s.Tables[d.Table]; !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", d.Table, ErrTableNotFound)}
	}
	for _, o := range s.Dups {
		if o.Table == d.Table && o.RemoteAddr == d.RemoteAddr && sameRequest(o.RequestID, d.RequestID) {
			c := *o
			return metaResult{Dup: &c}
		}
		if o.Table == d.Table && o.RemoteAddr == d.RemoteAddr {
			return metaResult{Err: fmt.Errorf("table %q to %s is duplication %s: %w", d.Table, d.RemoteAddr, o.ID, duplication.ErrDupExists)}
		}
	}
	if _, ok := s.Dups[d.ID]; ok {
		return metaResult{Err: fmt.Errorf("duplication id %s: %w", d.ID, duplication.ErrDupExists)}
	}
	s.Dups[d.ID] = &d
	return metaResult{Dup: &d}
}

// setDupRemoteCmd records the remote cluster's name, once it answered.
type setDupRemoteCmd struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
}

func (*setDupRemoteCmd) op() string   { return opSetDupRemote }
func (*setDupRemoteCmd) check() error { return nil }

func (c *setDupRemoteCmd) apply(s *MetaState) metaResult {
	if d, ok := s.Dups[c.ID]; ok {
		d.RemoteCluster = c.Cluster
	}
	return metaResult{}
}

// setDupStateCmd moves a duplication to a state (active, paused).
type setDupStateCmd struct {
	ID    string            `json:"id"`
	State duplication.State `json:"state"`
}

func (*setDupStateCmd) op() string   { return opSetDupState }
func (*setDupStateCmd) check() error { return nil }

func (c *setDupStateCmd) apply(s *MetaState) metaResult {
	d, ok := s.Dups[c.ID]
	if !ok {
		return metaResult{Err: fmt.Errorf("duplication %s: %w", c.ID, duplication.ErrDupNotFound)}
	}
	d.State = c.State
	cp := *d
	return metaResult{Dup: &cp}
}

// removeDupCmd drops a duplication's record and lists it as removed, so
// every node releases its floors and base pins.
type removeDupCmd struct {
	ID string `json:"id"`
}

func (*removeDupCmd) op() string   { return opRemoveDup }
func (*removeDupCmd) check() error { return nil }

func (c *removeDupCmd) apply(s *MetaState) metaResult {
	d, ok := s.Dups[c.ID]
	if !ok {
		return metaResult{Err: fmt.Errorf("duplication %s: %w", c.ID, duplication.ErrDupNotFound)}
	}
	delete(s.Dups, c.ID)
	s.RemovedDups[c.ID] = d.CreatedAtMs
	s.RemovedDupRemotes[c.ID] = d.RemoteAddr
	return metaResult{Dup: d}
}

// detachFollowerCmd makes a follower table of duplication DupID an
// ordinary, writable table (on the remote cluster).
type detachFollowerCmd struct {
	Table string `json:"table"`
	DupID string `json:"dup_id"`
}

func (*detachFollowerCmd) op() string   { return opDetachFollower }
func (*detachFollowerCmd) check() error { return nil }

func (c *detachFollowerCmd) apply(s *MetaState) metaResult {
	t, ok := s.Tables[c.Table]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Table, ErrTableNotFound)}
	}
	if t.Follower != nil && t.Follower.DupID == c.DupID {
		t.Follower = nil
	}
	return metaResult{Table: t}
}
