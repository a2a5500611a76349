package replica

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func TestChecksumAgreesAcrossBatchingAndSeesEveryRecord(t *testing.T) {
	sh := mustNewShared(t)
	dir := t.TempDir()
	// More records than one scan page, so paging is covered.
	var logs []*raft.Log
	for i := 1; i <= checksumPage+50; i++ {
		logs = append(logs, putLog(uint64(i), fmt.Sprintf("h%d", i%7), fmt.Sprintf("s%05d", i), fmt.Sprintf("v%d", i)))
	}
	one, _ := mustNewApplier(t, filepath.Join(dir, "one"), sh)
	one.applyBatch(logs)
	many, _ := mustNewApplier(t, filepath.Join(dir, "many"), sh)
	for _, l := range logs {
		many.applyBatch([]*raft.Log{l})
	}
	a, err := one.checksum()
	if err != nil {
		t.Fatal(err)
	}
	b, err := many.checksum()
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Decree != uint64(len(logs)) || a.Records != uint64(len(logs)) || a.Sum == 0 {
		t.Fatalf("one batch %+v, one entry per batch %+v; want equal, at decree and count %d", a, b, len(logs))
	}

	// One different value at the next decree changes the sum, not the count.
	next := uint64(len(logs) + 1)
	one.applyBatch([]*raft.Log{putLog(next, "h1", "s00001", "x")})
	many.applyBatch([]*raft.Log{putLog(next, "h1", "s00001", "y")})
	a, _ = one.checksum()
	b, _ = many.checksum()
	if a.Sum == b.Sum || a.Records != b.Records || a.Decree != next || b.Decree != next {
		t.Fatalf("after different writes: %+v and %+v; want same decree and count, different sums", a, b)
	}
}
