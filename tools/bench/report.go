package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// summary is the JSON form of a run's result.
type summary struct {
	Op        string   `json:"op"`
	Table     string   `json:"table"`
	Clients   int      `json:"clients"`
	DurationS float64  `json:"duration_s"`
	Ops       uint64   `json:"ops"`
	OpsPerSec float64  `json:"ops_per_sec"`
	Errors    int64    `json:"errors"`
	NotFound  int64    `json:"not_found"`
	ValueSize int      `json:"value_size"`
	Fields    int      `json:"fields,omitempty"`
	BatchOps  int      `json:"batch_ops,omitempty"`
	Keys      int      `json:"keys"`
	Dist      string   `json:"dist"`
	ReadRatio *float64 `json:"read_ratio,omitempty"`
	latencyMS          // p50_ms, p99_ms, p999_ms, max_ms, mean_ms
	Get       *opStats `json:"get,omitempty"`
	Set       *opStats `json:"set,omitempty"`
}

// latencyMS are a histogram's figures in milliseconds.
type latencyMS struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// opStats are the figures of one kind of op in a mixed run.
type opStats struct {
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	latencyMS
}

// newLatencyMS reads h's figures.
func newLatencyMS(h *Histogram) latencyMS {
	ms := func(us uint64) float64 { return float64(us) / 1000 }
	return latencyMS{P50: ms(h.Percentile(0.50)), P99: ms(h.Percentile(0.99)),
		P999: ms(h.Percentile(0.999)), Max: ms(h.Max()), Mean: h.Mean() / 1000}
}

// summarize turns a result into its summary.
func summarize(r *result) summary {
	secs := r.elapsed.Seconds()
	s := summary{Op: r.o.op, Table: r.o.table, Clients: r.o.clients, DurationS: secs,
		Ops: r.stats.all.Count(), OpsPerSec: rate(r.stats.all.Count(), secs),
		Errors: r.stats.errors, NotFound: r.stats.notFound, ValueSize: r.o.valueSize, BatchOps: r.o.batchOps,
		Keys: r.o.keys, Dist: r.o.dist, latencyMS: newLatencyMS(r.stats.all)}
	if recordOps[r.o.op] {
		s.Fields = r.o.fields
	}
	if r.o.op == opMixed || r.o.op == opRecordMix {
		ratio := r.o.readRatio
		s.ReadRatio = &ratio
		s.Get = &opStats{r.stats.get.Count(), rate(r.stats.get.Count(), secs), newLatencyMS(r.stats.get)}
		s.Set = &opStats{r.stats.set.Count(), rate(r.stats.set.Count(), secs), newLatencyMS(r.stats.set)}
	}
	return s
}

// rate is n per second over secs seconds.
func rate(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// printHuman writes the summary for people.
func printHuman(w io.Writer, s summary) {
	fmt.Fprintf(w, "op %s  table %s  clients %d  duration %.2fs  value-size %d  keys %d (%s)",
		s.Op, s.Table, s.Clients, s.DurationS, s.ValueSize, s.Keys, s.Dist)
	if s.Fields > 0 {
		fmt.Fprintf(w, "  fields %d", s.Fields)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "ops %d  ops/s %.1f  errors %d", s.Ops, s.OpsPerSec, s.Errors)
	if s.NotFound > 0 {
		fmt.Fprintf(w, "  not found %d", s.NotFound)
	}
	fmt.Fprintln(w)
	printLatency(w, "latency", s.latencyMS)
	read, write := "get", "set"
	if s.Op == opRecordMix {
		read, write = "read-record", "update-field"
	}
	for _, k := range []struct {
		name string
		st   *opStats
	}{{read, s.Get}, {write, s.Set}} {
		if k.st != nil {
			fmt.Fprintf(w, "  %s: ops %d  ops/s %.1f\n", k.name, k.st.Ops, k.st.OpsPerSec)
			printLatency(w, "  "+k.name+" latency", k.st.latencyMS)
		}
	}
}

// printLatency writes one line of latency figures.
func printLatency(w io.Writer, label string, l latencyMS) {
	fmt.Fprintf(w, "%s ms  p50 %.3f  p99 %.3f  p999 %.3f  max %.3f  mean %.3f\n",
		label, l.P50, l.P99, l.P999, l.Max, l.Mean)
}

// printJSON writes the summary as one line of JSON.
func printJSON(w io.Writer, s summary) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// printErrors writes the first distinct errors of l and their counts.
func printErrors(w io.Writer, l *errorLog) {
	if l.total == 0 {
		return
	}
	fmt.Fprintf(w, "%d errors; the first distinct ones:\n", l.total)
	for _, msg := range l.order {
		fmt.Fprintf(w, "  %dx %s\n", l.counts[msg], msg)
	}
}
