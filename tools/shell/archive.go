package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// archiveCommands are the archive subcommands.
func archiveCommands() []*command {
	return []*command{
		{name: "add", usage: "TABLE URL", help: "archive TABLE continuously to object storage (file:///path); prints the archive id",
			minArgs: 2, maxArgs: 2, tableArgs: true, run: runArchiveAdd, change: adminChange("the archive may have been added", "archive ls $1")},
		{name: "ls", usage: "[TABLE]", help: "list archives with table, url, state, archived time, lag, bytes",
			maxArgs: 1, tableArgs: true, run: runArchiveLs},
		{name: "show", usage: "TABLE", help: "per partition: state, base, archived-up-to decree and time, lag, bytes, gaps",
			minArgs: 1, maxArgs: 1, tableArgs: true, run: runArchiveShow, notes: archiveStateNotes},
		{name: "pause", usage: "TABLE", help: "pause uploading (the partitions keep their log, within dup.log_retain_*)",
			minArgs: 1, maxArgs: 1, tableArgs: true, run: runArchiveOp((*client.Client).PauseArchive, "paused"),
			change: adminChange("the archive may have been paused", "archive show $1")},
		{name: "start", usage: "TABLE", help: "resume a paused archive where it stopped",
			minArgs: 1, maxArgs: 1, tableArgs: true, run: runArchiveOp((*client.Client).StartArchive, "started"),
			change: adminChange("the archive may have been resumed", "archive show $1")},
		{name: "rm", usage: "TABLE", help: "stop archiving TABLE (the bucket keeps what it holds; restores still work)",
			minArgs: 1, maxArgs: 1, tableArgs: true, run: runArchiveOp((*client.Client).RemoveArchive, "removed"),
			change: adminChange("the archive may have been removed", "archive ls $1")},
	}
}

// restoreCommand is the restore command.
func restoreCommand() *command {
	return &command{name: "restore", usage: "TABLE URL [--to-decree D | --to-time T] [--as NEWTABLE]",
		help:    "create a table from TABLE's archive at URL: newest point, a decree (D for every partition, or P:D,P:D) or a time (RFC 3339)",
		minArgs: 2, maxArgs: 2, flags: []string{"to-decree", "to-time", "as"}, run: runRestore,
		change: adminChange("the table may have been created (a failed restore drops it)", "tables")}
}

var archiveStateNotes = []string{
	"archive show's STATE, per partition:",
	"  BASE     the partition leader uploads a base (only files the bucket lacks)",
	"  LOG      the leader uploads its log in segments (archive.segment_bytes / archive.segment_age)",
	"  PAUSED   archive pause stopped uploading; the log is kept (within dup.log_retain_*)",
	"  UNKNOWN  no partition leader answered (an election, or its node is down)",
	"GAPS counts logs gone before they were archived (each starts a new base).",
}

func runArchiveAdd(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	info, err := c.AddArchive(ctx, a.arg(0), a.arg(1))
	if err != nil {
		return nil, err
	}
	return archiveAddResult{info}, nil
}

