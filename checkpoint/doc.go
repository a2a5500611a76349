// Package checkpoint keeps a node's checkpoints: the Manifest that
// describes one, each replica's Catalog of published checkpoints, and the
// node's one Scheduler. Raft snapshots, duplication bases and backups are
// all checkpoints of this catalog; the replica takes them (it holds its
// applies while RocksDB links files into Catalog.TmpDir) and the catalog
// publishes them (Catalog.Publish).
//
// Published means whole. The manifest (table, partition, decree, purpose,
// files with sizes and CRC32C) is written last inside a temporary
// directory that one rename publishes; deletion removes the manifest
// first. The catalog is rebuilt from disk at start (a directory with a
// manifest is a checkpoint, anything else is swept), so it cannot drift
// from the files or grow without bound. Retention keeps the newest K plus
// durable pins (duplication bases, recovery) and transfers in flight.
//
// One scheduler per node. A request is served from an existing checkpoint
// when one is new enough, at once when the partition is small (an empty
// one gets a metadata-only checkpoint), else from a queue ordered by
// purpose: someone waits > raft snapshot > periodic, aged so periodic work
// cannot starve, with bounded concurrency. Its Policy (interval, retain,
// tiny size, concurrency) is cluster runtime config, changed without a
// restart.
package checkpoint
