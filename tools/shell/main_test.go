package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// peer is a one-node test peer speaking the real protocol over a real
// socket, enough to drive the shell end to end: one table, records in a
// map.
type peer struct {
	tandempb.UnimplementedKVServer
	tandempb.UnimplementedAdminServer
	addr  string
	mu    sync.Mutex
	table *tandempb.TableInfo
	recs  map[string]string
	dups  []*tandempb.DuplicationInfo // see dups_test.go
}

// mustStartPeer serves a peer on a loopback port until the test ends.
func mustStartPeer(t *testing.T) *peer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &peer{addr: lis.Addr().String(), recs: map[string]string{}}
	srv := grpc.NewServer()
	tandempb.RegisterKVServer(srv, p)
	tandempb.RegisterAdminServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return p
}

func (p *peer) CreateTable(_ context.Context, r *tandempb.CreateTableRequest) (*tandempb.CreateTableResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.table = &tandempb.TableInfo{Name: r.Name, Id: 1, Partitions: max(r.Partitions, 8), Replicas: 1}
	return &tandempb.CreateTableResponse{Table: p.table}, nil
}

func (p *peer) checkTable(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.table == nil || p.table.Name != name {
		return status.Errorf(codes.NotFound, "table %q not found", name)
	}
	return nil
}

func (p *peer) Route(_ context.Context, r *tandempb.RouteRequest) (*tandempb.RouteResponse, error) {
	if err := p.checkTable(r.Table); err != nil {
		return nil, err
	}
	resp := &tandempb.RouteResponse{Table: p.table}
	for i := range p.table.Partitions {
		resp.Partitions = append(resp.Partitions, &tandempb.PartitionRoute{Index: i, LeaderAddr: p.addr, ReplicaAddrs: []string{p.addr}})
	}
	return resp, nil
}

// BatchWrite stores sets (the SDK sends single writes this way).
func (p *peer) BatchWrite(_ context.Context, r *tandempb.BatchWriteRequest) (*tandempb.BatchWriteResponse, error) {
	if err := p.checkTable(r.Table); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &tandempb.BatchWriteResponse{}
	for _, w := range r.Writes {
		p.recs[string(w.HashKey)+"/"+string(w.SortKey)] = fmt.Sprintf("%s ttl=%d", w.Value, w.TtlSeconds)
		resp.Results = append(resp.Results, &tandempb.BatchOpResult{})
	}
	return resp, nil
}

// BatchGet answers gets (the SDK sends single reads this way).
func (p *peer) BatchGet(_ context.Context, r *tandempb.BatchGetRequest) (*tandempb.BatchGetResponse, error) {
	if err := p.checkTable(r.Table); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &tandempb.BatchGetResponse{}
	for _, g := range r.Gets {
		v, ok := p.recs[string(g.HashKey)+"/"+string(g.SortKey)]
		resp.Results = append(resp.Results, &tandempb.BatchOpResult{Found: ok, Value: []byte(v)})
	}
	return resp, nil
}

// runShell runs tandem-shell with argv and returns its exit status and
// output.
func runShell(argv ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(argv, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScriptAgainstPeer(t *testing.T) {
	p := mustStartPeer(t)
	tests := []struct {
		name      string
		argv      []string
		code      int
		stdout    string
		stderrHas string
	}{
		{"write and read", []string{"-e", `create demo; set demo h s "a b" --ttl 90s; get demo h s`}, 0,
			"created table demo: id 1, 8 partitions, 1 replicas\nOK\na b ttl=90\n", ""},
		{"not found stops with 1", []string{"-e", "get demo h nope; get demo h s"}, 1, "(not found)\n", ""},
		{"json not found", []string{"--json", "-e", "get demo h nope"}, 1, `{"found":false}` + "\n", ""},
		{"json value", []string{"--json", "-e", "get demo h s"}, 0, `{"found":true,"value":"a b ttl=90"}` + "\n", ""},
		{"unknown table is 2", []string{"-e", "get nope h s; get demo h s"}, 2, "", `table "nope" not found`},
		{"unimplemented call is 2", []string{"-e", "tables"}, 2, "", "Unimplemented"},
		{"exit stops quietly", []string{"-e", "exit; get demo h nope"}, 0, "", ""},
		{"comma-separated addresses", []string{"--addr", p.addr + "," + p.addr, "-e", "get demo h s"}, 0, "a b ttl=90\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{"--addr", p.addr}, tt.argv...)
			code, stdout, stderr := runShell(argv...)
			if code != tt.code || stdout != tt.stdout || !strings.Contains(stderr, tt.stderrHas) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderrHas)
			}
			if tt.stderrHas == "" && stderr != "" {
				t.Fatalf("unexpected stderr %q", stderr)
			}
		})
	}
}

