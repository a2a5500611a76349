package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
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
func startCluster(t *testing.T, n int, mutate ...func(*server.Config)) *servertest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	return servertest.MakeCluster(t, n, mutate...)
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

// mustShell runs the shell in-process and fails the test unless it exits 0.
func mustShell(t *testing.T, argv ...string) string {
	t.Helper()
	code, stdout, stderr := runShell(argv...)
	if code != exitOK {
		t.Fatalf("tandem-shell %q: exit %d, stdout %q, stderr %q", argv, code, stdout, stderr)
	}
	return stdout
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

// TestCreateExplicitZero: --partitions 0 and --replicas 0 written out are
// refused and create nothing (they used to mean the defaults); leaving the
// flags out keeps the defaults.
func TestCreateExplicitZero(t *testing.T) {
	c := startCluster(t, 1)
	addr := c.Addrs()[0]
	for _, script := range []string{"create z --partitions 0", "create z --replicas 0", "create z --partitions=0 --replicas 1"} {
		code, stdout, stderr := runShell("--addr", addr, "-e", script)
		if code != exitError || !strings.Contains(stderr, "at least 1") || stdout != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want a refusal naming 'at least 1'", script, code, stdout, stderr)
		}
	}
	if out := mustShell(t, "--addr", addr, "-e", "tables"); strings.Contains(out, "z ") {
		t.Fatalf("a refused create made a table:\n%s", out)
	}
	if out := mustShell(t, "--addr", addr, "-e", "create d"); !strings.Contains(out, "8 partitions, 1 replicas") {
		t.Fatalf("create without flags: %q; want the defaults (8 partitions, 1 replica on one node)", out)
	}
}

// TestCreateAgain: creating a table that exists exactly as asked (what a
// retry after a timed-out create meets) succeeds and says so; one that
// exists with another shape is refused with that shape.
func TestCreateAgain(t *testing.T) {
	c := startCluster(t, 3)
	addr := c.Addrs()[0]
	mustShell(t, "--addr", addr, "-e", "create t --partitions 4 --replicas 3")
	for _, script := range []string{"create t --partitions 4 --replicas 3", "create t --partitions 4"} {
		code, stdout, stderr := runShell("--addr", addr, "-e", script)
		if code != exitOK || !strings.Contains(stdout, "table t already exists as asked") || !strings.Contains(stdout, "4 partitions, 3 replicas") {
			t.Fatalf("%s again: exit %d, stdout %q, stderr %q; want exit 0 and 'already exists as asked'", script, code, stdout, stderr)
		}
	}
	for _, script := range []string{"create t", "create t --partitions 8", "create t --partitions 4 --replicas 2"} {
		code, stdout, stderr := runShell("--addr", addr, "-e", script)
		// A metadata leader change under a loaded machine leaves a change's
		// outcome unknown (exit 3); the same create again gets its answer.
		for i := 0; code == exitUnknown && i < 5; i++ {
			code, stdout, stderr = runShell("--addr", addr, "-e", script)
		}
		if code != exitError || !strings.Contains(stderr, "table exists: t has 4 partitions and 3 replicas") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want a refusal naming the existing shape", script, code, stdout, stderr)
		}
	}
	// A create that may time out, then the same create again: the second
	// always ends with the table there and exit status 0.
	code, _, stderr := runShell("--addr", addr, "--timeout", "20ms", "-e", "create r --partitions 8 --replicas 3")
	if code != exitOK && !strings.Contains(stderr, "the table may have been created") {
		t.Fatalf("create with a 20ms timeout: exit %d, stderr %q", code, stderr)
	}
	mustShell(t, "--addr", addr, "--timeout", "30s", "-e", "create r --partitions 8 --replicas 3")
}

