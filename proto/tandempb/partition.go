package tandempb

import "hash/crc64"

var crcTable = crc64.MakeTable(crc64.ECMA)

// PartitionOf returns the partition that holds hashKey in a table of n
// partitions. Clients and servers must agree on it, so it lives beside the
// wire contract; it is fixed for the life of a table.
func PartitionOf(hashKey []byte, n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return uint32(crc64.Checksum(hashKey, crcTable) % uint64(n))
}
