package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// The shell's sentinel errors.
var (
	// errExit is returned by exit and quit to end the session.
	errExit = errors.New("shell: exit")
	// errUnknownCommand is returned for a command name not in the table.
	errUnknownCommand = errors.New("unknown command")
	// errStopScan stops a table scan once its limit is reached.
	errStopScan = errors.New("shell: scan limit reached")
	// errTableExists is returned by create for a table that exists with
	// another shape than asked.
	errTableExists = errors.New("table exists")
	// errValueFile is returned when set's --value-file cannot be read.
	errValueFile = errors.New("value file")
	// errValueTooLarge is returned for a value file over the largest value
	// any cluster accepts; nothing is sent.
	errValueTooLarge = errors.New("value too large")
	// errWaitStopped is returned when a command that waits for a long
	// operation stops waiting (Ctrl-C, or the operation cannot finish);
	// the operation itself goes on.
	errWaitStopped = errors.New("stopped waiting")
)

// command is one entry of the command table: its name, usage, the
// positionals and flags it takes, and either subcommands or the function
// that runs it. Adding a command is adding an entry.
type command struct {
	name      string
	usage     string // arguments after the name, for help and errors
	help      string
	minArgs   int
	maxArgs   int
	flags     []string
	bools     []string // flags that take no value ("--force")
	tableArgs bool     // the first positional is a table name (completion)
	notes     []string // more help lines, shown by help for this command
	change    *change  // what the command changes; nil for a read
	subs      []*command
	run       func(ctx context.Context, s *session, a args) (result, error)
}

// allowsFlag reports whether c takes the flag --name.
func (c *command) allowsFlag(name string) bool {
	return slices.Contains(c.flags, name) || slices.Contains(c.bools, name)
}

// commandTable returns the shell's commands, in the order help lists them.
func commandTable() []*command {
	return []*command{
		{name: "nodes", help: "list the nodes with id, address, state, meta role, replicas, leaders, moves and last contact", run: runNodes},
		nodeCommand(),
		rebalanceCommand(),
		{name: "create", usage: "TABLE [--partitions N] [--replicas R]",
			help:    "create a table (defaults: 8 partitions, min(3, nodes) replicas); one that exists exactly as asked is left as it is",
			minArgs: 1, maxArgs: 1, flags: []string{"partitions", "replicas"}, run: runCreate,
			change: adminChange("the table may have been created", "tables", "partitions $1")},
		{name: "drop", usage: "TABLE", help: "drop a table", minArgs: 1, maxArgs: 1, tableArgs: true, run: runDrop,
			change: adminChange("the table may have been dropped", "tables")},
		{name: "tables", help: "list the tables", run: runTables},
		{name: "partitions", usage: "TABLE", help: "per partition: leader, replicas, applied decree, size",
			minArgs: 1, maxArgs: 1, tableArgs: true, run: runPartitions},
		{name: "set", usage: "TABLE HASHKEY SORTKEY (VALUE | --value-file PATH) [--ttl DUR]",
			help:    "write a record; --value-file PATH instead of VALUE takes the value from a file (- = stdin, with -e)",
			minArgs: 3, maxArgs: 4, flags: []string{"ttl", "value-file"}, tableArgs: true, run: runSet, change: recordWrite()},
		{name: "get", usage: "TABLE HASHKEY SORTKEY", help: "print a record's value; absent: (not found), exit status 1",
			minArgs: 3, maxArgs: 3, tableArgs: true, run: runGet},
		{name: "del", usage: "TABLE HASHKEY SORTKEY", help: "delete a record", minArgs: 3, maxArgs: 3, tableArgs: true, run: runDel,
			change: recordWrite()},
		{name: "scan", usage: "TABLE [HASHKEY] [--limit N]", help: "list records, by sort key within a hash key",
			minArgs: 1, maxArgs: 2, flags: []string{"limit"}, tableArgs: true, run: runScan},
		{name: "count", usage: "TABLE", help: "count the live records of a table", minArgs: 1, maxArgs: 1, tableArgs: true, run: runCount},
		{name: "checkpoint", help: "partition checkpoints", subs: []*command{
			{name: "ls", usage: "TABLE", help: "per partition: checkpoints with decree, size, age, purpose, pinned",
				minArgs: 1, maxArgs: 1, tableArgs: true, run: runCheckpointLs},
			{name: "create", usage: "TABLE [--partition P]", help: "checkpoint now and wait; prints decree, size and time per partition",
				minArgs: 1, maxArgs: 1, flags: []string{"partition"}, tableArgs: true, run: runCheckpointCreate,
				change: adminChange("checkpoints may have been taken", "checkpoint ls $1")},
		}},
		{name: "config", help: "cluster runtime config", subs: []*command{
			{name: "get", usage: "[KEY]", help: "show one or every config entry", maxArgs: 1, run: runConfigGet},
			{name: "set", usage: "KEY VALUE", help: "set a config entry", minArgs: 2, maxArgs: 2, run: runConfigSet,
				change: adminChange("the change may have been applied", "config get $1")},
		}},
		{name: "dup", help: "cross-cluster duplication", subs: dupCommands()},
		{name: "archive", help: "continuous archive to object storage", subs: archiveCommands()},
		restoreCommand(),
		{name: "help", usage: "[COMMAND]", help: "show this help, or one command's", maxArgs: 2, run: runHelp},
		{name: "exit", help: "leave the shell", run: runExit},
		{name: "quit", help: "leave the shell", run: runExit},
	}
}

