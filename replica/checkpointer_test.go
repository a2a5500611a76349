package replica

import (
	"path/filepath"
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
