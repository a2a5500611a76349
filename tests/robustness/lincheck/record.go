package lincheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/anishathalye/porcupine"
)

// Never is the return time of a write whose outcome is unknown: porcupine
// then lets it take effect at any point after its call, or not at all.
const Never = math.MaxInt64

// Outcome is what the client learned about an operation.
type Outcome string

// The outcomes a record can have.
const (
	// Acked: the operation succeeded (a read returned Output).
	Acked Outcome = "ok"
	// Ambiguous: a write the SDK reported as client.ErrAmbiguous; it may or
	// may not have applied.
	Ambiguous Outcome = "ambiguous"
	// Refused: a write that failed with any other error, which the SDK
	// guarantees had no effect.
	Refused Outcome = "refused"
	// FailedRead: a read that failed; it observed nothing.
	FailedRead Outcome = "failed-read"
)

// Record is one client operation as recorded, times in nanoseconds on the
// run's monotonic clock. Return is when the client got its answer, even for
// an ambiguous write (which is checked as returning Never).
type Record struct {
	Client  int     `json:"client"`
	Input   Input   `json:"input"`
	Output  Output  `json:"output"`
	Call    int64   `json:"call_ns"`
	Return  int64   `json:"return_ns"`
	Outcome Outcome `json:"outcome"`
	// Error is the client's error, for failed operations.
	Error string `json:"error,omitempty"`
	// Final marks the reads taken after every fault healed and the load
	// stopped, which the lost-write check compares with the writes.
	Final bool `json:"final,omitempty"`
}

// FileVersion is the version of the history file format Save writes.
const FileVersion = 1

// File is a saved history: everything needed to check it again offline.
type File struct {
	Version int `json:"version"`
	// Run describes the run (seed, options) for people.
	Run     string   `json:"run"`
	Records []Record `json:"records"`
}

// Save writes f as JSON to path.
func Save(path string, f File) error {
	f.Version = FileVersion
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ErrBadHistory is returned by Load for a file that is not a saved history.
var ErrBadHistory = errors.New("lincheck: bad history file")

// Load reads a history Save wrote.
func Load(path string) (File, error) {
	var f File
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%w: %s: %v", ErrBadHistory, path, err)
	}
	if f.Version != FileVersion {
		return f, fmt.Errorf("%w: %s: version %d, want %d", ErrBadHistory, path, f.Version, FileVersion)
	}
	for i, r := range f.Records {
		if err := r.validate(); err != nil {
			return f, fmt.Errorf("%w: %s: record %d: %v", ErrBadHistory, path, i, err)
		}
	}
	return f, nil
}

func (r Record) validate() error {
	in := r.Input
	switch {
	case len(in.SortKeys) == 0:
		return errors.New("no sort key")
	case in.Kind == OpSet || in.Kind == OpMultiSet:
		if len(in.Values) != len(in.SortKeys) {
			return fmt.Errorf("%d values for %d sort keys", len(in.Values), len(in.SortKeys))
		}
	}
	switch r.Outcome {
	case Acked, Ambiguous, Refused, FailedRead:
		return nil
	}
	return fmt.Errorf("unknown outcome %q", r.Outcome)
}

// Operations turns records into the history porcupine checks. A refused
// write is left out: the SDK says it had no effect, so modelling it as a
// no-op would only add an operation that fits anywhere and constrains
// nothing, while leaving it out keeps the check strict. Should it have
// applied after all, a read of its (unique) value has no write to explain
// it and the check fails (RefusedWritesSeen names it). A failed read
// observed nothing and is left out too; an ambiguous write returns Never.
func Operations(records []Record) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, r := range records {
		op := porcupine.Operation{ClientId: r.Client, Input: r.Input, Output: r.Output, Call: r.Call, Return: r.Return}
		switch r.Outcome {
		case Acked:
		case Ambiguous:
			op.Output, op.Return = Output{}, Never
		default:
			continue
		}
		ops = append(ops, op)
	}
	return ops
}

// FinalReads returns what the final reads saw, by record.
func FinalReads(records []Record) map[RecordKey]Output {
	final := map[RecordKey]Output{}
	for _, r := range records {
		if r.Final && r.Outcome == Acked && r.Input.Kind == OpGet {
			final[RecordKey{r.Input.HashKey, r.Input.SortKeys[0]}] = r.Output
		}
	}
	return final
}
