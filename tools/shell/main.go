// Command tandem-shell is the operator's shell of a Tandem cluster: tables,
// nodes, partitions, records, checkpoints, runtime config and cross-cluster
// duplication, interactively or from `-e 'CMD; CMD'`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/peterh/liner"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// Exit statuses of tandem-shell.
const (
	exitOK       = 0
	exitNotFound = 1 // a record or key was absent
	exitError    = 2 // any other error
	exitUnknown  = 3 // a change may or may not have been applied
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	addrs    []string
	json     bool
	progress string
	script   string
	hasE     bool
	timeout  time.Duration
	cred     credflags.Flags
}

// parseOptions parses the command line.
func parseOptions(argv []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("tandem-shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7100", "RPC address of any node, or a comma-separated list")
	var o options
	fs.BoolVar(&o.json, "json", false, "print one JSON document per command")
	fs.StringVar(&o.progress, "progress", progressAuto, "progress bars of long commands on stderr: auto (on a terminal, not with --json), always, never")
	fs.StringVar(&o.script, "e", "", "run these `commands` (separated by ';') and exit")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of each request, retries included")
	o.cred.Register(fs, "", "the cluster")
	if err := fs.Parse(argv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (quote commands with -e)", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { o.hasE = o.hasE || f.Name == "e" })
	o.addrs = client.SplitAddrs(*addr)
	if len(o.addrs) == 0 {
		return o, errors.New("--addr is empty")
	}
	if o.timeout <= 0 {
		return o, errors.New("--timeout must be positive")
	}
	return o, nil
}

// run is main without the process: it returns the exit status. Commands
// come from -e, else from a terminal on stdin (interactive), else from
// stdin line by line (piped).
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseOptions(argv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem-shell:", err)
		return exitError
	}
	cfg := client.DefaultConfig()
	cfg.Addrs = o.addrs
	cfg.RequestTimeout = o.timeout
	cfg.DialTimeout = min(cfg.DialTimeout, o.timeout)
	if err := o.cred.Apply(&cfg); err != nil {
		fmt.Fprintln(stderr, "tandem-shell:", err)
		return exitError
	}
	s := newSession(cfg, stdin)
	defer s.close()
	if s.progress, s.progressTTY, err = progressSetting(o.progress, o.json, stderr); err != nil {
		fmt.Fprintln(stderr, "tandem-shell:", err)
		return exitError
	}
	p := &printer{out: stdout, errOut: stderr, json: o.json}
	switch {
	case o.hasE:
		code, _ := runScript(s, p, o.script)
		return code
	case isTerminal(stdin):
		s.stdinCommands = true
		return runInteractive(s, p)
	default:
		s.stdinCommands = true
		return runPiped(s, p, stdin)
	}
}

// isTerminal reports whether r is the process's stdin and a terminal.
func isTerminal(r io.Reader) bool {
	if f, ok := r.(*os.File); !ok || f != os.Stdin {
		return false
	}
	_, err := liner.TerminalMode()
	return err == nil
}

// runScript runs the commands of script in order and stops at the first
// error; stop is true when it stopped early (an error, or exit).
func runScript(s *session, p *printer, script string) (code int, stop bool) {
	cmds, err := tokenize(script)
	if err != nil {
		p.fail(err)
		return exitError, true
	}
	for _, words := range cmds {
		code, exit := runOne(s, p, words)
		if exit || code != exitOK {
			return code, true
		}
	}
	return exitOK, false
}

// runPiped runs the commands read from r, a line at a time and as -e does:
// in order, stopping at the first error. A line is run only once it has
// been read whole, however long it is (liner's fallback reader for
// non-terminals returned lines in 4,096-byte pieces and ran each piece).
func runPiped(s *session, p *printer, r io.Reader) int {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			p.fail(fmt.Errorf("reading line %d of stdin: %w (that line was not run)", n, err))
			return exitError
		}
		if code, stop := runScript(s, p, text); stop {
			return code
		}
		if err != nil {
			return exitOK
		}
	}
}

// runOne runs one command, prints its result or error, and returns the
// exit status it calls for and whether the session should end. Ctrl-C
// cancels the command, not the shell.
func runOne(s *session, p *printer, words []string) (code int, exit bool) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := s.execute(ctx, words)
	if errors.Is(err, errExit) {
		return exitOK, true
	}
	if res != nil {
		if perr := p.print(res); perr != nil {
			p.fail(perr)
			return exitError, false
		}
	}
	if err == nil {
		return exitOK, false
	}
	if res == nil || !errors.Is(err, client.ErrNotFound) {
		p.fail(err) // an absent record was shown as such already
	}
	return exitCode(err), false
}

// exitCode is the exit status err calls for.
func exitCode(err error) int {
	var oe *outcomeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &oe) && oe.unknown:
		return exitUnknown
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	default:
		return exitError
	}
}

// printer writes results for people or as JSON, and errors to stderr.
type printer struct {
	out, errOut io.Writer
	json        bool
}

// print writes one command's result.
func (p *printer) print(res result) error {
	if !p.json {
		return res.human(p.out)
	}
	enc := json.NewEncoder(p.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(res.json())
}

// fail reports an error on stderr; an explained one takes two lines, what
// it means and then the cause.
func (p *printer) fail(err error) {
	var oe *outcomeError
	if errors.As(err, &oe) {
		fmt.Fprintln(p.errOut, "error:", oe.summary())
		fmt.Fprintln(p.errOut, "cause:", oe.cause)
	} else {
		fmt.Fprintln(p.errOut, "error:", err)
	}
	if errors.Is(err, client.ErrUnauthenticated) {
		fmt.Fprintln(p.errOut, "hint: the cluster requires credentials: --token (or $"+credflags.EnvToken+"), or a client certificate with --tls-cert and --tls-key")
	}
}
