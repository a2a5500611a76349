package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"

	"github.com/tandem-kv/tandem/checkpoint"
)

// The replica's checkpointer takes a checkpoint at the applied decree:
// metadata-only while the partition is empty, else RocksDB's files whose
// manifest matches them.
func TestCheckpointerTakesTheAppliedDecree(t *testing.T) {
	dir := t.TempDir()
	ap, st := mustNewApplier(t, filepath.Join(dir, "data"), mustNewShared(t))
	defer st.close()
	cat, err := checkpoint.OpenCatalog(filepath.Join(dir, "checkpoints"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpointer{table: "t", partition: 3, store: st, ap: ap, catalog: cat, now: time.Now, lg: zaptest.NewLogger(t)}

	empty, err := ck.create(checkpoint.PurposeDuplication)
	if err != nil || !empty.Empty || len(empty.Files) != 0 || empty.Decree != 0 {
		t.Fatalf("checkpoint of an empty partition: %+v, %v; want metadata-only at decree 0", empty, err)
	}
	for d := uint64(1); d <= 3; d++ {
		ap.applyBatch([]*raft.Log{putLog(d, "h", "s", "v")})
	}
	m, err := ck.create(checkpoint.PurposeManual)
	if err != nil {
		t.Fatal(err)
	}
	if m.Empty || m.Decree != 3 || m.Table != "t" || m.Partition != 3 || m.Purpose != checkpoint.PurposeManual {
		t.Fatalf("checkpoint after three applies: %+v", m)
	}
	if err := checkpoint.Verify(cat.Dir(m.ID), m); err != nil {
		t.Fatalf("published checkpoint does not match its manifest: %v", err)
	}
	if got, ok := cat.LatestAtLeast(3); !ok || got.ID != m.ID {
		t.Fatalf("catalog's latest at 3: %+v %v, want %s", got, ok, m.ID)
	}
}

// A duplication base is taken once the instance's compactions are done:
// the files it lists are then the live ones, which the remote keeps as
// they are after its restore (not L0 files a compaction is about to
// merge, which the remote would merge again into files only it holds,
// leaving a failback nothing to reuse).
func TestDuplicationBaseWaitsForCompactions(t *testing.T) {
	dir := t.TempDir()
	ap, st := mustNewApplier(t, filepath.Join(dir, "data"), mustNewShared(t))
	defer st.close()
	cat, err := checkpoint.OpenCatalog(filepath.Join(dir, "checkpoints"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpointer{table: "t", partition: 0, store: st, ap: ap, catalog: cat, now: time.Now, lg: zaptest.NewLogger(t)}
	value := strings.Repeat("v", 1024)
	d := uint64(0)
	for round := 0; round < 4; round++ { // four L0 files: a compaction is due
		var logs []*raft.Log
		for i := 0; i < 4000; i++ {
			d++
			logs = append(logs, putLog(d, fmt.Sprintf("h%05d", i), fmt.Sprintf("s%d", round), value))
		}
		ap.applyBatch(logs)
		if _, err := ck.create(checkpoint.PurposeRaftSnapshot); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ck.create(checkpoint.PurposeDuplication)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); st.compacting(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("compactions never finished")
		}
	}
	for _, f := range m.Files {
		if _, err := os.Stat(filepath.Join(st.live(), f.Name)); strings.HasSuffix(f.Name, ".sst") && err != nil {
			t.Fatalf("the duplication base lists %s, which compaction removed from the live data: %v", f.Name, err)
		}
	}
}
