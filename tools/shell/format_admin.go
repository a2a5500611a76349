package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// partitionsResult is partitions' answer.
type partitionsResult struct{ resp *tandempb.PartitionsResponse }

func (r partitionsResult) human(w io.Writer) error {
	rows := [][]string{{"PARTITION", "LEADER", "ADDRESS", "REPLICAS", "APPLIED", "SIZE"}}
	moving := false
	for _, p := range r.resp.GetPartitions() {
		rows = append(rows, []string{strconv.Itoa(int(p.GetIndex())), dash(p.GetLeaderId()), dash(p.GetLeaderAddr()),
			replicaList(p), strconv.FormatUint(p.GetAppliedDecree(), 10), humanBytes(p.GetSizeBytes())})
		moving = moving || p.GetMove() != ""
	}
	if moving { // a MOVE column only while replicas move (membership)
		rows[0] = append(rows[0], "MOVE")
		for i, p := range r.resp.GetPartitions() {
			rows[i+1] = append(rows[i+1], dash(p.GetMove()))
		}
	}
	return table(w, rows)
}

func (r partitionsResult) json() any {
	docs := make([]map[string]any, len(r.resp.GetPartitions()))
	for i, p := range r.resp.GetPartitions() {
		replicas := make([]map[string]any, len(p.GetReplicas()))
		for j, rs := range p.GetReplicas() {
			replicas[j] = map[string]any{"node_id": rs.GetNodeId(), "addr": rs.GetAddr(), "state": rs.GetState(),
				"applied_decree": rs.GetAppliedDecree(), "size_bytes": rs.GetSizeBytes(), "term": rs.GetTerm()}
		}
		docs[i] = map[string]any{"index": p.GetIndex(), "leader_id": p.GetLeaderId(), "leader_addr": p.GetLeaderAddr(),
			"applied_decree": p.GetAppliedDecree(), "size_bytes": p.GetSizeBytes(), "replicas": replicas}
		if p.GetMove() != "" {
			docs[i]["move"] = p.GetMove()
		}
	}
	return docs
}

// replicaList shows a partition's replicas as "n1:leader,n2:follower".
func replicaList(p *tandempb.PartitionInfo) string {
	if len(p.GetReplicas()) == 0 {
		return "-"
	}
	parts := make([]string, len(p.GetReplicas()))
	for i, rs := range p.GetReplicas() {
		parts[i] = rs.GetNodeId()
		if rs.GetState() != "" {
			parts[i] += ":" + rs.GetState()
		}
	}
	return strings.Join(parts, ",")
}

// configResult is config get's answer.
type configResult struct{ entries []*tandempb.ConfigEntry }

func (r configResult) human(w io.Writer) error {
	rows := [][]string{{"KEY", "VALUE", "HELP"}}
	for _, e := range r.entries {
		rows = append(rows, []string{e.GetKey(), e.GetValue(), e.GetHelp()})
	}
	return table(w, rows)
}

func (r configResult) json() any {
	docs := make([]map[string]any, len(r.entries))
	for i, e := range r.entries {
		docs[i] = configDoc(e)
	}
	return docs
}

// configSetResult is config set's answer.
type configSetResult struct{ entry *tandempb.ConfigEntry }

func (r configSetResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("%s = %s", r.entry.GetKey(), r.entry.GetValue()))
}
func (r configSetResult) json() any { return configDoc(r.entry) }

// configDoc is a config entry's JSON object.
func configDoc(e *tandempb.ConfigEntry) map[string]any {
	return map[string]any{"key": e.GetKey(), "value": e.GetValue(), "help": e.GetHelp()}
}

// helpResult lists commands with their usage.
type helpResult struct {
	cmds   []*command
	prefix string // a group's name and a space, for its subcommands
	all    bool   // every command: the notes are left out
}

func (r helpResult) human(w io.Writer) error {
	if err := table(w, r.rowsFlat()); err != nil {
		return err
	}
	for _, n := range r.notes() {
		if err := line(w, n); err != nil {
			return err
		}
	}
	return nil
}

func (r helpResult) json() any {
	var docs []map[string]any
	for _, row := range r.rowsFlat() {
		docs = append(docs, map[string]any{"usage": row[0], "help": row[1]})
	}
	if notes := r.notes(); len(notes) > 0 {
		docs = append(docs, map[string]any{"notes": notes})
	}
	return docs
}

// rowsFlat lists (usage, help) pairs, subcommands expanded.
func (r helpResult) rowsFlat() [][]string {
	var rows [][]string
	for _, c := range r.cmds {
		if c.subs == nil {
			rows = append(rows, helpRow(r.prefix, c))
		}
		for _, sub := range c.subs {
			rows = append(rows, helpRow(r.prefix+c.name+" ", sub))
		}
	}
	return rows
}

// notes are the listed commands' extra help lines, when help was asked
// about a command or a group, not for the whole list.
func (r helpResult) notes() []string {
	if r.all {
		return nil
	}
	var out []string
	for _, c := range r.cmds {
		out = append(out, c.notes...)
		for _, sub := range c.subs {
			out = append(out, sub.notes...)
		}
	}
	return out
}

// helpRow is one command's usage and help.
func helpRow(prefix string, c *command) []string {
	return []string{strings.TrimSpace(prefix + c.name + " " + c.usage), c.help}
}
