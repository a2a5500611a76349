// Package e2e starts real tandem-server processes on loopback for
// end-to-end tests: build the binaries once, start a cluster with the
// INTERFACE.md flags, kill -9 and restart nodes, drive tandem-shell.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds tandem-server and tandem-shell once per test binary and
// returns the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tandem-e2e-bin")
		if buildErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		for pkg, name := range map[string]string{"./server/cmd/tandem-server": "tandem-server", "./tools/shell": "tandem-shell", "./tools/verify": "tandem-verify"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Node is one tandem-server process.
type Node struct {
	ID, Addr, HTTP, Data string
	args                 []string
	t                    testing.TB
	bin                  string
	cmd                  *exec.Cmd
	log                  *os.File
	exited               chan struct{}

	// Env holds extra environment variables (KEY=VALUE) for the process.
	Env []string
}

// Cluster is a set of nodes started with the same --peers.
type Cluster struct {
	Name  string
	Nodes []*Node
	t     testing.TB
	bin   string
	base  string // the directory of the nodes' data directories and logs
}

// StartCluster starts n nodes named n1..nN forming one cluster and waits
// for /healthz on each.
func StartCluster(t testing.TB, name string, n int) *Cluster {
	t.Helper()
	return StartClusterWith(t, name, n, ClusterOptions{})
}

// ClusterOptions adjusts how StartClusterWith starts the nodes.
type ClusterOptions struct {
	// Bin is the directory holding tandem-server and tandem-shell (for
	// example FailpointBinaries); empty means Binaries.
	Bin string
	// PeerAddr, when set, is the address node from lists for node to in its
	// --peers (for example a Proxy's in front of to.Addr), so each node can
	// have its own route to each peer. A node lists itself at its Addr.
	PeerAddr func(from, to *Node) string
	// Env, when set, gives each node's extra environment (KEY=VALUE).
	Env func(nd *Node) []string
	// Args, when set, gives each node's extra tandem-server flags (for
	// example --tls-cert and --auth-tokens).
	Args func(nd *Node) []string
	// DefaultTimings starts the nodes with tandem-server's default raft
	// timings (no --raft-election-timeout), as a user's node runs, instead
	// of the tests' 1s election timeout.
	DefaultTimings bool
	// StartOnly, when above zero, starts only the first StartOnly nodes;
	// the caller starts the others with Node.Start when it wants.
	StartOnly int
}

// StartClusterWith is StartCluster with options.
func StartClusterWith(t testing.TB, name string, n int, opts ClusterOptions) *Cluster {
	t.Helper()
	c := LaunchCluster(t, name, n, opts)
	for _, nd := range c.Nodes {
		nd.WaitHealthy(30 * time.Second)
	}
	return c
}

// LaunchCluster starts n nodes as StartClusterWith does but returns at
// once, without waiting for /healthz, so that a caller can time the start.
func LaunchCluster(t testing.TB, name string, n int, opts ClusterOptions) *Cluster {
	t.Helper()
	bin := opts.Bin
	if bin == "" {
		bin = Binaries(t)
	}
	c := &Cluster{Name: name, t: t, bin: bin}
	base := t.TempDir()
	c.base = base
	for i := 0; i < n; i++ {
		nd := &Node{ID: fmt.Sprintf("n%d", i+1), Addr: FreeAddr(t), HTTP: FreeAddr(t), t: t, bin: bin}
		nd.Data = filepath.Join(base, nd.ID)
		c.Nodes = append(c.Nodes, nd)
	}
	for i, nd := range c.Nodes {
		nd.args = []string{"--id", nd.ID, "--addr", nd.Addr, "--http", nd.HTTP, "--data", nd.Data, "--cluster", name}
		if !opts.DefaultTimings {
			// Tests fail over on a 1s election timeout (the default is
			// 3s); opts.Args may set another.
			nd.args = append(nd.args, "--raft-election-timeout", "1s")
		}
		if n > 1 {
			nd.args = append(nd.args, "--peers", c.peersOf(nd, opts.PeerAddr))
		}
		if opts.Env != nil {
			nd.Env = opts.Env(nd)
		}
		if opts.Args != nil {
			nd.args = append(nd.args, opts.Args(nd)...)
		}
		if opts.StartOnly <= 0 || i < opts.StartOnly {
			nd.Start()
		}
	}
	t.Cleanup(c.Stop)
	return c
}

// peersOf is node from's --peers value.
func (c *Cluster) peersOf(from *Node, addr func(from, to *Node) string) string {
	var peers []string
	for _, to := range c.Nodes {
		a := to.Addr
		if addr != nil && to != from {
			a = addr(from, to)
		}
		peers = append(peers, to.ID+"="+a)
	}
	return strings.Join(peers, ",")
}

// Addrs lists every node's RPC address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, nd := range c.Nodes {
		out = append(out, nd.Addr)
	}
	return out
}

// Node returns the node with id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, nd := range c.Nodes {
		if nd.ID == id {
			return nd
		}
	}
	return nil
}

// Stop terminates every node (SIGTERM, then SIGKILL).
func (c *Cluster) Stop() {
	for _, nd := range c.Nodes {
		nd.Terminate()
	}
}

