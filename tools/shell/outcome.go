package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tandem-kv/tandem/client"
)

// change describes what a command changes, for the report of a failure
// whose outcome is open: maybe says what may have happened ("the table
// may have been created"), check the commands that tell ("`tables`").
type change struct {
	kvWrite bool // a record write: the SDK says exactly whether it may have applied
	explain func(a args) (maybe, check string)
}

// adminChange describes a metadata change: maybe says what may have
// happened; checks are commands that show whether it did, where $1
// stands for the command's first positional (a table, or a config key).
func adminChange(maybe string, checks ...string) *change {
	return &change{explain: func(a args) (string, string) {
		hints := make([]string, len(checks))
		for i, c := range checks {
			words := strings.Fields(c)
			for j, w := range words {
				if w == "$1" {
					words[j] = a.arg(0)
				}
			}
			hints[i] = shellCmd(words...)
		}
		return maybe, strings.Join(hints, " or ")
	}}
}

// dupChange describes pausing or resuming a duplication.
func dupChange(maybe string) *change {
	return &change{explain: func(a args) (string, string) {
		return maybe, shellCmd("dup", "show", a.arg(0), a.arg(1))
	}}
}

// recordWrite describes set and del.
func recordWrite() *change {
	return &change{kvWrite: true, explain: func(a args) (string, string) {
		return "the write may or may not have been applied", shellCmd("get", a.arg(0), a.arg(1), a.arg(2))
	}}
}

// notSentError wraps the error of a step that failed before the command
// itself was sent (dialling, looking up a table's route): nothing changed.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// outcomeError is a failed command's error explained for people: what
// happened, whether the change may have been applied, how to check.
type outcomeError struct {
	label   string // the command, keys only: "set t h s"
	how     string // "timed out after 10s", or ""
	what    string // "the table may have been created"
	check   string // "run `tables` to check", or ""
	unknown bool   // the change may have been applied
	cause   error
}

// summary is the explanation without the cause.
func (e *outcomeError) summary() string {
	s := e.label + ": "
	if e.how != "" {
		s += e.how + ": "
	}
	s += e.what
	if e.check != "" {
		s += "; " + e.check
	}
	return s
}

func (e *outcomeError) Error() string { return e.summary() + " (" + e.cause.Error() + ")" }
func (e *outcomeError) Unwrap() error { return e.cause }

// explainFailure turns the error of command cmd (called as path with a)
// into an outcomeError when the SDK's error alone would leave the user
// guessing: a change that timed out or whose outcome is unknown, a write
// known not applied, a read that timed out. Other errors pass unchanged.
func explainFailure(cmd *command, path string, a args, timeout time.Duration, err error) error {
	var notSent *notSentError
	e := &outcomeError{label: commandLabel(path, a), how: howItEnded(err, timeout), cause: err}
	switch {
	case err == nil, errors.Is(err, errUsage):
		return err
	case cmd.change == nil: // a read changes nothing
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		e.what = "it only reads and changes nothing: run it again, or give it more time with --timeout"
	case errors.As(err, &notSent):
		if !errors.Is(err, client.ErrUnavailable) {
			return err
		}
		e.what = "no node answered, so nothing was sent and nothing changed"
	case cmd.change.kvWrite && !errors.Is(err, client.ErrAmbiguous):
		if !errors.Is(err, client.ErrUnavailable) && !errors.Is(err, context.Canceled) {
			return err // refused: invalid, read-only, too large...
		}
		e.what = "the write was not applied (no leader took it), so it is safe to run it again"
	case errors.Is(err, client.ErrAmbiguous), errors.Is(err, client.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		maybe, check := cmd.change.explain(a)
		e.what, e.unknown = maybe, true
		if check != "" {
			e.check = "run " + check + " to check"
		}
	default:
		return err
	}
	return e
}

// howItEnded says how a failed call ended: "timed out after 10s",
// "interrupted", or "" for an error the cluster answered.
func howItEnded(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out after " + timeout.String()
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return ""
}

// labelWords is how many positionals name what a command acts on (set's
// fourth, the value, can be megabytes).
const labelWords = 3

// commandLabel is the command as the user could type it, with its first
// positionals only, each shortened.
func commandLabel(path string, a args) string {
	words := []string{path}
	for i, w := range a.pos {
		if i == labelWords {
			break
		}
		if utf8.RuneCountInString(w) > 40 {
			w = string([]rune(w)[:40]) + "..."
		}
		words = append(words, quoteWord(w))
	}
	return strings.Join(words, " ")
}

// quoteWord writes s so that the shell's tokenizer reads it back as s:
// as is when plain, in single quotes when printable, else in double quotes
// with escapes.
func quoteWord(s string) string {
	plain := s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_.-:/@%+=,", r)))
	})
	if plain {
		return s
	}
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r == '\'' || !unicode.IsPrint(r) }) {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shellCmd formats a command for a "run ... to check" hint.
func shellCmd(words ...string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = quoteWord(w)
	}
	return "`" + strings.Join(quoted, " ") + "`"
}
