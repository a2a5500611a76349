package main

import (
	"context"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// session is the state the commands share: the client, dialled on first
// use so that help and bad input need no cluster, the table handles, the
// table names for completion, and stdin for --value-file -.
type session struct {
	cfg  client.Config
	cmds []*command

	stdin         io.Reader
	stdinCommands bool // the commands come from stdin: it holds no value
	stdinRead     bool // a --value-file - has read stdin to its end

	// progress is where long commands draw their bars (progress.go); nil
	// for none. progressTTY: it is a terminal, frames redraw in place.
	progress    io.Writer
	progressTTY bool

	mu         sync.Mutex
	c          *client.Client
	tables     map[string]*client.Table
	tableNames []string
	namesKnown bool
}

// newSession returns a session that will connect as cfg says.
func newSession(cfg client.Config, stdin io.Reader) *session {
	return &session{cfg: cfg, cmds: commandTable(), stdin: stdin, tables: map[string]*client.Table{}}
}

// client returns the session's client, dialling it on first use. Its
// errors are notSentError: nothing reached the cluster.
func (s *session) client(ctx context.Context) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		return s.c, nil
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, &notSentError{err}
	}
	s.c = c
	return c, nil
}

// dial probes the nodes first, within the dial timeout: a node that speaks
// TLS to a plaintext shell (or the reverse) is reported at once instead of
// after the timeout, and the first node that answered goes first, so that
// calls do not wait on a node that accepts connections but hangs.
func (s *session) dial(ctx context.Context) (*client.Client, error) {
	cfg := s.cfg
	deadline := time.Now().Add(cfg.DialTimeout)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	addrs, err := credflags.Probe(pctx, cfg, "")
	cancel()
	if err != nil {
		return nil, err
	}
	cfg.Addrs = addrs
	cfg.DialTimeout = max(time.Until(deadline), time.Millisecond)
	return client.DialConfig(ctx, cfg)
}

// table returns a handle on table name, fetching its route once.
func (s *session) table(ctx context.Context, name string) (*client.Table, error) {
	s.mu.Lock()
	tbl, ok := s.tables[name]
	s.mu.Unlock()
	if ok {
		return tbl, nil
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	if tbl, err = c.Table(ctx, name); err != nil {
		return nil, &notSentError{err} // the route, not the command, failed
	}
	s.mu.Lock()
	s.tables[name] = tbl
	s.mu.Unlock()
	return tbl, nil
}

// forgetTables drops the cached handles and names after a create or drop.
func (s *session) forgetTables() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables = map[string]*client.Table{}
	s.namesKnown = false
}

// rememberTableNames keeps the names of tables for completion.
func (s *session) rememberTableNames(tables []*tandempb.TableInfo) []string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.GetName()
	}
	sort.Strings(names)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tableNames, s.namesKnown = names, true
	return names
}

// knownTableNames returns the table names for completion, listing them
// from the cluster when unknown; errors leave the list empty.
func (s *session) knownTableNames(ctx context.Context) []string {
	s.mu.Lock()
	names, known := s.tableNames, s.namesKnown
	s.mu.Unlock()
	if known {
		return names
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil
	}
	tables, err := c.ListTables(ctx)
	if err != nil {
		return nil
	}
	return s.rememberTableNames(tables)
}

// progressView returns a view for one command's bars; nil (drawing
// nothing) when bars are off.
func (s *session) progressView() *progressView { return newProgressView(s.progress, s.progressTTY) }

// close closes the client, if one was dialled.
func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		_ = s.c.Close()
	}
}
