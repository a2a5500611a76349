package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
)

// asShellEnv makes the test binary act as tandem-shell (see TestMain), so
// tests can run the shell as a real process with a real pipe on stdin.
const asShellEnv = "TANDEM_SHELL_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asShellEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// shellProcess runs tandem-shell (this test binary in its place) as a
// process with stdin piped from stdin and returns its exit status and
// output.
func shellProcess(t *testing.T, stdin io.Reader, argv ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), asShellEnv+"=1", "HOME="+t.TempDir())
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("run shell: %v", err)
	}
	return code, out.String(), errOut.String()
}

// startCluster starts a real in-process cluster of n nodes.
func startCluster(t *testing.T, n int, mutate ...func(*server.Config)) *server.TestCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	return server.MakeCluster(t, n, mutate...)
}

// sdkGet reads a record through the SDK, to check what the shell stored.
func sdkGet(t *testing.T, addrs []string, table, hashKey, sortKey string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	tbl, err := c.Table(ctx, table)
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	return tbl.Get(ctx, []byte(hashKey), []byte(sortKey))
}

// TestPipedLongLines: a line piped into the shell is read whole however
// long it is; a value over kv.max_value_bytes gets the server's refusal,
// stores nothing, stops the input and exits non-zero. (The shell used to
// read piped lines in 4,096-byte pieces: it stored the first piece, ran
// the rest as "unknown command" errors and exited 0.)
func TestPipedLongLines(t *testing.T) {
	c := startCluster(t, 1)
	c.CreateTable("big", 2, 1)
	addr := c.Addrs()[0]

	value := strings.Repeat("0123456789", 10_000) // 100 KB
	in := "set big h s " + value + "\nget big h s2\n"
	code, stdout, stderr := shellProcess(t, strings.NewReader(in), "--addr", addr)
	if code != exitNotFound || !strings.HasPrefix(stdout, "OK\n") || strings.Contains(stderr, "unknown command") {
		t.Fatalf("100 KB line: exit %d, stdout %.200q, stderr %.500q; want OK then not found (exit 1)", code, stdout, stderr)
	}
	got, err := sdkGet(t, c.Addrs(), "big", "h", "s")
	if err != nil || string(got) != value {
		t.Fatalf("stored %d bytes (err %v), want the %d bytes piped", len(got), err, len(value))
	}

	huge := strings.Repeat("x", 5<<20) // over the default kv.max_value_bytes (4 MiB)
	in = "set big h huge " + huge + "\nset big h after ran\n"
	code, stdout, stderr = shellProcess(t, strings.NewReader(in), "--addr", addr)
	if code == exitOK || !strings.Contains(stderr, "kv.max_value_bytes") || strings.Contains(stderr, "unknown command") || strings.Contains(stdout, "OK") {
		t.Fatalf("5 MiB line: exit %d, stdout %.200q, stderr %.500q; want the server's refusal and a non-zero exit", code, stdout, stderr)
	}
	for _, sk := range []string{"huge", "after"} {
		if v, err := sdkGet(t, c.Addrs(), "big", "h", sk); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("record h/%s: %d bytes, err %v; want not found", sk, len(v), err)
		}
	}
}
