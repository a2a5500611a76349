package server

import (
	"encoding/json"
	"fmt"

	"github.com/tandem-kv/tandem/duplication"
)

// metaCommand is one change to MetaState: one type per operation, with
// the fields that operation needs and nothing else.
type metaCommand interface {
	// op names the operation in the meta log.
	op() string
	// check reports, as errMalformedMeta, a command apply cannot use (a
	// field it dereferences missing), so a corrupt entry is an error,
	// never a nil dereference.
	check() error
	// apply applies the command to s and returns the proposer's result.
	apply(s *MetaState) metaResult
}

// Meta log operations. The names are those the log has always used.
const (
	opCreateTable    = "create_table"
	opDropTable      = "drop_table"
	opSetConfig      = "set_config"
	opAddDup         = "add_dup"
	opSetDupState    = "set_dup_state"
	opRemoveDup      = "remove_dup"
	opDetachFollower = "detach_follower"
	opSetDupRemote   = "set_dup_remote"
	// Disaster recovery (metacmd_dr.go).
	opAcceptSwitchover   = "accept_switchover"
	opCompleteSwitchover = "complete_switchover"
	opPromoteFollower    = "promote_follower"
	// Failback (metacmd_resync.go).
	opAcceptResync = "accept_resync"
)

// metaCommands makes an empty command of each operation, for decoding.
var metaCommands = map[string]func() metaCommand{
	opCreateTable:    func() metaCommand { return &createTableCmd{} },
	opDropTable:      func() metaCommand { return &dropTableCmd{} },
	opSetConfig:      func() metaCommand { return &setConfigCmd{} },
	opAddDup:         func() metaCommand { return &addDupCmd{} },
	opSetDupState:    func() metaCommand { return &setDupStateCmd{} },
	opRemoveDup:      func() metaCommand { return &removeDupCmd{} },
	opDetachFollower: func() metaCommand { return &detachFollowerCmd{} },
	opSetDupRemote:   func() metaCommand { return &setDupRemoteCmd{} },
	// Disaster recovery (metacmd_dr.go).
	opAcceptSwitchover:   func() metaCommand { return &acceptSwitchoverCmd{} },
	opCompleteSwitchover: func() metaCommand { return &completeSwitchoverCmd{} },
	opPromoteFollower:    func() metaCommand { return &promoteFollowerCmd{} },
	// Failback (metacmd_resync.go).
	opAcceptResync: func() metaCommand { return &acceptResyncCmd{} },
}

// metaEntry is a meta log entry: {"cmd": op, "args": the command's fields}.
type metaEntry struct {
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"`
}

// encodeMetaCommand encodes cmd as a meta log entry. The entry carries the
// command in the legacy fields as well, so that during a rolling upgrade
// nodes that predate typed commands apply it as they always did (they
// ignore "cmd" and "args"); a node that cannot decode an entry stops.
func encodeMetaCommand(cmd metaCommand) ([]byte, error) {
	args, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		legacyMetaCommand
		metaEntry
	}{legacyOf(cmd), metaEntry{Cmd: cmd.op(), Args: args}})
}

