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
// Run is the harness; robustness_test.go drives it with flags (see the
// Makefile's test-robustness target).
package robustness