func TestScriptWithoutCluster(t *testing.T) {
	tests := []struct {
		name      string
		argv      []string
		code      int
		stdoutHas string
		stderrHas string
	}{
		{"help", []string{"-e", "help"}, 0, "checkpoint create TABLE [--partition P]", ""},
		{"help of a group", []string{"-e", "help dup"}, 0, "dup add TABLE REMOTE_ADDR", ""},
		{"help of one command", []string{"-e", "help scan"}, 0, "scan TABLE [HASHKEY] [--limit N]", ""},
		{"help of a subcommand", []string{"-e", "help dup show"}, 0, "dup show TABLE DUPID", ""},
		{"dup states in help", []string{"-e", "help dup show"}, 0, "  INIT     the source has no progress report from the remote yet", ""},
		{"every dup state in group help", []string{"-e", "help dup"}, 0, "  UNKNOWN  no source leader answered", ""},
		{"explicit zero partitions", []string{"-e", "create t --partitions 0"}, 2, "", "--partitions must be at least 1 (leave it out for the default)"},
		{"explicit zero replicas", []string{"-e", "create t --replicas=0"}, 2, "", "--replicas must be at least 1"},
		{"value file and value", []string{"-e", "set t h s v --value-file f"}, 2, "", "give VALUE or --value-file, not both"},
		{"unknown subcommand", []string{"-e", "dup frob demo"}, 2, "", "unknown command: dup frob: want one of: add, ls, show, pause, start, rm"},
		{"dup usage", []string{"-e", "dup pause demo"}, 2, "", "usage: dup pause TABLE DUPID"},
		{"empty dup id", []string{"-e", `dup rm demo ""`}, 2, "", "DUPID is empty"},
		{"unknown command", []string{"-e", "frob"}, 2, "", `unknown command "frob"`},
		{"usage", []string{"-e", "get t h"}, 2, "", "usage: get TABLE HASHKEY SORTKEY"},
		{"bad flag value", []string{"-e", "set t h s v --ttl soon"}, 2, "", "not a positive duration"},
		{"bad quoting", []string{"-e", `get "t`}, 2, "", "unterminated quote"},
		{"stops at first error", []string{"-e", "frob; help"}, 2, "", "unknown command"},
		{"empty script", []string{"-e", ""}, 0, "", ""},
		{"stray arguments", []string{"nodes"}, 2, "", "quote commands with -e"},
		{"no address", []string{"--addr", ",", "-e", "help"}, 2, "", "--addr is empty"},
		{"unreachable", []string{"--addr", "127.0.0.1:1", "--timeout", "200ms", "-e", "nodes"}, 2, "", "client: unavailable"},
		{"client certificate without key", []string{"--tls-cert", "c.crt", "-e", "nodes"}, 2, "", "needs both its cert and key"},
		{"token in clear to another host", []string{"--addr", "10.255.0.1:7100", "--token", "x", "--timeout", "200ms", "-e", "nodes"}, 2, "", "refusing to send the token in clear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runShell(tt.argv...)
			if code != tt.code || !strings.Contains(stdout, tt.stdoutHas) || !strings.Contains(stderr, tt.stderrHas) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q",
					code, stdout, stderr, tt.code, tt.stdoutHas, tt.stderrHas)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{client.ErrNotFound, 1},
		{fmt.Errorf("%w: no key", client.ErrNotFound), 1},
		{client.ErrTableNotFound, 2},
		{client.ErrUnavailable, 2},
		{errors.New("other"), 2},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestCompleteLine(t *testing.T) {
	tables := func() []string { return []string{"demo", "users"} }
	tests := []struct {
		line     string
		wantHead string
		want     []string
	}{
		{"", "", commandNamesSpaced()},
		{"cr", "", []string{"create "}},
		{"c", "", []string{"create ", "count ", "checkpoint ", "config "}},
		{"get ", "get ", []string{"demo ", "users "}},
		{"get d", "get ", []string{"demo "}},
		{"get demo ", "get demo ", nil},
		{"config ", "config ", []string{"get ", "set "}},
		{"dup s", "dup ", []string{"show ", "start ", "switchover "}},
		{"dup show u", "dup show ", []string{"users "}},
		{"scan demo --l", "scan demo ", []string{"--limit "}},
		{"scan --limit 5 ", "scan --limit 5 ", []string{"demo ", "users "}},
		{"nodes; get u", "nodes; get ", []string{"users "}},
		{"create ", "create ", nil},
		{"frob ", "frob ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			head, got, tail := completeLine(commandTable(), tt.line, len(tt.line), tables)
			if head != tt.wantHead || !reflect.DeepEqual(got, tt.want) || tail != "" {
				t.Fatalf("completeLine(%q) = %q %q %q, want %q %q", tt.line, head, got, tail, tt.wantHead, tt.want)
			}
		})
	}
}

func commandNamesSpaced() []string {
	var out []string
	for _, n := range commandNames(commandTable()) {
		out = append(out, n+" ")
	}
	return out
}

// TestHelpListsEveryDupState: help names every state dup show prints.
func TestHelpListsEveryDupState(t *testing.T) {
	_, stdout, _ := runShell("-e", "help dup show")
	for _, state := range []string{"INIT", "PREPARE", "APP", "LOG", "PAUSED", "UNKNOWN"} {
		if !strings.Contains(stdout, "  "+state+" ") {
			t.Errorf("help dup show does not explain %s:\n%s", state, stdout)
		}
	}
	if _, all, _ := runShell("-e", "help"); strings.Contains(all, "PREPARE") {
		t.Errorf("the full help lists dup states; want them under help dup only:\n%s", all)
	}
}
