package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// dup reapply (issue 13): the writes a resync saved to its divergence file
// (duplication/divergence.go writes it: one JSON object a line) are
// written again to the table on the current primary.
//
// Semantics, stated in help and INTERFACE.md: every mutation is applied in
// the file's order (partition, then decree: for each key, the order the
// old source applied them), each as its own write; a set overwrites what
// the new primary holds now (the file keeps no earlier value to compare
// with, so a record written on the new primary since the failover is
// overwritten: --dry-run reads each record and counts the writes that
// would overwrite or delete one held now with another value). A set whose expire_ts has passed is
// skipped (it would be gone already); a later one keeps its expiry time,
// rounded up to a whole second. The first write whose outcome is unknown
// stops the command, naming its line: it is never retried blindly; the
// operator checks the record and resumes with --from.

var (
	// errMalformedDivergence is returned for a divergence file that is not
	// one (a line that is not a divergent entry of the table); nothing is
	// written.
	errMalformedDivergence = errors.New("malformed divergence file")
	// errReapplyStopped is returned when a write fails part-way; the
	// error names what was applied and where to resume.
	errReapplyStopped = errors.New("dup reapply stopped")
)

// reapplyCommand is dup reapply, run against the current primary.
func reapplyCommand() *command {
	return &command{name: "reapply", usage: "TABLE FILE [--dry-run] [--from LINE]",
		help: "write the divergence file of a dup resync (FILE, a path on this machine) to TABLE on the current primary, in the file's order; " +
			"a set overwrites the record's current value, an expired one is skipped; --dry-run checks and counts only (with how many would overwrite another value); " +
			"--from LINE resumes at that line; a write whose outcome is unknown stops it, naming the line",
		minArgs: 2, maxArgs: 2, bools: []string{"dry-run"}, flags: []string{"from"}, tableArgs: true, run: runDupReapply,
		change: adminChange("some of the file's writes may have been applied (the error names the line to resume from with --from)")}
}

// divergentLine is one line of a divergence file, as the shell reads it.
type divergentLine struct {
	Table     string `json:"table"`
	Partition uint32 `json:"partition"`
	Decree    uint64 `json:"decree"`
	Mutations []struct {
		Op            string `json:"op"`
		HashKey       string `json:"hash_key"`
		HashKeyBase64 string `json:"hash_key_base64"`
		SortKey       string `json:"sort_key"`
		SortKeyBase64 string `json:"sort_key_base64"`
		Value         string `json:"value"`
		ValueBase64   string `json:"value_base64"`
		ExpireTS      uint32 `json:"expire_ts"`
	} `json:"mutations"`
}

// reapplyWrite is one mutation to write again.
type reapplyWrite struct {
	line             int
	del              bool
	hashKey, sortKey []byte
	value            []byte
	expireTS         uint32
}

func runDupReapply(ctx context.Context, s *session, a args) (result, error) {
	from, err := a.intFlag("from", 1)
	if err != nil {
		return nil, err
	}
	tbl, err := s.table(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	writes, entries, err := readDivergence(a.arg(1), a.arg(0))
	if err != nil {
		return nil, err
	}
	res := reapplyResult{table: a.arg(0), file: a.arg(1), entries: entries, mutations: len(writes), dryRun: a.boolFlag("dry-run")}
	now := time.Now()
	for _, w := range writes {
		switch {
		case w.line < from:
			res.before++
		case w.expireTS != 0 && int64(w.expireTS) <= now.Unix():
			res.expired++
		case res.dryRun:
			if err := res.preview(ctx, tbl, w); err != nil {
				return nil, err
			}
			res.applied++
		default:
			if err := applyDivergent(ctx, tbl, w, now); err != nil {
				return nil, res.stopped(w, err)
			}
			res.applied++
		}
	}
	return res, nil
}

// preview counts, for --dry-run, a write that would overwrite (or delete)
// a record the table holds now with another value: one the new primary
// wrote since the failover, or that an earlier line of the file changes.
func (r *reapplyResult) preview(ctx context.Context, tbl *client.Table, w reapplyWrite) error {
	v, err := tbl.Get(ctx, w.hashKey, w.sortKey)
	switch {
	case errors.Is(err, client.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("dry run: read %s/%s at line %d: %w", w.hashKey, w.sortKey, w.line, err)
	case w.del || !bytes.Equal(v, w.value):
		r.overwrites++
	}
	return nil
}

// applyDivergent writes w once.
func applyDivergent(ctx context.Context, tbl *client.Table, w reapplyWrite, now time.Time) error {
	if w.del {
		return tbl.Del(ctx, w.hashKey, w.sortKey)
	}
	var opts []client.WriteOption
	if w.expireTS != 0 {
		opts = append(opts, client.WithTTL(time.Unix(int64(w.expireTS), 0).Sub(now)))
	}
	return tbl.Set(ctx, w.hashKey, w.sortKey, w.value, opts...)
}

// readDivergence reads and checks the whole file before anything is
// written: a malformed line, or one of another table, refuses it all.
func readDivergence(path, table string) ([]reapplyWrite, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errMalformedDivergence, err)
	}
	defer f.Close()
	var out []reapplyWrite
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20) // a line holds one raft entry
	n := 0
	for sc.Scan() {
		n++
		ws, err := parseDivergentLine(sc.Bytes(), n, table)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s line %d: %w", errMalformedDivergence, path, n, err)
		}
		out = append(out, ws...)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: %s line %d: %w", errMalformedDivergence, path, n+1, err)
	}
	return out, n, nil
}

