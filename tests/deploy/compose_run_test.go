package deploy

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tandem-kv/tandem/tests/e2e"
)

// TestComposeAsProcesses runs deploy/compose.yaml without a container
// engine: every node service's command as a real tandem-server process on
// loopback, with the image's config file, then the setup service's script
// with tandem-shell, once every node answers /healthz (the compose file's
// service_healthy condition). Only what a container provides is swapped:
// each service name resolves to a 127.0.0.1 port, and --addr, --http and
// --data (from the image's config file) are overridden on the command line.
// It checks that setup duplicates users from east to west, that running it
// again changes nothing, and that a write on east reaches west.
func TestComposeAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six nodes")
	}
	p := loadCompose(t)
	bin := e2e.Binaries(t)
	addrs := map[string]string{}
	var names, pairs []string
	for _, nodes := range clusters {
		for _, n := range nodes {
			addrs[n] = e2e.FreeAddr(t)
			names = append(names, n)
			pairs = append(pairs, n+":7100", addrs[n])
		}
	}
	resolve := strings.NewReplacer(pairs...)
	imageConfig, _ := filepath.Abs("../../deploy/tandem.yaml")
	var https []string
	for _, n := range names {
		https = append(https, startService(t, bin, n, p.Services[n], resolve, imageConfig, addrs[n]))
	}
	for i, h := range https {
		waitHealthy(t, names[i], h)
	}

	east := strings.Join([]string{addrs["e1"], addrs["e2"], addrs["e3"]}, ",")
	for run := 1; run <= 2; run++ {
		out := runSetup(t, bin, p.Services["setup"], resolve)
		t.Logf("setup run %d:\n%s", run, out)
		if n := strings.Count(out, addrs["w1"]); n < 1 {
			t.Fatalf("setup run %d: no duplication to west (%s) in its output:\n%s", run, addrs["w1"], out)
		}
		if dups := shell(t, bin, east, "dup ls users"); strings.Count(dups, addrs["w1"]) != 1 {
			t.Fatalf("after setup run %d: want exactly one duplication to %s:\n%s", run, addrs["w1"], dups)
		}
	}

	shell(t, bin, east, "set users u1 name ann")
	west := strings.Join([]string{addrs["w1"], addrs["w2"], addrs["w3"]}, ",")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(filepath.Join(bin, "tandem-shell"), "--addr", west, "-e", "get users u1 name").CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "ann" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("u1 not on west after 60s: %v %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startService starts one node service's command as a process and returns
// its HTTP address.
func startService(t *testing.T, bin, name string, s types.ServiceConfig, resolve *strings.Replacer, imageConfig, addr string) string {
	t.Helper()
	httpAddr := e2e.FreeAddr(t)
	dir := t.TempDir()
	args := []string{}
	for _, a := range s.Command[1:] {
		if a == "/etc/tandem/tandem.yaml" {
			a = imageConfig
		}
		args = append(args, resolve.Replace(a))
	}
	args = append(args, "--addr", addr, "--http", httpAddr, "--data", filepath.Join(dir, "data"), "--raft-election-timeout", "1s")
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, s.Command[0]), args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, b[max(0, len(b)-3000):])
		}
		log.Close()
	})
	return httpAddr
}

// waitHealthy polls /healthz as the compose healthcheck does.
func waitHealthy(t *testing.T, name, httpAddr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after 60s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runSetup runs the setup service's entrypoint and script, with the
// binaries on PATH as in the image.
func runSetup(t *testing.T, bin string, s types.ServiceConfig, resolve *strings.Replacer) string {
	t.Helper()
	args := append(append([]string{}, s.Entrypoint[1:]...), resolve.Replace(s.Command[0]))
	cmd := exec.Command(s.Entrypoint[0], args...)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("setup: %v:\n%s", err, out)
	}
	return string(out)
}

func shell(t *testing.T, bin, addr, script string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "tandem-shell"), "--addr", addr, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("tandem-shell -e %q: %v:\n%s", script, err, out)
	}
	return string(out)
}
