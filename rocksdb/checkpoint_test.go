package rocksdb

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestCheckpoint(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"wal", Options{}},
		{"no wal", Options{DisableWAL: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := mustNewShared(t)
			db := mustOpen(t, sh, tt.opts)
			for i := range 100 {
				mustWrite(t, db, func(b *Batch) {
					b.Put([]byte("h"), []byte(fmt.Sprintf("%03d", i)), []byte("v"), 0)
					b.PutMeta([]byte("decree"), []byte(fmt.Sprint(i)))
				})
			}
			cpDir := filepath.Join(t.TempDir(), "cp")
			if err := db.Checkpoint(cpDir); err != nil {
				t.Fatalf("Checkpoint: %v", err)
			}
			// Writes after the checkpoint stay out of it.
			mustPut(t, db, "h", "after", "v", 0)
			if err := db.Checkpoint(cpDir); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("Checkpoint into existing dir = %v, want fs.ErrExist", err)
			}

			cp := mustOpenDir(t, cpDir, sh, tt.opts)
			if n, err := cp.Count(); err != nil || n != 100 {
				t.Fatalf("checkpoint Count = %d, %v; want 100", n, err)
			}
			if _, ok := mustGet(t, cp, "h", "after"); ok {
				t.Fatal("checkpoint holds a write made after it")
			}
			if v, ok, err := cp.GetMeta([]byte("decree")); err != nil || !ok || string(v) != "99" {
				t.Fatalf("checkpoint meta = %q, %v, %v", v, ok, err)
			}
			// The checkpoint is independent of its source.
			mustPut(t, cp, "h", "cp-only", "v", 0)
			if _, ok := mustGet(t, db, "h", "cp-only"); ok {
				t.Fatal("write to checkpoint visible in source")
			}
		})
	}
}
