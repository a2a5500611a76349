package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/peterh/liner"
)

// historyFile is the interactive history, in the user's home directory.
const historyFile = ".tandem_history"

// maxHistoryLine bounds the lines kept in the history: liner reads the
// history file back in 4,096-byte buffers and drops everything after a
// longer line, so a long value typed once would cost the whole history.
const maxHistoryLine = 4096

// runInteractive reads commands from the terminal until exit, quit or
// end of input.
func runInteractive(s *session, p *printer) int {
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		return completeLine(s.cmds, line, pos, func() []string {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return s.knownTableNames(ctx)
		})
	})
	hist := historyPath()
	loadHistory(ln, hist)
	defer saveHistory(ln, hist)
	fmt.Fprintln(p.out, "tandem-shell: type help for the commands, exit or Ctrl-D to leave")
	for {
		line, err := ln.Prompt("tandem> ")
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(p.out)
			return exitOK
		case err != nil:
			p.fail(err)
			return exitError
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < maxHistoryLine {
			ln.AppendHistory(line)
		}
		if exit := runLine(s, p, line); exit {
			return exitOK
		}
	}
}

// runLine runs the commands of one interactive line, stopping at the first
// error, and reports whether the user asked to leave.
func runLine(s *session, p *printer, line string) (exit bool) {
	cmds, err := tokenize(line)
	if err != nil {
		p.fail(err)
		return false
	}
	for _, words := range cmds {
		code, exit := runOne(s, p, words)
		if exit {
			return true
		}
		if code != exitOK {
			return false
		}
	}
	return false
}

// historyPath is ~/.tandem_history, "" when there is no home directory.
func historyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, historyFile)
}

func loadHistory(ln *liner.State, path string) {
	if path == "" {
		return
	}
	if f, err := os.Open(path); err == nil {
		_, _ = ln.ReadHistory(f)
		_ = f.Close()
	}
}

func saveHistory(ln *liner.State, path string) {
	if path == "" {
		return
	}
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
		_, _ = ln.WriteHistory(f)
		_ = f.Close()
	}
}

// completeLine is liner's word completer: it completes the word before pos
// with command names, subcommand names, flags or table names, as the
// words before it call for. tables is asked only when a table name fits.
func completeLine(cmds []*command, line string, pos int, tables func() []string) (head string, completions []string, tail string) {
	head, tail = line[:pos], line[pos:]
	stmt := head[strings.LastIndex(head, ";")+1:]
	words := strings.Fields(stmt)
	cur := ""
	if len(words) > 0 && !strings.HasSuffix(stmt, " ") && !strings.HasSuffix(stmt, "\t") {
		cur, words = words[len(words)-1], words[:len(words)-1]
	}
	for _, c := range candidates(cmds, words, cur, tables) {
		completions = append(completions, c+" ")
	}
	return head[:len(head)-len(cur)], completions, tail
}

// candidates lists the words that may follow words and start with cur.
func candidates(cmds []*command, words []string, cur string, tables func() []string) []string {
	var options []string
	switch cmd, pos := resolve(cmds, words); {
	case len(words) == 0:
		options = commandNames(cmds)
	case cmd == nil && pos == 1:
		options = subcommandNames(cmds, words[0])
	case cmd == nil:
	case strings.HasPrefix(cur, "-"):
		for _, f := range cmd.flags {
			options = append(options, "--"+f)
		}
	case cmd.tableArgs && positionals(words[pos:]) == 0:
		options = tables()
	}
	var out []string
	for _, o := range options {
		if strings.HasPrefix(o, cur) {
			out = append(out, o)
		}
	}
	return out
}

// resolve finds the command the words name and how many of them name it;
// cmd is nil while a group's subcommand is still missing.
func resolve(cmds []*command, words []string) (cmd *command, n int) {
	if len(words) == 0 {
		return nil, 0
	}
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == words[0] })
	if i < 0 {
		return nil, -1
	}
	if cmds[i].subs == nil {
		return cmds[i], 1
	}
	if len(words) < 2 {
		return nil, 1
	}
	j := slices.IndexFunc(cmds[i].subs, func(c *command) bool { return c.name == words[1] })
	if j < 0 {
		return nil, -1
	}
	return cmds[i].subs[j], 2
}

// positionals counts the positional words among a command's arguments.
func positionals(words []string) int {
	n := 0
	for i := 0; i < len(words); i++ {
		if strings.HasPrefix(words[i], "--") && len(words[i]) > 2 {
			if !strings.Contains(words[i], "=") {
				i++ // the flag's value
			}
			continue
		}
		n++
	}
	return n
}

func commandNames(cmds []*command) []string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	return names
}

func subcommandNames(cmds []*command, group string) []string {
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == group })
	if i < 0 {
		return nil
	}
	return commandNames(cmds[i].subs)
}
