package robustness

import (
	"sync"
	"time"

	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

// History collects the operations of concurrent clients with call and
// return times on one monotonic clock.
type History struct {
	start time.Time

	mu   sync.Mutex
	recs []lincheck.Record
}

// NewHistory starts an empty history whose clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock, in nanoseconds since it started.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records a finished operation, whatever its outcome.
func (h *History) Add(r lincheck.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
}

// Records returns a copy of the recorded operations.
func (h *History) Records() []lincheck.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]lincheck.Record(nil), h.recs...)
}