// parseDivergentLine decodes line n into its writes.
func parseDivergentLine(b []byte, n int, table string) ([]reapplyWrite, error) {
	var e divergentLine
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	if e.Table != table {
		return nil, fmt.Errorf("a write of table %q, not %q", e.Table, table)
	}
	if len(e.Mutations) == 0 {
		return nil, errors.New("no mutations")
	}
	out := make([]reapplyWrite, 0, len(e.Mutations))
	for i, m := range e.Mutations {
		w := reapplyWrite{line: n, del: m.Op == "del", expireTS: m.ExpireTS}
		var err error
		if m.Op != "set" && m.Op != "del" {
			return nil, fmt.Errorf("mutation %d: op %q (want set or del)", i, m.Op)
		}
		if w.hashKey, err = textOrBase64Field(m.HashKey, m.HashKeyBase64); err != nil || len(w.hashKey) == 0 {
			return nil, fmt.Errorf("mutation %d: hash key: %v", i, orEmpty(err))
		}
		if w.sortKey, err = textOrBase64Field(m.SortKey, m.SortKeyBase64); err != nil {
			return nil, fmt.Errorf("mutation %d: sort key: %w", i, err)
		}
		if w.value, err = textOrBase64Field(m.Value, m.ValueBase64); err != nil {
			return nil, fmt.Errorf("mutation %d: value: %w", i, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// textOrBase64Field is a key or value of the file: text, or base64 when
// it is not UTF-8 (never both).
func textOrBase64Field(text, b64 string) ([]byte, error) {
	if b64 == "" {
		return []byte(text), nil
	}
	if text != "" {
		return nil, errors.New("both text and base64")
	}
	return base64.StdEncoding.DecodeString(b64)
}

func orEmpty(err error) error {
	if err == nil {
		return errors.New("empty")
	}
	return err
}

// reapplyResult is dup reapply's answer.
type reapplyResult struct {
	table, file              string
	entries, mutations       int
	applied, expired, before int
	overwrites               int // --dry-run: records held now with another value
	dryRun                   bool
}

// stopped is the error of a write that failed at w: what was applied,
// and how to go on. A write whose outcome is unknown is named as such.
func (r reapplyResult) stopped(w reapplyWrite, err error) error {
	key := shellCmd("get", r.table, string(w.hashKey), string(w.sortKey))
	switch {
	case errors.Is(err, client.ErrAmbiguous):
		return fmt.Errorf("%w at line %d after %d writes applied: the outcome of this write is unknown (not retried): check it with %s, then resume with --from %d (or --from %d to skip it): %w",
			errReapplyStopped, w.line, r.applied, key, w.line, w.line+1, err)
	case errors.Is(err, client.ErrReadOnly), errors.Is(err, client.ErrSwitchedOver):
		return fmt.Errorf("%w at line %d after %d writes applied: table %s does not take writes here (re-apply on the current primary): %w",
			errReapplyStopped, w.line, r.applied, r.table, err)
	}
	return fmt.Errorf("%w at line %d after %d writes applied: this write was not applied; resume with --from %d: %w",
		errReapplyStopped, w.line, r.applied, w.line, err)
}

func (r reapplyResult) human(w io.Writer) error {
	verb, over := "re-applied", ""
	if r.dryRun {
		verb = "would re-apply (dry run, nothing written)"
		over = fmt.Sprintf("; %d would overwrite or delete a record the table holds now with another value", r.overwrites)
	}
	return line(w, fmt.Sprintf("%s %d of %s (%s) of %s to table %s; skipped %d expired, %d before --from%s",
		verb, r.applied, plural(r.mutations, "write"), plural(r.entries, "line"), r.file, r.table, r.expired, r.before, over))
}

func (r reapplyResult) json() any {
	return map[string]any{"ok": true, "table": r.table, "file": r.file, "lines": r.entries, "writes": r.mutations,
		"applied": r.applied, "skipped_expired": r.expired, "skipped_before_from": r.before, "dry_run": r.dryRun,
		"would_overwrite": r.overwrites}
}
