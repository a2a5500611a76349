package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// GofailVersion is the gofail release whose tool rewrites the failpoint
// markers; go.mod requires the same version of its runtime.
const GofailVersion = "v0.2.0"

// FailpointPackages are the packages whose gofail markers a fault-test
// build enables.
var FailpointPackages = []string{"./replica", "./logdb", "./checkpoint"}

var (
	fpOnce     sync.Once
	fpDir      string
	fpErr      error
	fpBuildDur time.Duration
)

// FailpointBinaries builds tandem-server and tandem-shell with the gofail
// failpoints enabled, once per test binary, and returns the directory
// holding them. As etcd does it: the module is copied to a temporary
// directory, `gofail enable` rewrites the markers there, and the binaries
// are built from the copy, so the working tree is never touched. A node
// started from them with GOFAIL_HTTP=HOST:PORT in its environment takes
// failpoint terms over HTTP (see ArmFailpoint).
func FailpointBinaries(t testing.TB) string {
	t.Helper()
	fpOnce.Do(func() {
		start := time.Now()
		fpDir, fpErr = buildWithFailpoints()
		fpBuildDur = time.Since(start)
	})
	if fpErr != nil {
		t.Fatal(fpErr)
	}
	t.Logf("fault-test binaries in %s (built in %s)", fpDir, fpBuildDur.Round(time.Second))
	return fpDir
}

func buildWithFailpoints() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "tandem-failpoints")
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	if err := copyModule(root, src); err != nil {
		return dir, fmt.Errorf("copy module for the fault-test build: %w", err)
	}
	enable := append([]string{"run", "go.etcd.io/gofail@" + GofailVersion, "enable"}, FailpointPackages...)
	steps := [][]string{
		enable,
		{"build", "-o", filepath.Join(dir, "tandem-server"), "./server/cmd/tandem-server"},
		{"build", "-o", filepath.Join(dir, "tandem-shell"), "./tools/shell"},
	}
	for _, args := range steps {
		cmd := exec.Command("go", args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			return dir, fmt.Errorf("fault-test build: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return dir, os.RemoveAll(src)
}

// copyModule copies the module's sources (Go, cgo's C and C++, go.mod,
// go.sum; no tests) from root to dst, skipping hidden directories, bin/,
// data/ and testdata/.
func copyModule(root, dst string) error {
	return CopyTree(root, dst, func(rel string, d fs.DirEntry) bool {
		if d.IsDir() {
			return rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin" || rel == "data" || d.Name() == "testdata")
		}
		return strings.HasSuffix(d.Name(), "_test.go")
	})
}

// CopyTree copies the regular files under src (a file or a directory) to
// dst, leaving out what skip (when not nil) picks: a picked directory is
// skipped whole.
func CopyTree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ArmFailpoint sets failpoint name to term (a gofail term such as
// `panic("failpoint")`, `sleep(200)` or `1*panic("x")`) in the process
// serving gofail's HTTP endpoint at addr (its GOFAIL_HTTP).
func ArmFailpoint(addr, name, term string) error {
	return gofailRequest(http.MethodPut, addr, name, term)
}

// DisarmFailpoint turns failpoint name off again.
func DisarmFailpoint(addr, name string) error {
	return gofailRequest(http.MethodDelete, addr, name, "")
}

func gofailRequest(method, addr, name, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/"+name, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("gofail %s %s: %w", method, name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("gofail %s %s: %s: %s", method, name, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// RemoveBuilds deletes the binaries Binaries and FailpointBinaries built;
// a package's TestMain calls it after its tests.
func RemoveBuilds() {
	for _, d := range []string{binDir, fpDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
}
