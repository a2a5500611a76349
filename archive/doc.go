// Package archive keeps a continuous copy of a table in object storage and
// restores tables from it.
//
// Each partition leader uploads base checkpoints (their files
// content-addressed by checksum, so a new base uploads only what the bucket
// lacks, and a manifest per base written last) and its applied raft log in
// checksummed segments named by partition and decree range. The archive's
// confirmed decree is a floor on the partition's log retention, like a
// duplication's, within the same cap. Restore creates a table from the
// newest base at or before a point and replays the archived log up to it,
// through each new partition's raft group.
//
// Layout of a table's archive under the archive URL:
//
//	TABLE/files/CRC32C-SIZE                       a checkpoint file
//	TABLE/p00003/bases/DECREE.json                a base's manifest
//	TABLE/p00003/wal/FROM-TO.seg                  log decrees FROM..TO
package archive