// Shell runs tandem-shell -e script against the cluster's first node.
func (c *Cluster) Shell(script string, extra ...string) (string, error) {
	args := append([]string{"--addr", c.Nodes[0].Addr}, extra...)
	args = append(args, "-e", script)
	cmd := exec.Command(filepath.Join(c.bin, "tandem-shell"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("tandem-shell -e %q: %v: %s", script, err, errb.String())
	}
	return out.String(), nil
}

// Verify runs tandem-verify between two clusters' tables and returns its
// output and whether it said identical.
func Verify(t testing.TB, src, dst *Cluster, table string) (string, bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(Binaries(t), "tandem-verify"), "--source", strings.Join(src.Addrs(), ","),
		"--target", strings.Join(dst.Addrs(), ","), "--table", table)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// Start launches the node's process with its flags.
func (nd *Node) Start() {
	nd.t.Helper()
	if err := os.MkdirAll(nd.Data, 0o755); err != nil {
		nd.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(filepath.Dir(nd.Data), nd.ID+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		nd.t.Fatal(err)
	}
	nd.log = f
	nd.cmd = exec.Command(filepath.Join(nd.bin, "tandem-server"), nd.args...)
	nd.cmd.Stdout, nd.cmd.Stderr = f, f
	if len(nd.Env) > 0 {
		nd.cmd.Env = append(os.Environ(), nd.Env...)
	}
	if err := nd.cmd.Start(); err != nil {
		nd.t.Fatal(err)
	}
	nd.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(nd.cmd, nd.exited)
}

// logTail is the end of the node's log, for failure messages (the test's
// temporary directory, log included, is gone once it fails).
func (nd *Node) logTail() string {
	b, err := os.ReadFile(nd.LogPath())
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-2000):])
}

// Pid is the node's process id while it runs, else 0.
func (nd *Node) Pid() int {
	if nd.cmd == nil || nd.cmd.Process == nil {
		return 0
	}
	select {
	case <-nd.exited:
		return 0
	default:
	}
	return nd.cmd.Process.Pid
}

// Exited is closed when the process started last has exited.
func (nd *Node) Exited() <-chan struct{} { return nd.exited }

// LogPath is the file the node's output goes to.
func (nd *Node) LogPath() string { return filepath.Join(filepath.Dir(nd.Data), nd.ID+".log") }

// Kill sends SIGKILL and waits for the process to be gone.
func (nd *Node) Kill() { nd.signal(syscall.SIGKILL, 10*time.Second) }

// Pause freezes the process (SIGSTOP): to its peers it is as if the network
// to it were cut; Resume (SIGCONT) heals it.
func (nd *Node) Pause() { _ = nd.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (nd *Node) Resume() { _ = nd.cmd.Process.Signal(syscall.SIGCONT) }

// Terminate sends SIGTERM, falling back to SIGKILL after 10s.
func (nd *Node) Terminate() {
	if nd.cmd == nil {
		return
	}
	nd.Resume()
	if !nd.signal(syscall.SIGTERM, 10*time.Second) {
		nd.Kill()
	}
}

func (nd *Node) signal(sig syscall.Signal, wait time.Duration) bool {
	if nd.cmd == nil || nd.cmd.Process == nil {
		return true
	}
	select {
	case <-nd.exited:
		return true
	default:
	}
	_ = nd.cmd.Process.Signal(sig)
	select {
	case <-nd.exited:
		nd.log.Close()
		return true
	case <-time.After(wait):
		return false
	}
}

// WaitHealthy polls /healthz until it answers 200.
func (nd *Node) WaitHealthy(timeout time.Duration) {
	nd.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.HTTP+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-nd.exited:
			nd.t.Fatalf("node %s exited while starting:\n%s", nd.ID, nd.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
	nd.t.Fatalf("node %s not healthy after %s", nd.ID, timeout)
}

// FreeAddr returns a 127.0.0.1 address nothing listens on right now and
// that this process has not handed out before. The port comes from below
// Linux's ephemeral range (32768 and up), so the outgoing connections of
// this and other tests cannot take it between now and the moment a node
// binds it, and from this test binary's share of that range (portShare),
// so a concurrent suite's pick cannot either.
func FreeAddr(t testing.TB) string {
	t.Helper()
	lo, n := portShare()
	portsMu.Lock()
	defer portsMu.Unlock()
	if len(portsGiven) > n/2 {
		portsGiven = map[int]bool{} // long runs: the first ports are long closed
	}
	for range 1000 {
		port := lo + rand.IntN(n)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		portsGiven[port] = true
		return addr
	}
	t.Fatalf("no free port in %d-%d", lo, lo+n-1)
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// portShare is this test binary's part of ports 20000-31999: `go test
// ./...` runs the e2e and robustness suites as concurrent processes that
// both start real servers, each picking ports at random, and one took a
// port the other had picked but not yet bound ("address already in use").
func portShare() (lo, n int) {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "robustness") {
		return 26000, 6000
	}
	return 20000, 6000
}

// Destroy stops every node and removes their data directories and logs, for
// callers that start many clusters in one test and do not need them after.
func (c *Cluster) Destroy() {
	c.Stop()
	if c.base != "" {
		_ = os.RemoveAll(c.base)
	}
}

// ShellAt runs tandem-shell -e script against node nd only.
func (c *Cluster) ShellAt(nd *Node, script string, extra ...string) (string, error) {
	args := append([]string{"--addr", nd.Addr}, extra...)
	args = append(args, "-e", script)
	cmd := exec.Command(filepath.Join(c.bin, "tandem-shell"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("tandem-shell --addr %s -e %q: %v: %s", nd.Addr, script, err, errb.String())
	}
	return out.String(), nil
}

// Healthz asks the node's /healthz once and returns the HTTP status code
// (0 when the node did not answer).
func (nd *Node) Healthz() int {
	code, _ := nd.httpGet("/healthz")
	return code
}

// IsMetaLeader reports whether the node says, on /metrics, that it leads
// the meta group.
func (nd *Node) IsMetaLeader() bool {
	code, body := nd.httpGet("/metrics")
	if code != http.StatusOK {
		return false
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "tandem_meta_is_leader ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "tandem_meta_is_leader ")) == "1"
		}
	}
	return false
}

// httpGet fetches path from the node's HTTP port with a 1s limit.
func (nd *Node) httpGet(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.HTTP+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
