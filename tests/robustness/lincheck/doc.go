// Package lincheck decides whether a recorded history of Tandem client
// operations (Get, Set, Del, MultiSet on a few hash keys) is linearizable,
// and whether acknowledged writes survived: the checking half of the
// robustness runs (tests/robustness), kept apart from the harness so a
// saved history can be checked again anywhere, without a cluster, by
// tests/robustness/cmd/recheck.
//
// A history is a list of Records with the client's outcome for each:
// acknowledged, ambiguous (client.ErrAmbiguous: may or may not have
// applied), refused (any other write error: the SDK guarantees no effect),
// or a failed read. Operations turns it into porcupine's history, Prune
// drops what cannot change the verdict, and Check runs porcupine key by key
// with a budget counted in model steps, not wall-clock time, so a loaded
// machine reaches the same verdict as an idle one.
package lincheck