// TestTimeoutSaysWhatMayHaveApplied: a change that times out says whether
// it may have been applied and how to check, with its own exit status,
// instead of the transport's error alone.
func TestTimeoutSaysWhatMayHaveApplied(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateTable("t", 2, 3)
	addr := c.Addrs()[0]
	c.Stop(1)
	c.Stop(2) // no quorum anywhere: nothing can commit
	tests := []struct{ script, says string }{
		{"create lost", "the table may have been created; run `tables` or `partitions lost` to check"},
		{"drop t", "the table may have been dropped; run `tables` to check"},
		{"config set checkpoint.retain 3", "the change may have been applied; run `config get checkpoint.retain` to check"},
	}
	for _, tt := range tests {
		code, _, stderr := runShell("--addr", addr, "--timeout", "1s", "-e", tt.script)
		// Timed out, or the meta leader lost its quorum after appending the
		// change: either way the outcome is unknown.
		if code != exitUnknown || !strings.Contains(stderr, tt.script+": ") || !strings.Contains(stderr, tt.says) {
			t.Fatalf("%s: exit %d, stderr %q; want exit %d and %q", tt.script, code, stderr, exitUnknown, tt.says)
		}
	}
	// A write is either reported ambiguous by the SDK or known not applied.
	code, _, stderr := runShell("--addr", addr, "--timeout", "1s", "-e", "set t h s v")
	ambiguous := code == exitUnknown && strings.Contains(stderr, "the write may or may not have been applied; run `get t h s` to check")
	refused := code == exitError && strings.Contains(stderr, "the write was not applied")
	if !ambiguous && !refused {
		t.Fatalf("set: exit %d, stderr %q; want an ambiguous or a not-applied report", code, stderr)
	}
	code, _, stderr = runShell("--addr", addr, "--timeout", "1s", "-e", "tables; get t h s")
	if code != exitOK && !strings.Contains(stderr, "changes nothing") {
		t.Fatalf("reads: exit %d, stderr %q; want success or a timeout that says it changed nothing", code, stderr)
	}
}

// TestTransportMismatch: a plaintext shell against a TLS cluster, and a
// TLS shell against a plaintext one, say so at once (the shell used to
// wait out its dial timeout and report "no node reachable"), as does a
// TLS shell that does not trust the nodes' certificates.
func TestTransportMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters")
	}
	ca := testpki.New(t, "east-ca")
	tlsCluster := startCluster(t, 1, servertest.WithTLS(t, ca))
	plain := startCluster(t, 1)
	dir := t.TempDir()
	caFile := ca.WriteCert(t, dir, "ca")
	otherCA := testpki.New(t, "other-ca").WriteCert(t, dir, "other")
	tests := []struct {
		name string
		argv []string
		says []string
	}{
		{"plaintext shell, TLS node", []string{"--addr", tlsCluster.Addrs()[0]},
			[]string{"node " + tlsCluster.Addrs()[0] + " requires TLS", "--tls-ca"}},
		{"TLS shell, plaintext node", []string{"--addr", plain.Addrs()[0], "--tls-ca", caFile},
			[]string{"node " + plain.Addrs()[0] + " does not use TLS", "leave out --tls-ca"}},
		{"untrusted certificate", []string{"--addr", tlsCluster.Addrs()[0], "--tls-ca", otherCA},
			[]string{"node " + tlsCluster.Addrs()[0] + ": TLS handshake failed", "unknown authority", "--tls-ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append(tt.argv, "--timeout", "60s", "-e", "tables")
			code, stdout, stderr := runShell(argv...)
			if code != exitError || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2", code, stdout, stderr)
			}
			for _, s := range tt.says {
				if !strings.Contains(stderr, s) {
					t.Fatalf("stderr %q; want it to say %q", stderr, s)
				}
			}
		})
	}
	mustShell(t, "--addr", tlsCluster.Addrs()[0], "--tls-ca", caFile, "-e", "tables")
}

