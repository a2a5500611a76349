package archive

import (
	"encoding/json"

	"context"
	"errors"
	"github.com/tandem-kv/tandem/checkpoint"
	"strings"
	"testing"
	"time"
)

// Retention keeps the newest K bases and the log after the oldest kept;
// a file goes only when no kept base (nor a pending upload) names it, on
// the second pass that finds it unreferenced; the archive still restores.
func TestRetentionKeepsNewestBasesAndTheirFiles(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)
	if err := s.PutTableInfo(ctx, TableInfo{Table: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shared := strings.Repeat("s", 5000)
	now := time.Unix(5000, 0)
	for i, d := range []uint64{10, 20, 30} {
		m := writeCheckpoint(t, dir, d, map[string]string{"000001.sst": shared, "CURRENT": string(rune('a' + i))})
		if _, err := s.UploadBase(ctx, 0, dir, m, time.Unix(int64(1000+d), 0), now); err != nil {
			t.Fatal(err)
		}
		seg := &Segment{Partition: 0, From: d + 1, To: d + 10, LastTime: time.Unix(int64(1000+d+10), 0)}
		if _, err := s.putSegment(ctx, seg); err != nil {
			t.Fatal(err)
		}
	}
	files := func() int { o, _ := s.List(ctx, "files/"); return len(o) }
	if n := files(); n != 4 {
		t.Fatalf("%d files stored, want 4 (one shared SST, three CURRENTs)", n)
	}
	// A base upload in progress names its files before it sends them.
	pending := writeCheckpoint(t, dir, 40, map[string]string{"CURRENT": "pending"})
	b, _ := jsonBase(s, 0, pending, now)
	if err := s.Put(ctx, pendingKey(0, 40), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, fileKey(pending.Files[0]), []byte("pending")); err != nil {
		t.Fatal(err)
	}

	st, err := s.gcPartition(ctx, 0, 2)
	if err != nil || st.Bases != 1 || st.Segments != 1 {
		t.Fatalf("partition gc: %+v %v", st, err)
	}
	var g FileGC
	if n, err := g.Pass(ctx, s, 1, now); err != nil || n != 0 {
		t.Fatalf("first pass deleted %d (%v): a file goes only on the second", n, err)
	}
	if n, err := g.Pass(ctx, s, 1, now); err != nil || n != 1 {
		t.Fatalf("second pass deleted %d (%v), want the dropped base's CURRENT", n, err)
	}
	if n := files(); n != 4 {
		t.Fatalf("%d files left, want 4 (shared SST, two CURRENTs, the pending upload's)", n)
	}
	if _, _, err := Plan(ctx, s, Point{Decree: 25}); err != nil {
		t.Fatalf("a kept point: %v", err)
	}
	if _, _, err := Plan(ctx, s, Point{Decree: 15}); !errors.Is(err, ErrPointUnreachable) {
		t.Fatalf("a point before the oldest kept base: %v, want ErrPointUnreachable", err)
	}
}

func jsonBase(s *Store, p uint32, m *checkpoint.Manifest, now time.Time) ([]byte, error) {
	return json.Marshal(&Base{Version: baseVersion, Table: s.table, Partition: p, Decree: m.Decree, UploadedAt: now, Checkpoint: m})
}
