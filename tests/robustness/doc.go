// Package robustness checks Tandem for linearizability and lost writes
// under faults, with real processes: it starts tandem-server nodes on
// 127.0.0.1 (each node reaching each peer through its own fault proxy),
// runs concurrent clients doing Set, Get, Del and MultiSet on a small key
// space, injects one fault at a time (kill -9 and restart, SIGSTOP and
// SIGCONT, a network partition, network delay, a crash at a gofail
// failpoint at a persistence boundary), records every operation with its
// call and return times, checks the history with porcupine (partitioned by
// hash key) and, after healing, compares every replica's checksum.
//
// Each operation is recorded with the outcome the SDK reported: a write is
// ambiguous only when the SDK returned client.ErrAmbiguous (checked as
// maybe applied, at any time after its call); any other failed write is a
// refusal, which the SDK guarantees had no effect (checked as not applied:
// a read of its value fails the run); a failed read observed nothing. The
// checking half lives in package lincheck: ambiguous sets that no read saw
// are pruned before porcupine runs (that cannot change the verdict, see
// lincheck.Prune, and keeps every key's check in milliseconds), and
// porcupine's budget is counted in model steps per hash key, not in time,
// so a loaded machine reaches the verdict an idle one does. A key that
// uses up its budget is Unknown, and fails the run like a violation.
//
// Every run saves its history as JSON (history.json) and a report
// (report.txt) in its artifacts directory (TANDEM_ROBUSTNESS_ARTIFACTS/seedN,
// or a new directory under the system's temporary directory); a failed run
// adds porcupine's drawing (history.html) and the nodes' data directories
// and logs. Check a saved history again offline, with no budget:
//
//	go run ./tests/robustness/cmd/recheck -history DIR/seed1/history.json
//
// Run is the harness; robustness_test.go drives it with flags (see the
// Makefile's test-robustness target).
package robustness
