package checkpoint

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func ids(views []View) []uint64 {
	var out []uint64
	for _, v := range views {
		out = append(out, v.Decree)
	}
	return out
}

func makeCheckpoints(t *testing.T, tt *testPartition, from, to uint64) []*Manifest {
	t.Helper()
	var out []*Manifest
	for d := from; d <= to; d++ {
		tt.write(d)
		m, err := tt.create(PurposePeriodic)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestRetentionKeepsNewestPlusPinned(t *testing.T) {
	tt := mustNewPartition(t, "t")
	ms := makeCheckpoints(t, tt, 1, 6)
	if err := tt.cat.Pin(ms[0].ID, "dup-1"); err != nil {
		t.Fatal(err)
	}
	release, err := tt.cat.Acquire(ms[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := tt.cat.GC(2); n != 2 {
		t.Fatalf("GC deleted %d, want 2 (decrees 3 and 4)", n)
	}
	if got := ids(tt.cat.List()); fmt.Sprint(got) != "[1 2 5 6]" {
		t.Fatalf("after GC(2): %v, want [1 2 5 6] (pinned 1, in transfer 2, newest 5 6)", got)
	}
	for _, d := range []uint64{3, 4} {
		if _, err := os.Stat(tt.cat.Dir(ms[d-1].ID)); !os.IsNotExist(err) {
			t.Fatalf("checkpoint at %d still on disk: %v", d, err)
		}
	}
	release()
	tt.cat.GC(2)
	if got := ids(tt.cat.List()); fmt.Sprint(got) != "[1 5 6]" {
		t.Fatalf("after release: %v, want [1 5 6]", got)
	}
	// Pins survive a restart; unpinning lets retention collect it.
	cat, err := OpenCatalog(tt.cat.dir, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if cat.GC(1); fmt.Sprint(ids(cat.List())) != "[1 6]" {
		t.Fatalf("after reopen and GC(1): %v, want [1 6]", ids(cat.List()))
	}
	if err := cat.Unpin(ms[0].ID, "dup-1"); err != nil {
		t.Fatal(err)
	}
	if cat.GC(1); fmt.Sprint(ids(cat.List())) != "[6]" {
		t.Fatalf("after unpin: %v, want [6]", ids(cat.List()))
	}
	if cat.GC(0); len(cat.List()) != 1 {
		t.Fatal("GC removed the newest checkpoint")
	}
}

// Each case leaves the directory as a crash at one step would; reopening
// must list only whole checkpoints and sweep the rest.
func TestCatalogRecoversFromCrashAtEveryStep(t *testing.T) {
	cases := []struct {
		name  string
		crash func(t *testing.T, tt *testPartition, m *Manifest)
	}{
		{"create: checkpoint files, no manifest", func(t *testing.T, tt *testPartition, m *Manifest) {
			os.Remove(filepath.Join(tt.cat.Dir(m.ID), ManifestFile))
			os.Rename(tt.cat.Dir(m.ID), tt.cat.TmpDir(m.ID))
		}},
		{"create: manifest written, not yet published", func(t *testing.T, tt *testPartition, m *Manifest) {
			os.Rename(tt.cat.Dir(m.ID), tt.cat.TmpDir(m.ID))
		}},
		{"delete: manifest removed, files remain", func(t *testing.T, tt *testPartition, m *Manifest) {
			os.Remove(filepath.Join(tt.cat.Dir(m.ID), ManifestFile))
		}},
		{"delete: half the files removed", func(t *testing.T, tt *testPartition, m *Manifest) {
			os.Remove(filepath.Join(tt.cat.Dir(m.ID), ManifestFile))
			os.Remove(filepath.Join(tt.cat.Dir(m.ID), m.Files[0].Name))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tt := mustNewPartition(t, "t")
			ms := makeCheckpoints(t, tt, 1, 2)
			tc.crash(t, tt, ms[1])
			cat, err := OpenCatalog(tt.cat.dir, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			assertConsistent(t, cat)
			if got := ids(cat.List()); fmt.Sprint(got) != "[1]" {
				t.Fatalf("listed %v, want [1]", got)
			}
		})
	}
}

// assertConsistent checks every listed checkpoint against its manifest
// and that nothing else is in the catalog directory.
func assertConsistent(t *testing.T, cat *Catalog) {
	t.Helper()
	listed := map[string]bool{}
	for _, v := range cat.List() {
		listed[v.ID] = true
		if err := Verify(v.Dir, &v.Manifest); err != nil {
			t.Fatalf("listed checkpoint %s is damaged: %v", v.ID, err)
		}
	}
	entries, _ := os.ReadDir(cat.dir)
	for _, e := range entries {
		if e.IsDir() && !listed[e.Name()] {
			t.Fatalf("orphan directory %s after start-up", e.Name())
		}
	}
}

// TestCatalogSurvivesKill9 runs checkpoint create+GC in a child process,
// kills it with SIGKILL at varying moments, and checks the catalog each time.
func TestCatalogSurvivesKill9(t *testing.T) {
	if os.Getenv("TANDEM_CATALOG_CHILD") != "" {
		catalogChild(t)
		return
	}
	dir := t.TempDir()
	for i := 0; i < 6; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCatalogSurvivesKill9$")
		cmd.Env = append(os.Environ(), "TANDEM_CATALOG_CHILD="+dir, "TANDEM_CATALOG_SEED="+strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+70*i) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cat, err := OpenCatalog(filepath.Join(dir, "checkpoints"), zaptest.NewLogger(t))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", i, err)
		}
		assertConsistent(t, cat)
		t.Logf("round %d: %d checkpoints listed and intact", i, len(cat.List()))
	}
}

func catalogChild(t *testing.T) {
	tt := openPartition(t, os.Getenv("TANDEM_CATALOG_CHILD"), "child")
	for d := tt.Applied() + 1; ; d++ {
		tt.write(d)
		if _, err := tt.create(PurposePeriodic); err != nil {
			t.Fatal(err)
		}
		tt.cat.GC(2)
	}
}
