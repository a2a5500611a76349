package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errUsage marks an error in how a command was called; the message says
// what is wrong and the shell adds the command's usage.
var errUsage = errors.New("usage")

// args is a command's parsed arguments: positionals in order and
// "--name value" flags by name.
type args struct {
	pos   []string
	flags map[string]string
}

// parseArgs splits words into positionals and the flags the command allows
// (every flag takes a value, as "--name value" or "--name=value"), and
// checks the positional count. "--" ends the flags, so a positional may
// start with "--".
func parseArgs(cmd *command, words []string) (args, error) {
	a := args{flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			a.pos = append(a.pos, words[i+1:]...)
			break
		}
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			a.pos = append(a.pos, w)
			continue
		}
		name, value, hasValue := strings.Cut(w[2:], "=")
		if !cmd.allowsFlag(name) {
			return args{}, fmt.Errorf("%w: unknown flag --%s", errUsage, name)
		}
		if !hasValue && slices.Contains(cmd.bools, name) {
			value = "true"
		} else if !hasValue {
			if i+1 == len(words) {
				return args{}, fmt.Errorf("%w: flag --%s needs a value", errUsage, name)
			}
			i++
			value = words[i]
		}
		a.flags[name] = value
	}
	if len(a.pos) < cmd.minArgs || len(a.pos) > cmd.maxArgs {
		return args{}, fmt.Errorf("%w: %s takes %s", errUsage, cmd.name, argCount(cmd.minArgs, cmd.maxArgs))
	}
	return a, nil
}

// argCount says how many positionals a command takes.
func argCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no arguments"
	case min == max && min == 1:
		return "1 argument"
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	default:
		return fmt.Sprintf("%d to %d arguments", min, max)
	}
}

// arg returns positional i, or "" when absent.
func (a args) arg(i int) string {
	if i < len(a.pos) {
		return a.pos[i]
	}
	return ""
}

// boolFlag reports whether a flag without value (--force) was given.
func (a args) boolFlag(name string) bool {
	_, ok := a.flags[name]
	return ok
}

// intFlag returns flag name as a non-negative integer, def when absent.
func (a args) intFlag(name string, def int) (int, error) {
	v, ok := a.flags[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: --%s %q is not a non-negative integer", errUsage, name, v)
	}
	return n, nil
}

// countFlag returns flag name as a count of at least 1, 0 when absent
// (the default): 0 written out is refused rather than taken as the
// default.
func (a args) countFlag(name string) (int, error) {
	n, err := a.intFlag(name, 0)
	if err != nil {
		return 0, err
	}
	if _, given := a.flags[name]; given && n == 0 {
		return 0, fmt.Errorf("%w: --%s must be at least 1 (leave it out for the default)", errUsage, name)
	}
	return n, nil
}

// durationFlag returns flag name as a duration ("90s", "1h30m", or bare
// seconds "90"), 0 when absent.
func (a args) durationFlag(name string) (time.Duration, error) {
	v, ok := a.flags[name]
	if !ok {
		return 0, nil
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: --%s %q is not a positive duration (e.g. 90s, 1h)", errUsage, name, v)
	}
	return d, nil
}
