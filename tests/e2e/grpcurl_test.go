package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// grpcurlVersion is the grpcurl the test was written against.
const grpcurlVersion = "v1.9.4"

// grpcurlBin finds grpcurl ($GRPCURL, then PATH, then GOPATH/bin), or
// skips the test saying how to install it.
func grpcurlBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GRPCURL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "grpcurl")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("grpcurl not installed: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@" + grpcurlVersion)
	return ""
}

// grpcurl runs grpcurl -plaintext with args (flags, address, verb) and
// returns its output; a failure ends the test.
func grpcurl(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"-plaintext", "-max-time", "10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitUntil polls cond every 50ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
	}
}

// An operator's grpcurl lists, describes and health-checks a real node:
// NOT_SERVING while it is alone of three, SERVING once the cluster formed.
func TestGrpcurlAgainstARealNode(t *testing.T) {
	bin := grpcurlBin(t)
	c := LaunchCluster(t, "grpcurl", 3, ClusterOptions{StartOnly: 1})
	n1 := c.Nodes[0]
	waitUntil(t, 30*time.Second, "n1 answers health", func() bool {
		out, err := exec.Command(bin, "-plaintext", "-max-time", "2", n1.Addr, "grpc.health.v1.Health/Check").CombinedOutput()
		return err == nil && strings.Contains(string(out), "NOT_SERVING")
	})
	for _, nd := range c.Nodes[1:] {
		nd.Start()
	}
	for _, nd := range c.Nodes {
		nd.WaitHealthy(30 * time.Second)
	}
	list := grpcurl(t, bin, n1.Addr, "list")
	for _, s := range []string{"tandem.v1.KV", "tandem.v1.Admin", "tandem.v1.Duplication", "grpc.health.v1.Health"} {
		if !strings.Contains(list, s+"\n") {
			t.Fatalf("grpcurl list:\n%s\nwithout %s", list, s)
		}
	}
	if out := grpcurl(t, bin, n1.Addr, "describe", "tandem.v1.KV"); !strings.Contains(out, "rpc Get ( .tandem.v1.GetRequest ) returns ( .tandem.v1.GetResponse )") {
		t.Fatalf("grpcurl describe tandem.v1.KV:\n%s", out)
	}
	if out := grpcurl(t, bin, n1.Addr, "describe", "tandem.v1.SetRequest"); !strings.Contains(out, "hash_key") {
		t.Fatalf("grpcurl describe tandem.v1.SetRequest:\n%s", out)
	}
	for _, svc := range []string{"", "tandem.v1.KV", "tandem.v1.Admin", "tandem.v1.Duplication"} {
		waitUntil(t, 10*time.Second, "n1 reports "+svc+" SERVING", func() bool {
			out := grpcurl(t, bin, "-d", `{"service":"`+svc+`"}`, n1.Addr, "grpc.health.v1.Health/Check")
			return strings.Contains(out, `"SERVING"`)
		})
	}
}
