package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkShellCheckpointCreateEmptyTable times `tandem-shell -e
// 'checkpoint create T'` end to end (process start, RPCs, 8 partition
// leaders on a 3-node cluster of real processes) on a freshly created,
// empty 8-partition table each iteration.
//
//	go test -run '^$' -bench ShellCheckpoint -benchtime 10x ./tests/e2e/
func BenchmarkShellCheckpointCreateEmptyTable(b *testing.B) {
	cl := StartCluster(b, "bench", 3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		table := fmt.Sprintf("empty%d", i)
		if _, err := cl.Shell("create " + table + " --partitions 8 --replicas 3"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		out, err := cl.Shell("checkpoint create " + table)
		if err != nil || !strings.Contains(out, "(8 checkpoints in") {
			b.Fatalf("checkpoint create: %q %v", out, err)
		}
	}
}