func runArchiveLs(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.ListArchives(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return archiveListResult{list}, nil
}

func runArchiveShow(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.ShowArchive(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return archiveShowResult{resp}, nil
}

type archiveOp func(c *client.Client, ctx context.Context, table string) (*tandempb.ArchiveInfo, error)

func runArchiveOp(op archiveOp, done string) func(context.Context, *session, args) (result, error) {
	return func(ctx context.Context, s *session, a args) (result, error) {
		c, err := s.client(ctx)
		if err != nil {
			return nil, err
		}
		info, err := op(c, ctx, a.arg(0))
		if err != nil {
			return nil, err
		}
		return archiveOpResult{done: done, info: info}, nil
	}
}

func runRestore(ctx context.Context, s *session, a args) (result, error) {
	pt, err := restorePointFlags(a)
	if err != nil {
		return nil, err
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := c.Restore(ctx, a.arg(0), a.arg(1), a.flags["as"], pt)
	if err != nil {
		return nil, err
	}
	s.forgetTables()
	return restoreResult{resp: resp, took: time.Since(start)}, nil
}

// restorePointFlags reads --to-decree (D, or P:D,P:D) and --to-time.
func restorePointFlags(a args) (client.RestorePoint, error) {
	var pt client.RestorePoint
	d, hasD := a.flags["to-decree"]
	t, hasT := a.flags["to-time"]
	if hasD && hasT {
		return pt, fmt.Errorf("%w: --to-decree and --to-time exclude each other", errUsage)
	}
	if hasT {
		at, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return pt, fmt.Errorf("%w: --to-time %q is not an RFC 3339 time (2026-12-02T03:04:05Z)", errUsage, t)
		}
		pt.Time = at
	}
	if !hasD {
		return pt, nil
	}
	if !strings.Contains(d, ":") {
		n, err := strconv.ParseUint(d, 10, 64)
		if err != nil || n == 0 {
			return pt, fmt.Errorf("%w: --to-decree %q is not a positive decree", errUsage, d)
		}
		pt.Decree = n
		return pt, nil
	}
	pt.PartitionDecrees = map[uint32]uint64{}
	for _, part := range strings.Split(d, ",") {
		ps, ds, _ := strings.Cut(part, ":")
		p, perr := strconv.ParseUint(ps, 10, 32)
		n, derr := strconv.ParseUint(ds, 10, 64)
		if perr != nil || derr != nil || n == 0 {
			return pt, fmt.Errorf("%w: --to-decree %q: want D or PARTITION:DECREE,...", errUsage, d)
		}
		pt.PartitionDecrees[uint32(p)] = n
	}
	return pt, nil
}

// archiveAddResult is archive add's answer: the id alone on the first line.
type archiveAddResult struct{ info *tandempb.ArchiveInfo }

func (r archiveAddResult) human(w io.Writer) error {
	if err := line(w, r.info.GetId()); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("archiving %s to %s", r.info.GetTable(), r.info.GetUrl()))
}

func (r archiveAddResult) json() any { return archiveDoc(r.info) }

type archiveListResult struct{ list []*tandempb.ArchiveInfo }

func (r archiveListResult) human(w io.Writer) error {
	rows := [][]string{{"ID", "TABLE", "URL", "STATE", "ARCHIVED-TIME", "MAX-LAG", "UPLOADED"}}
	for _, a := range r.list {
		rows = append(rows, []string{a.GetId(), a.GetTable(), a.GetUrl(), dash(a.GetState()), msTime(a.GetArchivedTimeUnixMs()),
			lagText(a.GetMaxLagDecrees(), a.GetMaxLagSeconds()), humanBytes(a.GetUploadedBytes())})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, "("+plural(len(r.list), "archive")+")")
}

func (r archiveListResult) json() any {
	docs := make([]map[string]any, len(r.list))
	for i, a := range r.list {
		docs[i] = archiveDoc(a)
	}
	return docs
}

type archiveShowResult struct{ resp *tandempb.ShowArchiveResponse }

func (r archiveShowResult) human(w io.Writer) error {
	a := r.resp.GetArchive()
	if err := line(w, fmt.Sprintf("archive %s: table %s to %s, state %s, archived time %s, max lag %s, uploaded %s",
		a.GetId(), a.GetTable(), a.GetUrl(), dash(a.GetState()), msTime(a.GetArchivedTimeUnixMs()),
		lagText(a.GetMaxLagDecrees(), a.GetMaxLagSeconds()), humanBytes(a.GetUploadedBytes()))); err != nil {
		return err
	}
	rows := [][]string{{"PARTITION", "STATE", "BASE", "ARCHIVED", "ARCHIVED-TIME", "APPLIED", "LAG(decrees)", "LAG(s)",
		"UPLOADED", "BASES", "SEGMENTS", "GAPS", "LAST-ERROR"}}
	for _, p := range r.resp.GetPartitions() {
		rows = append(rows, []string{strconv.Itoa(int(p.GetPartition())), dash(p.GetState()),
			strconv.FormatUint(p.GetBaseDecree(), 10), strconv.FormatUint(p.GetArchivedDecree(), 10), msTime(p.GetArchivedTimeUnixMs()),
			strconv.FormatUint(p.GetAppliedDecree(), 10), strconv.FormatUint(p.GetLagDecrees(), 10),
			strconv.FormatFloat(p.GetLagSeconds(), 'f', 3, 64), humanBytes(p.GetUploadedBytes()),
			strconv.FormatUint(p.GetBases(), 10), strconv.FormatUint(p.GetSegments(), 10), strconv.Itoa(int(p.GetGaps())), dash(p.GetLastError())})
	}
	return table(w, rows)
}

func (r archiveShowResult) json() any {
	docs := make([]map[string]any, len(r.resp.GetPartitions()))
	for i, p := range r.resp.GetPartitions() {
		docs[i] = map[string]any{"partition": p.GetPartition(), "state": p.GetState(), "leader": p.GetLeader(),
			"base_decree": p.GetBaseDecree(), "archived_decree": p.GetArchivedDecree(), "archived_time_unix_ms": p.GetArchivedTimeUnixMs(),
			"applied_decree": p.GetAppliedDecree(), "lag_decrees": p.GetLagDecrees(), "lag_seconds": p.GetLagSeconds(),
			"uploaded_bytes": p.GetUploadedBytes(), "bases": p.GetBases(), "segments": p.GetSegments(), "gaps": p.GetGaps(),
			"base_bytes_uploaded": p.GetBaseBytesUploaded(), "base_bytes_reused": p.GetBaseBytesReused(), "last_error": p.GetLastError()}
	}
	return map[string]any{"archive": archiveDoc(r.resp.GetArchive()), "partitions": docs}
}

type archiveOpResult struct {
	done string
	info *tandempb.ArchiveInfo
}

func (r archiveOpResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("archive %s of table %s %s", r.info.GetId(), r.info.GetTable(), r.done))
}