// dupCommands are the duplication subcommands (disaster recovery's, from
// dr.go, at the end).
func dupCommands() []*command {
	return append([]*command{
		{name: "add", usage: "TABLE REMOTE_ADDR [--wait] [--from-archive URL]",
			help:    "start duplicating TABLE to the cluster at REMOTE_ADDR; prints the duplication id; --wait: until every partition is in LOG, with each partition's base bytes as a bar; --from-archive: the remote takes its bases from TABLE's archive at URL, the source serves only the log after it",
			minArgs: 2, maxArgs: 2, bools: []string{"wait"}, flags: []string{"from-archive"}, tableArgs: true, run: runDupAdd,
			change: adminChange("a duplication may have been added", "dup ls $1")},
		{name: "ls", usage: "[TABLE]", help: "list duplications with id, table, remote, state, lag (MAX-LAG: the worst partition's time/decrees behind)",
			maxArgs: 1, tableArgs: true, run: runDupLs},
		{name: "show", usage: "TABLE DUPID", help: "per partition: state (help dup show lists them), base, confirmed and source decree, lag, base progress",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupShow, notes: dupStateNotes},
		{name: "pause", usage: "TABLE DUPID", help: "pause a duplication (the source keeps its log)",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupOp((*client.Client).PauseDuplication, "paused"),
			change: dupChange("the duplication may have been paused")},
		{name: "start", usage: "TABLE DUPID", help: "resume a paused duplication",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupOp((*client.Client).StartDuplication, "started"),
			change: dupChange("the duplication may have been resumed")},
		{name: "rm", usage: "TABLE DUPID", help: "remove a duplication; the remote table becomes writable",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runDupOp((*client.Client).RemoveDuplication, "removed"),
			change: adminChange("the duplication may have been removed", "dup ls $1")},
	}, drCommands()...)
}

// lookup finds the command words name and returns it with its own words.
// The returned path is the full command name ("config get").
func lookup(cmds []*command, words []string) (cmd *command, path string, rest []string, err error) {
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == words[0] })
	if i < 0 {
		return nil, "", nil, fmt.Errorf("%w %q (try help)", errUnknownCommand, words[0])
	}
	cmd, path, rest = cmds[i], words[0], words[1:]
	if cmd.subs == nil {
		return cmd, path, rest, nil
	}
	if len(rest) == 0 {
		return nil, "", nil, fmt.Errorf("%w: %s needs one of: %s", errUsage, path, subNames(cmd))
	}
	j := slices.IndexFunc(cmd.subs, func(c *command) bool { return c.name == rest[0] })
	if j < 0 {
		return nil, "", nil, fmt.Errorf("%w: %s %s: want one of: %s", errUnknownCommand, path, rest[0], subNames(cmd))
	}
	return cmd.subs[j], path + " " + rest[0], rest[1:], nil
}

// subNames lists cmd's subcommands.
func subNames(cmd *command) string {
	names := make([]string, len(cmd.subs))
	for i, s := range cmd.subs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// execute runs one tokenized command.
func (s *session) execute(ctx context.Context, words []string) (result, error) {
	cmd, path, rest, err := lookup(s.cmds, words)
	if err != nil {
		return nil, err
	}
	a, err := parseArgs(cmd, rest)
	if err == nil {
		var res result
		res, err = cmd.run(ctx, s, a)
		if !errors.Is(err, errUsage) {
			return res, explainFailure(cmd, path, a, s.cfg.RequestTimeout, err)
		}
	}
	return nil, fmt.Errorf("%w (usage: %s %s)", err, path, cmd.usage)
}

func runExit(context.Context, *session, args) (result, error) { return nil, errExit }

func runHelp(_ context.Context, s *session, a args) (result, error) {
	if len(a.pos) == 0 {
		return helpResult{cmds: s.cmds, all: true}, nil
	}
	i := slices.IndexFunc(s.cmds, func(c *command) bool { return c.name == a.pos[0] })
	if i < 0 {
		return nil, fmt.Errorf("%w %q (try help)", errUnknownCommand, a.pos[0])
	}
	cmd := s.cmds[i]
	if cmd.subs == nil {
		return helpResult{cmds: []*command{cmd}}, nil
	}
	subs := cmd.subs
	if len(a.pos) == 2 {
		j := slices.IndexFunc(subs, func(c *command) bool { return c.name == a.pos[1] })
		if j < 0 {
			return nil, fmt.Errorf("%w: %s %s: want one of: %s", errUnknownCommand, cmd.name, a.pos[1], subNames(cmd))
		}
		subs = subs[j : j+1]
	}
	return helpResult{cmds: subs, prefix: cmd.name + " "}, nil
}

func runNodes(ctx context.Context, s *session, _ args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	return nodesResult{resp, time.Now()}, nil
}

func runDrop(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.DropTable(ctx, a.arg(0)); err != nil {
		return nil, err
	}
	s.forgetTables()
	return messageResult{text: "dropped table " + a.arg(0)}, nil
}

func runTables(ctx context.Context, s *session, _ args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	tables, err := c.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	s.rememberTableNames(tables)
	return tablesResult{tables}, nil
}

func runPartitions(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Partitions(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return partitionsResult{resp}, nil
}
