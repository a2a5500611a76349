package duplication

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

// The divergence file of a resync: one JSON object a line for each log
// entry the old source acknowledged after the new primary's source decree,
// in partition then decree order. Keys and values are text when they are
// valid UTF-8, else base64 in the *_base64 field, so no byte is lost.

// DivergentEntry is one line of a divergence file.
type DivergentEntry struct {
	Table     string `json:"table"`
	Partition uint32 `json:"partition"`
	Decree    uint64 `json:"decree"`
	// CommitTime is when the old source's leader appended the entry (RFC
	// 3339, UTC, ms); CommitUnixMs the same in unix milliseconds.
	CommitTime   string              `json:"commit_time"`
	CommitUnixMs int64               `json:"commit_unix_ms"`
	Mutations    []DivergentMutation `json:"mutations"`
}

// DivergentMutation is one record change of a divergent entry: op "set"
// (with value and, when the record expires, expire_ts in unix seconds) or
// "del".
type DivergentMutation struct {
	Op            string `json:"op"`
	HashKey       string `json:"hash_key,omitempty"`
	HashKeyBase64 string `json:"hash_key_base64,omitempty"`
	SortKey       string `json:"sort_key,omitempty"`
	SortKeyBase64 string `json:"sort_key_base64,omitempty"`
	Value         string `json:"value,omitempty"`
	ValueBase64   string `json:"value_base64,omitempty"`
	ExpireTS      uint32 `json:"expire_ts,omitempty"`
}

// divergence is what writeDivergence wrote.
type divergence struct {
	path                      string
	entries, mutations, bytes uint64
}

// Divergence is what a resync saved, as the new primary records it on the
// duplication the resync created (dup show names it): the divergence file,
// the node (of cluster) it lives on, and what it holds.
type Divergence struct {
	File      string `json:"file"`
	Node      string `json:"node"`
	Cluster   string `json:"cluster"`
	Entries   uint64 `json:"entries"`
	Mutations uint64 `json:"mutations"`
	Bytes     uint64 `json:"bytes"`
	AtMs      int64  `json:"at_ms"`
	// FromDup is the failed-over duplication the resync ended.
	FromDup string `json:"from_dup"`
}

// Proto is the divergence as the Admin service shows it (nil: none).
func (d *Divergence) Proto() *tpb.Divergence {
	if d == nil {
		return nil
	}
	return &tpb.Divergence{File: d.File, Node: d.Node, Cluster: d.Cluster, Entries: d.Entries, Mutations: d.Mutations,
		Bytes: d.Bytes, AtUnixMs: d.AtMs, FromDupId: d.FromDup}
}

// DivergenceFromProto is the inverse of Proto (nil: none).
func DivergenceFromProto(p *tpb.Divergence) *Divergence {
	if p == nil || p.GetFile() == "" {
		return nil
	}
	return &Divergence{File: p.GetFile(), Node: p.GetNode(), Cluster: p.GetCluster(), Entries: p.GetEntries(),
		Mutations: p.GetMutations(), Bytes: p.GetBytes(), AtMs: p.GetAtUnixMs(), FromDup: p.GetFromDupId()}
}

// DivergencePath is where a resync of duplication id of table writes its
// divergence file under a node's data directory.
func DivergencePath(dataDir, table, id string) string {
	return filepath.Join(dataDir, "resync", fmt.Sprintf("%s-%s.jsonl", table, id))
}

// pageFunc returns partition p's next page of divergent entries: those
// after decree after (none left: an empty page).
type pageFunc func(p uint32, after uint64) (*tpb.DupStepResponse, error)

// writeDivergence writes the partitions' divergent entries (firsts, by
// partition: each one's first page; next reads the pages after it) and
// syncs them before it returns: a resync replaces the data only once they
// are safe. The file is written whole under a temporary name and renamed,
// so a crash leaves the old file or the new one. Pages keep any size of
// divergence out of one message and out of memory.
func writeDivergence(dataDir, table, id string, firsts []*tpb.DupStepResponse, next pageFunc) (divergence, error) {
	path, err := filepath.Abs(DivergencePath(dataDir, table, id))
	if err != nil {
		return divergence{}, fmt.Errorf("divergence file: %w", err)
	}
	d := divergence{path: path} // absolute: the operator reads it elsewhere
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return d, fmt.Errorf("divergence file: %w", err)
	}
	tmp := d.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return d, fmt.Errorf("divergence file: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for p, page := range firsts {
		if err := d.writePartition(enc, table, uint32(p), page, next); err != nil {
			return d, err
		}
	}
	if err := w.Flush(); err != nil {
		return d, fmt.Errorf("divergence file: %w", err)
	}
	if err := syncClose(f); err != nil {
		return d, fmt.Errorf("divergence file: %w", err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return d, fmt.Errorf("divergence file: %w", err)
	}
	if st, err := os.Stat(d.path); err == nil {
		d.bytes = uint64(st.Size())
	}
	return d, syncDir(filepath.Dir(d.path))
}

// writePartition writes partition p's pages, from page on, until one is
// empty.
func (d *divergence) writePartition(enc *json.Encoder, table string, p uint32, page *tpb.DupStepResponse, next pageFunc) error {
	for len(page.GetEntries()) > 0 {
		var last uint64
		for _, e := range page.GetEntries() {
			line, err := divergentEntry(table, p, e)
			if err != nil {
				return fmt.Errorf("divergence file: partition %d decree %d: %w", p, e.GetDecree(), err)
			}
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("divergence file: %w", err)
			}
			d.entries++
			d.mutations += uint64(len(line.Mutations))
			last = e.GetDecree()
		}
		var err error
		if page, err = next(p, last); err != nil {
			return fmt.Errorf("partition %d: divergent log after decree %d: %w", p, last, err)
		}
		if es := page.GetEntries(); len(es) > 0 && es[0].GetDecree() <= last {
			return fmt.Errorf("partition %d: the page after decree %d starts at %d", p, last, es[0].GetDecree())
		}
	}
	return nil
}

func syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("divergence file: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("divergence file: %w", err)
	}
	return nil
}

// divergentEntry decodes one shipped log entry into its line.
func divergentEntry(table string, p uint32, e *tpb.WalEntry) (DivergentEntry, error) {
	muts, err := replica.DecodeMutations(e.GetCommand())
	if err != nil {
		return DivergentEntry{}, err
	}
	out := DivergentEntry{Table: table, Partition: p, Decree: e.GetDecree(), CommitUnixMs: e.GetAppendedAtUnixMs(), Mutations: make([]DivergentMutation, 0, len(muts))}
	out.CommitTime = msText(e.GetAppendedAtUnixMs())
	for _, m := range muts {
		dm := DivergentMutation{Op: "del"}
		if m.Op == replica.OpPut {
			dm.Op, dm.ExpireTS = "set", m.ExpireTS
			dm.Value, dm.ValueBase64 = textOrBase64(m.Value)
		}
		dm.HashKey, dm.HashKeyBase64 = textOrBase64(m.HashKey)
		dm.SortKey, dm.SortKeyBase64 = textOrBase64(m.SortKey)
		out.Mutations = append(out.Mutations, dm)
	}
	return out, nil
}

// textOrBase64 returns b as text when it is valid UTF-8, else as base64.
func textOrBase64(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}
