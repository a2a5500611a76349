package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// sdkTimeout is an error as the SDK returns it when a call's deadline
// passed while it retried.
var sdkTimeout = fmt.Errorf("%w: %w: last error: rpc error: code = Canceled desc = stream terminated by RST_STREAM with error code: CANCEL",
	client.ErrUnavailable, context.DeadlineExceeded)

func TestExplainFailure(t *testing.T) {
	tests := []struct {
		name, line string
		err        error
		code       int
		says       string // "" for an error passed through unchanged
	}{
		{"create timed out", "create users --partitions 8", sdkTimeout, exitUnknown,
			"create users: timed out after 10s: the table may have been created; run `tables` or `partitions users` to check"},
		{"drop timed out", "drop users", sdkTimeout, exitUnknown,
			"drop users: timed out after 10s: the table may have been dropped; run `tables` to check"},
		{"config set timed out", "config set checkpoint.retain 3", sdkTimeout, exitUnknown,
			"config set checkpoint.retain 3: timed out after 10s: the change may have been applied; run `config get checkpoint.retain` to check"},
		{"dup add timed out", "dup add users 10.0.0.1:7200", sdkTimeout, exitUnknown,
			"a duplication may have been added; run `dup ls users` to check"},
		{"dup pause timed out", "dup pause users 17", sdkTimeout, exitUnknown,
			"the duplication may have been paused; run `dup show users 17` to check"},
		{"checkpoint create interrupted", "checkpoint create users", fmt.Errorf("client: %w", context.Canceled), exitUnknown,
			"checkpoint create users: interrupted: checkpoints may have been taken; run `checkpoint ls users` to check"},
		{"ambiguous set", "set users 'u 1' name ann", fmt.Errorf("%w: leader lost", client.ErrAmbiguous), exitUnknown,
			"set users 'u 1' name: the write may or may not have been applied; run `get users 'u 1' name` to check"},
		{"ambiguous del after deadline", "del users u1 name", fmt.Errorf("%w: %w", client.ErrAmbiguous, sdkTimeout), exitUnknown,
			"del users u1 name: timed out after 10s: the write may or may not have been applied; run `get users u1 name` to check"},
		{"set not proposed", "set users u1 name ann", sdkTimeout, exitError,
			"set users u1 name: timed out after 10s: the write was not applied (no leader took it), so it is safe to run it again"},
		{"set refused", "set users u1 name ann", fmt.Errorf("%w: value too large", client.ErrInvalidArgument), exitError, ""},
		{"create refused", "create users", fmt.Errorf("%w: bad name", client.ErrInvalidArgument), exitError, ""},
		{"change never sent", "create users", &notSentError{fmt.Errorf("%w: no node of [a] reachable: %w", client.ErrUnavailable, context.DeadlineExceeded)},
			exitError, "create users: timed out after 10s: no node answered, so nothing was sent and nothing changed"},
		{"unknown table", "set nope h s v", &notSentError{fmt.Errorf("%w: nope", client.ErrTableNotFound)}, exitError, ""},
		{"read timed out", "get users u1 name", sdkTimeout, exitError,
			"get users u1 name: timed out after 10s: it only reads and changes nothing"},
		{"read not found", "get users u1 name", client.ErrNotFound, exitNotFound, ""},
	}
	cmds := commandTable()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			words, err := tokenize(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			cmd, path, rest, err := lookup(cmds, words[0])
			if err != nil {
				t.Fatal(err)
			}
			a, err := parseArgs(cmd, rest)
			if err != nil {
				t.Fatal(err)
			}
			got := explainFailure(cmd, path, a, 10*time.Second, tt.err)
			if !errors.Is(got, tt.err) || exitCode(got) != tt.code {
				t.Fatalf("explainFailure = %v (exit %d); want it to wrap %v, exit %d", got, exitCode(got), tt.err, tt.code)
			}
			var oe *outcomeError
			switch {
			case tt.says == "" && got != tt.err:
				t.Fatalf("explainFailure = %v; want the error unchanged", got)
			case tt.says != "" && (!errors.As(got, &oe) || !strings.Contains(oe.summary(), tt.says)):
				t.Fatalf("explainFailure = %v; want it to say %q", got, tt.says)
			}
		})
	}
}

func TestQuoteWordRoundTrips(t *testing.T) {
	for _, w := range []string{"users", "u 1", "it's", `a"b\c`, "tab\there", "\x00\xff", "", "naïve", "semi;colon", "$1"} {
		q := quoteWord(w)
		cmds, err := tokenize("get " + q)
		if err != nil || len(cmds) != 1 || len(cmds[0]) != 2 || cmds[0][1] != w {
			t.Fatalf("quoteWord(%q) = %s, read back as %q (%v)", w, q, cmds, err)
		}
	}
}
