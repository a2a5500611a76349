// Package client is the Go SDK of Tandem, a partitioned, replicated
// key-value store.
//
// A record is (hash key, sort key) -> value with an optional TTL. The hash
// key picks the table's partition; records of one hash key live together,
// ordered by sort key, so MultiGet and MultiSet on one hash key are atomic
// and ScanHashKey returns records in sort-key order.
//
// Dial a Client once and share it; it is safe for concurrent use. A Table
// handle routes each call to its partition's leader from a routing cache it
// refreshes on its own: a NotLeader answer that names the leader is
// followed at once; no leader, a node down or a node shutting down is
// retried with exponential backoff and jitter, against other replicas and a
// refreshed route, until the context's deadline (or Config.RequestTimeout
// when the context has none), and then fails with ErrUnavailable.
//
// Writes are retried only when the error proves nothing was proposed (a
// NotLeader or not-ready answer, or no connection at all). When the outcome
// is open (the leader lost leadership while replicating the write, the node
// failed or the client was closed after the request was sent, the deadline
// passed while it was out, or any answer that does not prove a refusal) the
// write fails with ErrAmbiguous instead: retrying it could apply it a second
// time after other clients' writes to the same record, which
// linearizability forbids. Read the record to learn the outcome, or write
// again if a repeat is what you want. Any other error of a write means it
// had no effect.
//
// Concurrent data operations on one partition share gRPC calls: Gets,
// MultiGets and scan pages one BatchGet (one read barrier), Sets, Dels and
// MultiSets one BatchWrite (one raft entry, a MultiSet within it still all
// or nothing). A lone call leaves at once; calls arriving while one is out
// leave together next (Config.BatchOps caps how many). The rules above
// hold for every operation of a shared call: one whose deadline passes
// while it is still queued was never sent and fails with ErrUnavailable;
// a write whose deadline passes after it was sent fails with ErrAmbiguous.
//
// Errors wrap one of the package's sentinels and keep the server's message:
//
//	v, err := tbl.Get(ctx, []byte("user1"), []byte("name"))
//	switch {
//	case errors.Is(err, client.ErrNotFound):
//		// absent or expired
//	case errors.Is(err, client.ErrUnavailable):
//		// no leader before the deadline; retry later
//	}
//
// The Admin helpers (CreateTable, DropTable, ListTables, Nodes, Partitions,
// GetConfig, SetConfig) and the raw Admin service client go to any
// configured node that answers.
package client
