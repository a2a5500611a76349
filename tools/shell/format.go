package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

// result is what a command produced, printable for people or as one JSON
// document. Keeping it apart from running the command keeps formatting
// testable without a cluster.
type result interface {
	// human writes the result for people.
	human(w io.Writer) error
	// json returns the value encoded as the command's JSON document.
	json() any
}

// messageResult is a one-line acknowledgement ("OK").
type messageResult struct{ text string }

func (r messageResult) human(w io.Writer) error { return line(w, r.text) }
func (r messageResult) json() any               { return map[string]any{"ok": true} }

// valueResult is get's answer.
type valueResult struct {
	found bool
	rec   client.Record
}

func (r valueResult) human(w io.Writer) error {
	if !r.found {
		return line(w, "(not found)")
	}
	_, err := fmt.Fprintf(w, "%s\n", r.rec.Value)
	return err
}

func (r valueResult) json() any {
	if !r.found {
		return map[string]any{"found": false}
	}
	doc := map[string]any{"found": true, "value": string(r.rec.Value)}
	if !r.rec.ExpireAt.IsZero() {
		doc["expire_at"] = r.rec.ExpireAt.UTC().Format(time.RFC3339)
	}
	return doc
}

// countResult is count's answer.
type countResult struct{ n uint64 }

func (r countResult) human(w io.Writer) error { return line(w, strconv.FormatUint(r.n, 10)) }
func (r countResult) json() any               { return map[string]any{"count": r.n} }

// scanResult is scan's answer.
type scanResult struct{ recs []client.Record }

func (r scanResult) human(w io.Writer) error {
	for _, rec := range r.recs {
		if _, err := fmt.Fprintf(w, "%s %s => %s\n", displayKey(rec.HashKey), displayKey(rec.SortKey), displayValue(rec.Value)); err != nil {
			return err
		}
	}
	return line(w, "("+plural(len(r.recs), "record")+")")
}

func (r scanResult) json() any {
	docs := make([]map[string]any, len(r.recs))
	for i, rec := range r.recs {
		docs[i] = map[string]any{"hash_key": string(rec.HashKey), "sort_key": string(rec.SortKey), "value": string(rec.Value)}
		if !rec.ExpireAt.IsZero() {
			docs[i]["expire_at"] = rec.ExpireAt.UTC().Format(time.RFC3339)
		}
	}
	return docs
}

// nodesResult is nodes' answer; now is when it was taken, for the age
// of each node's last contact.
type nodesResult struct {
	resp *tandempb.NodesResponse
	now  time.Time
}

func (r nodesResult) human(w io.Writer) error {
	rows := [][]string{{"ID", "ADDRESS", "STATE", "META", "REPLICAS", "LEADERS", "MOVING", "LAST CONTACT"}}
	for _, n := range r.resp.GetNodes() {
		rows = append(rows, []string{n.GetId(), n.GetAddr(), n.GetState(), dash(n.GetMetaRole()), strconv.Itoa(int(n.GetReplicas())),
			strconv.Itoa(int(n.GetLeaders())), strconv.Itoa(int(n.GetMoving())), contactAge(n.GetLastContactUnixMs(), r.now)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("(cluster %s, %s)", dash(r.resp.GetCluster()), plural(len(r.resp.GetNodes()), "node")))
}

// contactAge shows a last contact as its age ("-": none known).
func contactAge(ms int64, now time.Time) string {
	if ms == 0 {
		return "-"
	}
	d := now.Sub(time.UnixMilli(ms)).Round(100 * time.Millisecond)
	return max(d, 0).String() + " ago"
}

func (r nodesResult) json() any {
	docs := make([]map[string]any, 0, len(r.resp.GetNodes()))
	for _, n := range r.resp.GetNodes() {
		docs = append(docs, map[string]any{
			"id": n.GetId(), "addr": n.GetAddr(), "state": n.GetState(),
			"meta_role": n.GetMetaRole(), "replicas": n.GetReplicas(), "cluster": r.resp.GetCluster(),
			"leaders": n.GetLeaders(), "moving": n.GetMoving(), "last_contact_unix_ms": n.GetLastContactUnixMs(),
		})
	}
	return docs
}

// tablesResult is tables' answer.
type tablesResult struct{ tables []*tandempb.TableInfo }

func (r tablesResult) human(w io.Writer) error {
	rows := [][]string{{"NAME", "ID", "PARTITIONS", "REPLICAS", "CREATED"}}
	for _, t := range r.tables {
		rows = append(rows, []string{t.GetName(), strconv.FormatUint(t.GetId(), 10),
			strconv.Itoa(int(t.GetPartitions())), strconv.Itoa(int(t.GetReplicas())), createdAt(t)})
	}
	return table(w, rows)
}

func (r tablesResult) json() any {
	docs := make([]map[string]any, len(r.tables))
	for i, t := range r.tables {
		docs[i] = tableDoc(t)
	}
	return docs
}

// createdResult is create's answer.
type createdResult struct{ info *tandempb.TableInfo }

func (r createdResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("created table %s: id %d, %d partitions, %d replicas",
		r.info.GetName(), r.info.GetId(), r.info.GetPartitions(), r.info.GetReplicas()))
}
func (r createdResult) json() any { return tableDoc(r.info) }

// tableDoc is a table's JSON object.
func tableDoc(t *tandempb.TableInfo) map[string]any {
	return map[string]any{"name": t.GetName(), "id": t.GetId(), "partitions": t.GetPartitions(),
		"replicas": t.GetReplicas(), "created_at": createdAt(t)}
}

// createdAt formats a table's creation time, "-" when unknown.
func createdAt(t *tandempb.TableInfo) string {
	if t.GetCreatedAtUnixMs() == 0 {
		return "-"
	}
	return time.UnixMilli(t.GetCreatedAtUnixMs()).UTC().Format(time.RFC3339)
}

// line writes s and a newline.
func line(w io.Writer, s string) error {
	_, err := fmt.Fprintln(w, s)
	return err
}

// table writes rows as aligned columns, the first row being the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		if _, err := fmt.Fprintln(tw, strings.Join(row, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// dash shows an empty field as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plural formats "1 record", "2 records".
func plural(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// humanBytes formats a size with binary units: 512B, 1.5KiB, 3.0MiB; no
// blank, so columns split on blanks.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// displayKey shows a key as typed when it is plain printable text without
// blanks or quotes, and Go-quoted otherwise, so scan lines stay parseable.
func displayKey(b []byte) string {
	if len(b) == 0 {
		return `""`
	}
	if !utf8.Valid(b) || strings.ContainsFunc(string(b), func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\'
	}) {
		return strconv.Quote(string(b))
	}
	return string(b)
}

// displayValue shows a value as is when it is printable text (blanks
// included, as it ends the line), and Go-quoted otherwise.
func displayValue(b []byte) string {
	if !utf8.Valid(b) || strings.ContainsFunc(string(b), func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(string(b))
	}
	return string(b)
}