func (r archiveOpResult) json() any {
	return map[string]any{"ok": true, "done": r.done, "archive": archiveDoc(r.info)}
}

// restoreResult is restore's answer: the table, then one row per partition.
type restoreResult struct {
	resp *tandempb.RestoreResponse
	took time.Duration
}

func (r restoreResult) human(w io.Writer) error {
	var bytes uint64
	for _, p := range r.resp.GetPartitions() {
		bytes += p.GetBytes()
	}
	if err := line(w, fmt.Sprintf("restored table %s (%s) in %s", r.resp.GetTable().GetName(),
		plural(len(r.resp.GetPartitions()), "partition"), r.took.Round(time.Millisecond))); err != nil {
		return err
	}
	rows := [][]string{{"PARTITION", "BASE", "RESTORED-DECREE", "RESTORED-TIME", "ENTRIES", "LOG-BYTES"}}
	for _, p := range r.resp.GetPartitions() {
		rows = append(rows, []string{strconv.Itoa(int(p.GetPartition())), strconv.FormatUint(p.GetBaseDecree(), 10),
			strconv.FormatUint(p.GetRestoredDecree(), 10), msTime(p.GetRestoredTimeUnixMs()),
			strconv.FormatUint(p.GetEntries(), 10), humanBytes(p.GetBytes())})
	}
	return table(w, rows)
}

func (r restoreResult) json() any {
	docs := make([]map[string]any, len(r.resp.GetPartitions()))
	for i, p := range r.resp.GetPartitions() {
		docs[i] = map[string]any{"partition": p.GetPartition(), "base_decree": p.GetBaseDecree(), "restored_decree": p.GetRestoredDecree(),
			"restored_time_unix_ms": p.GetRestoredTimeUnixMs(), "entries": p.GetEntries(), "bytes": p.GetBytes()}
	}
	return map[string]any{"table": tableDoc(r.resp.GetTable()), "partitions": docs, "seconds": r.took.Seconds()}
}

func archiveDoc(a *tandempb.ArchiveInfo) map[string]any {
	return map[string]any{"id": a.GetId(), "table": a.GetTable(), "url": a.GetUrl(), "state": a.GetState(),
		"created_at_unix_ms": a.GetCreatedAtUnixMs(), "archived_time_unix_ms": a.GetArchivedTimeUnixMs(),
		"max_lag_decrees": a.GetMaxLagDecrees(), "max_lag_seconds": a.GetMaxLagSeconds(), "uploaded_bytes": a.GetUploadedBytes()}
}

// msTime formats a unix-millisecond time in UTC, "-" when unknown.
func msTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
