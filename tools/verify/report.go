package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// shownBytes is how much of a value the report shows.
const shownBytes = 64

// printPartition writes a partition's line and the differences kept of it.
func printPartition(w io.Writer, pr partitionResult, diffs []difference) {
	if pr.differences == 0 {
		fmt.Fprintf(w, "partition %d: %d records, identical\n", pr.partition, pr.source)
		return
	}
	fmt.Fprintf(w, "partition %d: source %d, target %d, differs (%s)\n",
		pr.partition, pr.source, pr.target, plural(pr.differences, "difference"))
	for _, d := range diffs {
		fmt.Fprintf(w, "  %s\n", formatDifference(d))
	}
	if more := pr.differences - len(diffs); more > 0 {
		fmt.Fprintf(w, "  ... %s not shown (--max-diffs)\n", plural(more, "more difference"))
	}
}

// formatDifference is one difference as a line of the report.
func formatDifference(d difference) string {
	k := d.key()
	keys := fmt.Sprintf("hash %s sort %s", showBytes(k.HashKey, 0), showBytes(k.SortKey, 0))
	switch d.kind {
	case missingOnTarget:
		return fmt.Sprintf("%s: %s%s", d.kind, keys, showRecord(*d.source))
	case extraOnTarget:
		return fmt.Sprintf("%s: %s%s", d.kind, keys, showRecord(*d.target))
	case valueDiffers:
		return fmt.Sprintf("%s: %s: source %s, target %s", d.kind, keys,
			showBytes(d.source.Value, shownBytes), showBytes(d.target.Value, shownBytes))
	default:
		return fmt.Sprintf("%s: %s: source %s, target %s", d.kind, keys,
			showExpiry(*d.source), showExpiry(*d.target))
	}
}

// showRecord is the value, and expiry if any, of a one-sided record.
func showRecord(r client.Record) string {
	s := " value " + showBytes(r.Value, shownBytes)
	if !r.ExpireAt.IsZero() {
		s += " expire-at " + showExpiry(r)
	}
	return s
}

// showBytes quotes b with Go escapes, cut to limit bytes (0: no limit)
// with the full length noted.
func showBytes(b []byte, limit int) string {
	if limit > 0 && len(b) > limit {
		return fmt.Sprintf("%s...(%d bytes)", strconv.Quote(string(b[:limit])), len(b))
	}
	return strconv.Quote(string(b))
}

// showExpiry is r's expiry in UTC, or "never".
func showExpiry(r client.Record) string {
	if r.ExpireAt.IsZero() {
		return "never"
	}
	return r.ExpireAt.UTC().Format(time.RFC3339)
}

// plural is "n word" or "n words".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// printSummary writes the last line: the verdict, or the JSON object.
func printSummary(w io.Writer, r *result, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(newJSONResult(r))
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(w, summaryLine(r))
	return err
}

// summaryLine is "identical: N records" or "differs: ...".
func summaryLine(r *result) string {
	src, tgt, differing := r.totals()
	if r.identical() {
		return fmt.Sprintf("identical: %d records", src)
	}
	return fmt.Sprintf("differs: %s in %d of %d partitions (source %d records, target %d records)",
		plural(r.differences(), "record"), differing, len(r.partitions), src, tgt)
}

// totals sums the records of each side and counts the partitions that
// differ.
func (r *result) totals() (src, tgt uint64, differing int) {
	for _, p := range r.partitions {
		src += p.source
		tgt += p.target
		if p.differences > 0 {
			differing++
		}
	}
	return src, tgt, differing
}

// jsonResult is the --json form of a result.
type jsonResult struct {
	Identical            bool             `json:"identical"`
	Table                string           `json:"table"`
	Records              uint64           `json:"records"` // on the source
	SourceRecords        uint64           `json:"source_records"`
	TargetRecords        uint64           `json:"target_records"`
	DifferentRecords     int              `json:"different_records"`
	DifferentPartitions  int              `json:"different_partitions"`
	Partitions           []jsonPartition  `json:"partitions"`
	Differences          []jsonDifference `json:"differences"`
	DifferencesTruncated bool             `json:"differences_truncated"`
}

// jsonPartition is the --json form of a partition's outcome.
type jsonPartition struct {
	Partition     int    `json:"partition"`
	SourceRecords uint64 `json:"source_records"`
	TargetRecords uint64 `json:"target_records"`
	Identical     bool   `json:"identical"`
	Differences   int    `json:"differences"`
}

// jsonDifference is the --json form of a difference. Keys and values are
// Go-escaped strings without quotes; values are cut to shownBytes. The
// fields of a side that lacks the record are absent; an expiry of 0 means
// none.
type jsonDifference struct {
	Partition      int     `json:"partition"`
	Kind           string  `json:"kind"`
	HashKey        string  `json:"hash_key"`
	SortKey        string  `json:"sort_key"`
	SourceValue    *string `json:"source_value,omitempty"`
	TargetValue    *string `json:"target_value,omitempty"`
	SourceExpireTS *int64  `json:"source_expire_ts,omitempty"`
	TargetExpireTS *int64  `json:"target_expire_ts,omitempty"`
}

// newJSONResult converts r.
func newJSONResult(r *result) jsonResult {
	src, tgt, differing := r.totals()
	out := jsonResult{Identical: r.identical(), Table: r.table, Records: src, SourceRecords: src,
		TargetRecords: tgt, DifferentRecords: r.differences(), DifferentPartitions: differing,
		Partitions: []jsonPartition{}, Differences: []jsonDifference{},
		DifferencesTruncated: r.differences() > len(r.diffs)}
	for _, p := range r.partitions {
		out.Partitions = append(out.Partitions, jsonPartition{Partition: p.partition,
			SourceRecords: p.source, TargetRecords: p.target, Identical: p.differences == 0,
			Differences: p.differences})
	}
	for _, d := range r.diffs {
		out.Differences = append(out.Differences, newJSONDifference(d))
	}
	return out
}

// newJSONDifference converts d.
func newJSONDifference(d difference) jsonDifference {
	k := d.key()
	out := jsonDifference{Partition: d.partition, Kind: d.kind.token(),
		HashKey: unquoted(k.HashKey, 0), SortKey: unquoted(k.SortKey, 0)}
	if d.source != nil {
		v, e := unquoted(d.source.Value, shownBytes), expireUnix(*d.source)
		out.SourceValue, out.SourceExpireTS = &v, &e
	}
	if d.target != nil {
		v, e := unquoted(d.target.Value, shownBytes), expireUnix(*d.target)
		out.TargetValue, out.TargetExpireTS = &v, &e
	}
	return out
}

// unquoted is showBytes without the surrounding quotes.
func unquoted(b []byte, limit int) string {
	cut := b
	if limit > 0 && len(b) > limit {
		cut = b[:limit]
	}
	q := strconv.Quote(string(cut))
	s := q[1 : len(q)-1]
	if len(cut) < len(b) {
		s += fmt.Sprintf("...(%d bytes)", len(b))
	}
	return s
}
