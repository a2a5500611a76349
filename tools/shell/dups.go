package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

func runDupAdd(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	var opts []client.DupAddOption
	if url, ok := a.flags["from-archive"]; ok {
		opts = append(opts, client.FromArchive(url))
	}
	info, err := c.AddDuplication(ctx, a.arg(0), a.arg(1), opts...)
	if err != nil {
		return nil, err
	}
	if !a.boolFlag("wait") {
		return dupAddResult{info: info}, nil
	}
	start := time.Now()
	resp, err := waitDupLog(ctx, c, info.GetTable(), info.GetId(), s.progressView())
	// The duplication exists whatever the wait gave: its id is printed.
	return dupAddResult{info: info, waited: resp, took: time.Since(start)}, err
}

func runDupLs(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.ListDuplications(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return dupListResult{list}, nil
}

func runDupShow(ctx context.Context, s *session, a args) (result, error) {
	if a.arg(1) == "" {
		return nil, fmt.Errorf("%w: DUPID is empty", errUsage)
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.ShowDuplication(ctx, a.arg(0), a.arg(1))
	if err != nil {
		return nil, err
	}
	return dupShowResult{resp}, nil
}

// dupStateNotes list the per-partition states dup show prints, as the
// servers send them.
var dupStateNotes = []string{
	"dup show's STATE, per partition:",
	"  INIT     the source has no progress report from the remote yet (just added, or a new source leader)",
	"  PREPARE  the source leader is taking the base checkpoint the remote starts from",
	"  APP      the remote is pulling the base checkpoint's files (BASE-PROGRESS)",
	"  LOG      the remote pulls the log from the base decree on (LAG: decrees and seconds behind)",
	"  PAUSED   dup pause stopped shipping; the source keeps its log (within dup.log_retain_*)",
	"  UNKNOWN  no source leader answered for the partition (an election, or its node is down)",
}

// dupOp is how a run function of dup pause, start and rm calls the client.
type dupOp func(c *client.Client, ctx context.Context, table, id string) (*tandempb.DuplicationInfo, error)

// runDupOp returns the run function of a duplication operation; done is
// the past tense printed once it succeeded ("paused").
func runDupOp(op dupOp, done string) func(context.Context, *session, args) (result, error) {
	return func(ctx context.Context, s *session, a args) (result, error) {
		if a.arg(1) == "" {
			return nil, fmt.Errorf("%w: DUPID is empty", errUsage)
		}
		c, err := s.client(ctx)
		if err != nil {
			return nil, err
		}
		info, err := op(c, ctx, a.arg(0), a.arg(1))
		if err != nil {
			return nil, err
		}
		return dupOpResult{table: a.arg(0), id: a.arg(1), done: done, info: info}, nil
	}
}

// dupAddResult is dup add's answer: the id alone on the first line, so
// scripts can take it with head -1. With --wait, waited is the last
// progress seen (nil when none came) and took how long the wait took.
type dupAddResult struct {
	info   *tandempb.DuplicationInfo
	waited *tandempb.ShowDuplicationResponse
	took   time.Duration
}

func (r dupAddResult) human(w io.Writer) error {
	if err := line(w, r.info.GetId()); err != nil {
		return err
	}
	if err := line(w, fmt.Sprintf("duplicating %s to %s", r.info.GetTable(), remoteText(r.info))); err != nil {
		return err
	}
	if parts := r.waited.GetPartitions(); allInLog(parts) {
		return line(w, fmt.Sprintf("every partition in LOG (%s) after %s", plural(len(parts), "partition"), r.took.Round(time.Millisecond)))
	}
	return nil
}

func (r dupAddResult) json() any {
	doc := map[string]any{"id": r.info.GetId(), "table": r.info.GetTable(),
		"remote_addr": r.info.GetRemoteAddr(), "remote_cluster": r.info.GetRemoteCluster()}
	if r.waited != nil {
		parts := make([]map[string]any, len(r.waited.GetPartitions()))
		for i, p := range r.waited.GetPartitions() {
			parts[i] = dupPartitionDoc(p)
		}
		doc["all_in_log"], doc["wait_seconds"], doc["partitions"] = allInLog(r.waited.GetPartitions()), r.took.Seconds(), parts
	}
	return doc
}

// dupListResult is dup ls's answer.
type dupListResult struct{ list []*tandempb.DuplicationInfo }

func (r dupListResult) human(w io.Writer) error {
	rows := [][]string{{"ID", "TABLE", "REMOTE", "CLUSTER", "STATE", "PROGRESS", "MAX-LAG", "REPLICATED", "AGE"}}
	for _, d := range r.list {
		rows = append(rows, []string{d.GetId(), d.GetTable(), dash(d.GetRemoteAddr()), dash(d.GetRemoteCluster()),
			dash(d.GetState()), dash(d.GetProgress()), lagCompact(d.GetMaxLagDecrees(), d.GetMaxLagSeconds()),
			replicatedTime(d.GetReplicatedTimeUnixMs()), replicatedAge(d.GetReplicatedTimeUnixMs(), d.GetReplicatedAgeSeconds())})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, "("+plural(len(r.list), "duplication")+")")
}

func (r dupListResult) json() any {
	docs := make([]map[string]any, len(r.list))
	for i, d := range r.list {
		docs[i] = dupDoc(d)
	}
	return docs
}

// dupShowResult is dup show's answer: a header line, then one row per
// partition.
type dupShowResult struct {
	resp *tandempb.ShowDuplicationResponse
}

func (r dupShowResult) human(w io.Writer) error {
	d := r.resp.GetDuplication()
	if err := line(w, fmt.Sprintf("duplication %s: table %s %s %s, state %s, max lag %s, %s",
		d.GetId(), d.GetTable(), direction(d), remoteText(d), dash(d.GetState()), lagText(d.GetMaxLagDecrees(), d.GetMaxLagSeconds()),
		replicatedText(d.GetReplicatedTimeUnixMs(), d.GetReplicatedAgeSeconds()))); err != nil {
		return err
	}
	if note := d.GetRemoteNote(); note != "" {
		if err := line(w, "remote: "+note); err != nil {
			return err
		}
	}
	if dv := d.GetDivergence(); dv != nil {
		if err := line(w, divergenceText(d.GetTable(), dv)); err != nil {
			return err
		}
	}
	rows := [][]string{{"PARTITION", "STATE", "BASE", "CONFIRMED", "SOURCE", "LAG(decrees)", "LAG(s)",
		"BASE-PROGRESS", "RETAINED", "REBOOTSTRAPS", "REPLICATED", "AGE", "LAST-ERROR"}}
	for _, p := range r.resp.GetPartitions() {
		rows = append(rows, []string{strconv.Itoa(int(p.GetPartition())), dash(p.GetState()),
			strconv.FormatUint(p.GetBaseDecree(), 10), strconv.FormatUint(p.GetConfirmedDecree(), 10),
			strconv.FormatUint(p.GetSourceDecree(), 10), strconv.FormatUint(p.GetLagDecrees(), 10),
			strconv.FormatFloat(p.GetLagSeconds(), 'f', 3, 64), baseProgress(p), humanBytes(p.GetRetainedLogBytes()),
			strconv.Itoa(int(p.GetRebootstraps())), replicatedTime(p.GetReplicatedTimeUnixMs()),
			replicatedAge(p.GetReplicatedTimeUnixMs(), p.GetReplicatedAgeSeconds()), dash(p.GetLastError())})
	}
	return table(w, rows)
}

func (r dupShowResult) json() any {
	docs := make([]map[string]any, len(r.resp.GetPartitions()))
	for i, p := range r.resp.GetPartitions() {
		docs[i] = dupPartitionDoc(p)
	}
	return map[string]any{"duplication": dupDoc(r.resp.GetDuplication()), "partitions": docs}
}

// dupOpResult is the answer of dup pause, start and rm.
type dupOpResult struct {
	table, id string
	done      string // "paused", "started", "removed"
	info      *tandempb.DuplicationInfo
}

func (r dupOpResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("duplication %s %s", r.id, r.done))
}

func (r dupOpResult) json() any {
	doc := map[string]any{"ok": true, "id": r.id, "table": r.table, "done": r.done}
	if r.info != nil {
		doc["duplication"] = dupDoc(r.info)
	}
	return doc
}

// remoteText names a duplication's remote: "cluster west at host:port",
// or just the address when the cluster's name is unknown.
func remoteText(d *tandempb.DuplicationInfo) string {
	if d.GetRemoteCluster() == "" {
		return dash(d.GetRemoteAddr())
	}
	return fmt.Sprintf("cluster %s at %s", d.GetRemoteCluster(), dash(d.GetRemoteAddr()))
}

// lagText formats a lag as "3 decrees / 0.012s".
func lagText(decrees uint64, seconds float64) string {
	noun := "decrees"
	if decrees == 1 {
		noun = "decree"
	}
	return fmt.Sprintf("%d %s / %.3fs", decrees, noun, seconds)
}

// replicatedTime formats a replicated time (UTC, milliseconds), "-" while
// unknown.
func replicatedTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// replicatedAge formats a replicated time's age, "-" while unknown.
func replicatedAge(ms int64, age float64) string {
	if ms <= 0 {
		return "-"
	}
	return strconv.FormatFloat(age, 'f', 3, 64) + "s"
}

// replicatedText is dup show's "replicated TIME (AGE ago)".
func replicatedText(ms int64, age float64) string {
	if ms <= 0 {
		return "replicated time unknown"
	}
	return fmt.Sprintf("replicated %s (%s ago)", replicatedTime(ms), replicatedAge(ms, age))
}

// baseProgress shows how much of the base checkpoint the remote has
// pulled, "12.0MiB/40.0MiB", or "-" when no base is being shipped.
func baseProgress(p *tandempb.DupPartitionStatus) string {
	if p.GetBaseBytesTotal() == 0 {
		return "-"
	}
	return humanBytes(p.GetBaseBytesDone()) + "/" + humanBytes(p.GetBaseBytesTotal())
}

// dupDoc is a duplication's JSON object.
func dupDoc(d *tandempb.DuplicationInfo) map[string]any {
	doc := map[string]any{"id": d.GetId(), "table": d.GetTable(), "remote_addr": d.GetRemoteAddr(),
		"remote_cluster": d.GetRemoteCluster(), "state": d.GetState(), "created_at_unix_ms": d.GetCreatedAtUnixMs(),
		"progress": d.GetProgress(), "max_lag_decrees": d.GetMaxLagDecrees(), "max_lag_seconds": d.GetMaxLagSeconds(),
		"replicated_time_unix_ms": d.GetReplicatedTimeUnixMs(), "replicated_age_seconds": d.GetReplicatedAgeSeconds(),
		"remote_note": d.GetRemoteNote()}
	if dv := d.GetDivergence(); dv != nil {
		doc["divergence"] = divergenceDoc(dv)
	}
	return doc
}

// dupPartitionDoc is one partition's duplication progress as JSON.
func dupPartitionDoc(p *tandempb.DupPartitionStatus) map[string]any {
	return map[string]any{"partition": p.GetPartition(), "state": p.GetState(), "source_leader": p.GetSourceLeader(),
		"base_decree": p.GetBaseDecree(), "base_checkpoint": p.GetBaseCheckpoint(),
		"base_bytes_done": p.GetBaseBytesDone(), "base_bytes_total": p.GetBaseBytesTotal(),
		"confirmed_decree": p.GetConfirmedDecree(), "source_decree": p.GetSourceDecree(),
		"lag_decrees": p.GetLagDecrees(), "lag_seconds": p.GetLagSeconds(), "retained_log_bytes": p.GetRetainedLogBytes(),
		"rebootstraps": p.GetRebootstraps(), "last_error": p.GetLastError(),
		"last_contact_unix_ms": p.GetLastContactUnixMs(), "shipped_entries": p.GetShippedEntries(),
		"replicated_time_unix_ms": p.GetReplicatedTimeUnixMs(), "replicated_age_seconds": p.GetReplicatedAgeSeconds()}
}