// decodeMetaCommand decodes a meta log entry, written the current way or,
// by a node before typed commands, the legacy way (a restart replays
// those), and checks it.
func decodeMetaCommand(data []byte) (metaCommand, error) {
	var e struct {
		metaEntry
		legacyMetaCommand
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedMeta, err)
	}
	var cmd metaCommand
	switch {
	case e.Cmd != "":
		newCmd, ok := metaCommands[e.Cmd]
		if !ok {
			return nil, fmt.Errorf("%w: unknown op %q", errMalformedMeta, e.Cmd)
		}
		cmd = newCmd()
		if err := json.Unmarshal(e.Args, cmd); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errMalformedMeta, e.Cmd, err)
		}
	default:
		var err error
		if cmd, err = e.legacyMetaCommand.typed(); err != nil {
			return nil, err
		}
	}
	if err := cmd.check(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// legacyMetaCommand is how meta log entries were written before typed
// commands: one struct for every op, its generic fields meaning what the
// op made them mean.
type legacyMetaCommand struct {
	Op    string     `json:"op"`
	Table *TableMeta `json:"table,omitempty"`
	Name  string     `json:"name,omitempty"`
	Key   string     `json:"key,omitempty"`
	Value string     `json:"value,omitempty"`
	Dup   *DupMeta   `json:"dup,omitempty"`
}

// typed is the legacy entry as the command it stands for.
func (c legacyMetaCommand) typed() (metaCommand, error) {
	switch c.Op {
	case opCreateTable:
		return &createTableCmd{Table: c.Table}, nil
	case opDropTable:
		return &dropTableCmd{Name: c.Name}, nil
	case opSetConfig:
		return &setConfigCmd{Key: c.Key, Value: c.Value}, nil
	case opAddDup:
		return &addDupCmd{Dup: c.Dup}, nil
	case opSetDupState:
		return &setDupStateCmd{ID: c.Name, State: duplication.State(c.Value)}, nil
	case opRemoveDup:
		return &removeDupCmd{ID: c.Name}, nil
	case opDetachFollower:
		return &detachFollowerCmd{Table: c.Name, DupID: c.Key}, nil
	case opSetDupRemote:
		return &setDupRemoteCmd{ID: c.Name, Cluster: c.Value}, nil
	}
	return nil, fmt.Errorf("%w: unknown op %q", errMalformedMeta, c.Op)
}

// legacyOf is cmd in the legacy fields.
func legacyOf(cmd metaCommand) legacyMetaCommand {
	l := legacyMetaCommand{Op: cmd.op()}
	switch c := cmd.(type) {
	case *createTableCmd:
		l.Table = c.Table
	case *dropTableCmd:
		l.Name = c.Name
	case *setConfigCmd:
		l.Key, l.Value = c.Key, c.Value
	case *addDupCmd:
		l.Dup = c.Dup
	case *setDupStateCmd:
		l.Name, l.Value = c.ID, string(c.State)
	case *removeDupCmd:
		l.Name = c.ID
	case *detachFollowerCmd:
		l.Name, l.Key = c.Table, c.DupID
	case *setDupRemoteCmd:
		l.Name, l.Value = c.ID, c.Cluster
	}
	return l
}

// sameRequest reports whether a change is a retry of the one that made an
// existing entry: both carry the same non-empty client request id.
func sameRequest(existing, incoming string) bool {
	return incoming != "" && existing == incoming
}

// createTableCmd records a new table; the table's id is assigned here.
type createTableCmd struct {
	Table *TableMeta `json:"table"`
}

func (*createTableCmd) op() string { return opCreateTable }

func (c *createTableCmd) check() error {
	if c.Table == nil || c.Table.Name == "" {
		return fmt.Errorf("%w: %s without a table", errMalformedMeta, opCreateTable)
	}
	return c.Table.checkShape()
}

func (c *createTableCmd) apply(s *MetaState) metaResult {
	if t, ok := s.Tables[c.Table.Name]; ok {
		if sameRequest(t.RequestID, c.Table.RequestID) {
			return metaResult{Table: t}
		}
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Table.Name, ErrTableExists)}
	}
	t := *c.Table
	t.ID = s.NextTableID
	// Keep follower specs independent of the command's memory.
	if c.Table.Follower != nil {
		f := *c.Table.Follower
		t.Follower = &f
	}
	s.NextTableID++
	s.Tables[t.Name] = &t
	return metaResult{Table: &t}
}

// dropTableCmd drops a table that no duplication copies.
type dropTableCmd struct {
	Name string `json:"name"`
}

func (*dropTableCmd) op() string   { return opDropTable }
func (*dropTableCmd) check() error { return nil }

func (c *dropTableCmd) apply(s *MetaState) metaResult {
	t, ok := s.Tables[c.Name]
	if !ok {
		return metaResult{Err: fmt.Errorf("table %q: %w", c.Name, ErrTableNotFound)}
	}
	for _, d := range s.Dups {
		if d.Table == c.Name {
			return metaResult{Err: fmt.Errorf("%w: table %q is duplicated to %s (duplication %s); dup rm it first", ErrInvalidArgument, c.Name, d.RemoteAddr, d.ID)}
		}
	}
	if a, ok := s.Archives[c.Name]; ok {
		return metaResult{Err: fmt.Errorf("%w: table %q is archived to %s (archive %s); archive rm it first", ErrInvalidArgument, c.Name, a.URL, a.ID)}
	}
	delete(s.Tables, c.Name)
	return metaResult{Table: t}
}

// setConfigCmd overrides a runtime setting (validated before it is
// proposed).
type setConfigCmd struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (*setConfigCmd) op() string   { return opSetConfig }
func (*setConfigCmd) check() error { return nil }

func (c *setConfigCmd) apply(s *MetaState) metaResult {
	s.Config[c.Key] = c.Value
	return metaResult{}
}
