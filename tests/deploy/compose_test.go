package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tandem-kv/tandem/tests/e2e"
)

const composeFile = "../../deploy/compose.yaml"

// clusters are the compose file's node services by cluster.
var clusters = map[string][]string{"east": {"e1", "e2", "e3"}, "west": {"w1", "w2", "w3"}}

// loadCompose loads deploy/compose.yaml as docker compose does: schema
// validation, interpolation, merge keys, path resolution, and the
// consistency checks (depends_on targets, declared volumes).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile}, cli.WithName("tandem"), cli.WithResolvedPaths(true), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return p
}

var (
	serverFlagsOnce sync.Once
	serverFlagNames map[string]bool
	serverFlagsErr  error
)

// serverFlags lists tandem-server's flags as its -h prints them, from a
// binary built from this tree.
func serverFlags(t *testing.T) map[string]bool {
	t.Helper()
	serverFlagsOnce.Do(func() {
		bin := filepath.Join(e2e.Binaries(t), "tandem-server")
		out, err := exec.Command(bin, "-h").CombinedOutput()
		if err != nil {
			serverFlagsErr = fmt.Errorf("tandem-server -h: %v: %s", err, out)
			return
		}
		serverFlagNames = map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			if name, ok := strings.CutPrefix(line, "  --"); ok {
				serverFlagNames[strings.Fields(name)[0]] = true
			}
		}
	})
	if serverFlagsErr != nil || len(serverFlagNames) < 10 {
		t.Fatalf("tandem-server's flags: %v (found %v)", serverFlagsErr, serverFlagNames)
	}
	return serverFlagNames
}

// serverArgs parses a tandem-server command line of separate "--key"
// "value" words into a map, checking each key is a tandem-server flag.
func serverArgs(t *testing.T, known map[string]bool, cmd []string) map[string]string {
	t.Helper()
	if len(cmd) == 0 || cmd[0] != "tandem-server" || len(cmd)%2 != 1 {
		t.Fatalf("command %q: want tandem-server followed by --key value pairs", cmd)
	}
	flags := map[string]string{}
	for i := 1; i < len(cmd); i += 2 {
		k, ok := strings.CutPrefix(cmd[i], "--")
		if !ok || !known[k] {
			t.Fatalf("command %q: %q is no tandem-server flag", cmd, cmd[i])
		}
		flags[k] = cmd[i+1]
	}
	return flags
}

func TestComposeNodes(t *testing.T) {
	p := loadCompose(t)
	known := serverFlags(t)
	root, _ := filepath.Abs("../..")
	published := map[string]string{}
	volumes := map[string]string{}
	for cluster, nodes := range clusters {
		var peers []string
		for _, n := range nodes {
			peers = append(peers, n+"="+n+":7100")
		}
		for _, n := range nodes {
			s, ok := p.Services[n]
			if !ok {
				t.Fatalf("no service %s", n)
			}
			flags := serverArgs(t, known, s.Command)
			want := map[string]string{"config": "/etc/tandem/tandem.yaml", "cluster": cluster, "id": n, "advertise-addr": n + ":7100", "peers": strings.Join(peers, ",")}
			if fmt.Sprint(flags) != fmt.Sprint(want) {
				t.Errorf("%s: flags %v, want %v", n, flags, want)
			}
			checkImage(t, n, s, root)
			if s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, "http://127.0.0.1:7180/healthz") {
				t.Errorf("%s: healthcheck %+v: want /healthz on the node's HTTP port", n, s.HealthCheck)
			}
			if len(s.Volumes) != 1 || s.Volumes[0].Target != "/var/lib/tandem" || s.Volumes[0].Type != types.VolumeTypeVolume {
				t.Errorf("%s: volumes %+v: want one named volume at /var/lib/tandem", n, s.Volumes)
			} else if other, dup := volumes[s.Volumes[0].Source]; dup {
				t.Errorf("%s and %s share volume %s", n, other, s.Volumes[0].Source)
			} else {
				volumes[s.Volumes[0].Source] = n
			}
			if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" || s.Ports[0].Target != 7180 {
				t.Errorf("%s: ports %+v: want its HTTP port on 127.0.0.1 only", n, s.Ports)
			} else if other, dup := published[s.Ports[0].Published]; dup {
				t.Errorf("%s and %s publish host port %s", n, other, s.Ports[0].Published)
			} else {
				published[s.Ports[0].Published] = n
			}
		}
	}
}

// checkImage checks a service runs the image built from deploy/Dockerfile
// at the repository root.
func checkImage(t *testing.T, name string, s types.ServiceConfig, root string) {
	t.Helper()
	if s.Image != "tandem:dev" || s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("%s: image %q build %+v: want tandem:dev from deploy/Dockerfile at %s", name, s.Image, s.Build, root)
		return
	}
	if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestComposeSetup(t *testing.T) {
	p := loadCompose(t)
	root, _ := filepath.Abs("../..")
	s, ok := p.Services["setup"]
	if !ok {
		t.Fatal("no service setup")
	}
	checkImage(t, "setup", s, root)
	if s.Restart != types.RestartPolicyNo {
		t.Errorf("setup restart %q, want no (one shot)", s.Restart)
	}
	for _, nodes := range clusters {
		for _, n := range nodes {
			if d, ok := s.DependsOn[n]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("setup depends on %s: %+v, want condition service_healthy", n, d)
			}
		}
	}
	if !slices.Equal(s.Entrypoint, []string{"/bin/sh", "-ec"}) || len(s.Command) != 1 {
		t.Fatalf("setup entrypoint %q command %q: want /bin/sh -ec SCRIPT", s.Entrypoint, s.Command)
	}
	script := s.Command[0]
	for _, want := range []string{`east="tandem-shell --addr e1:7100,e2:7100,e3:7100"`, "$east -e 'create users", "$east -e 'dup add users w1:7100'"} {
		if !strings.Contains(script, want) {
			t.Errorf("setup script lacks %q:\n%s", want, script)
		}
	}
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("setup script: sh -n: %v: %s", err, out)
	}
}