// TestValueFile: set --value-file PATH, and - for stdin, writes values
// byte for byte, even binary and over the OS's argument limit; a value
// over kv.max_value_bytes gets the server's refusal and stores nothing.
func TestValueFile(t *testing.T) {
	c := startCluster(t, 1)
	c.CreateTable("v", 2, 1)
	addr := c.Addrs()[0]
	dir := t.TempDir()
	value := make([]byte, 1<<20)
	for i := range value {
		value[i] = byte(i * 7 % 251)
	}
	file := filepath.Join(dir, "value.bin")
	if err := os.WriteFile(file, value, 0o600); err != nil {
		t.Fatal(err)
	}
	mustShell(t, "--addr", addr, "-e", "set v h file --value-file "+file+" --ttl 1h")
	code, stdout, stderr := shellProcess(t, bytes.NewReader(value), "--addr", addr, "-e", "set v h stdin --value-file -")
	if code != exitOK || stdout != "OK\n" {
		t.Fatalf("--value-file -: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, sk := range []string{"file", "stdin"} {
		if got, err := sdkGet(t, c.Addrs(), "v", "h", sk); err != nil || !bytes.Equal(got, value) {
			t.Fatalf("h/%s: %d bytes stored (err %v), want the file's %d", sk, len(got), err, len(value))
		}
	}

	huge := filepath.Join(dir, "huge.bin")
	if err := os.WriteFile(huge, make([]byte, 5<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ name, script, says string }{
		{"over kv.max_value_bytes", "set v h huge --value-file " + huge, "kv.max_value_bytes"},
		{"value and file", "set v h both x --value-file " + file, "VALUE or --value-file, not both"},
		{"neither", "set v h neither", "VALUE or --value-file"},
		{"missing file", "set v h missing --value-file " + filepath.Join(dir, "nope"), "no such file"},
		{"stdin twice", "set v h once --value-file -; set v h twice --value-file -", "stdin was already read"},
	}
	for _, tt := range bad {
		code, _, stderr := shellProcess(t, strings.NewReader(""), "--addr", addr, "-e", tt.script)
		if code == exitOK || !strings.Contains(stderr, tt.says) {
			t.Fatalf("%s: exit %d, stderr %q; want a non-zero exit and %q", tt.name, code, stderr, tt.says)
		}
	}
	for _, sk := range []string{"huge", "both", "neither", "missing", "twice"} {
		if v, err := sdkGet(t, c.Addrs(), "v", "h", sk); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("h/%s: %d bytes, err %v; want not found", sk, len(v), err)
		}
	}
	// Commands read from stdin cannot also take a value from it.
	code, _, stderr = shellProcess(t, strings.NewReader("set v h piped --value-file -\n"), "--addr", addr)
	if code == exitOK || !strings.Contains(stderr, "the commands come from stdin") {
		t.Fatalf("--value-file - with piped commands: exit %d, stderr %q", code, stderr)
	}
}

// TestAddrList: with --addr listing first a node that hangs (accepts
// connections, never answers: a frozen process), then a stopped node and
// a closed port, every command is served by the live nodes after them.
// (A hanging first node used to hold every admin call and route lookup
// until the timeout.)
func TestAddrList(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateTable("t", 4, 3)
	addrs := c.Addrs()
	c.Stop(0)
	hung, err := net.Listen("tcp", "127.0.0.1:0") // the kernel accepts; nobody serves
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	list := strings.Join([]string{hung.Addr().String(), addrs[0], freeAddr(t), addrs[1], addrs[2]}, ",")
	scripts := []string{
		"nodes", "tables", "partitions t", "set t h s v", "get t h s", "scan t", "scan t h", "count t", "del t h s",
		"config get checkpoint.retain", "config set checkpoint.retain 3", "checkpoint ls t", "checkpoint create t",
		"dup ls", "create u --partitions 2", "drop u",
	}
	for _, script := range scripts {
		code, stdout, stderr := runShell("--addr", list, "--timeout", "30s", "-e", script)
		if code != exitOK {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", script, code, stdout, stderr)
		}
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
