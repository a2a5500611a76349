package replica

import (
	"testing"
	"time"
)

// A leadership transfer lets followers vote while they know a leader, so
// the leader's read lease ends with it (endLease), until it is ready as a
// leader again in a later term.
func TestEndLeaseHoldsUntilTheNextTerm(t *testing.T) {
	rb := &readBarrier{readyCh: make(chan struct{}), lease: time.Minute,
		leaseFrom: func(uint64) (time.Time, bool) { return time.Now(), true }}
	rb.setReady(true, 1)
	if !rb.leased() {
		t.Fatal("no lease with a quorum's heartbeats just accepted")
	}
	rb.endLease()
	if rb.leased() {
		t.Fatal("lease still held after endLease")
	}
	rb.setReady(false, 0)
	rb.setReady(true, 2)
	if !rb.leased() {
		t.Fatal("no lease in the next term")
	}
}
