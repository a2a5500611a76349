// Package checkpoint keeps a node's checkpoints: the manifest that
// describes one (files, sizes, CRC32C, decree, purpose), each replica's
// catalog of published checkpoints with pins and retention, and the node's
// one scheduler that orders checkpoint requests by purpose (someone waits >
// raft snapshot > periodic) under a runtime Policy.
//
// A checkpoint is taken by the replica (its checkpointer holds applies
// while RocksDB links files into Catalog.TmpDir) and published here
// (Catalog.Publish); raft snapshots, duplication bases and backups are all
// catalog checkpoints.
package checkpoint
