package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No container engine runs where these tests run, so the image is never
// built here: this checks the Dockerfile against what the repository
// builds (packages, binaries, paths, the Go and Debian versions) instead.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	op   string
	args string
}

// stages splits the Dockerfile into its stages (the ARGs before the first
// FROM are stage 0's prelude).
func dockerStages(t *testing.T) [][]instruction {
	t.Helper()
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\\\n`).ReplaceAllString(string(b), " ")
	stages := [][]instruction{nil}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(op), strings.Join(strings.Fields(args), " ")}
		if in.op == "FROM" && len(find(stages[len(stages)-1], "FROM")) > 0 {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(stages))
	}
	return stages
}

func find(stage []instruction, op string) []string {
	var out []string
	for _, in := range stage {
		if in.op == op {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfileBuildStage(t *testing.T) {
	build := dockerStages(t)[0]
	gomod, _ := os.ReadFile("../../go.mod")
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if !slices.Contains(find(build, "ARG"), "GO_VERSION="+string(goVersion[1])) {
		t.Errorf("ARG GO_VERSION: want go.mod's %s, got %q", goVersion[1], find(build, "ARG"))
	}
	if from := find(build, "FROM"); len(from) != 1 || from[0] != "golang:${GO_VERSION}-bookworm AS build" {
		t.Errorf("build stage FROM %q: want golang:${GO_VERSION}-bookworm AS build", from)
	}
	runs := strings.Join(find(build, "RUN"), "\n")
	if !strings.Contains(runs, "apt-get install -y --no-install-recommends librocksdb-dev") {
		t.Errorf("build stage does not install librocksdb-dev:\n%s", runs)
	}
	built := regexp.MustCompile(`go build [^&]*-o /out/(\S+) (\./\S+)`).FindAllStringSubmatch(runs, -1)
	want := makefileBinaries(t)
	got := map[string]string{}
	for _, m := range built {
		got[m[1]] = m[2]
	}
	for _, name := range []string{"tandem-server", "tandem-shell", "tandem-verify"} {
		if got[name] == "" || got[name] != want[name] {
			t.Errorf("image builds %s from %q; the Makefile builds it from %q", name, got[name], want[name])
		}
	}
	for name, pkg := range got {
		out, err := exec.Command("go", "list", "-f", "{{.Name}}", "../../"+pkg).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "main" {
			t.Errorf("%s: %s is no main package of the module: %v %s", name, pkg, err, out)
		}
	}
	for _, c := range find(build, "COPY") {
		checkCopySources(t, c)
	}
}

// makefileBinaries maps each binary `make build` makes to its package.
func makefileBinaries(t *testing.T) map[string]string {
	t.Helper()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`\$\(GO\) build -o \$\(BIN\)/(\S+) (\./\S+)`).FindAllStringSubmatch(string(mk), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// checkCopySources checks a COPY from the build context names files that
// exist in the repository.
func checkCopySources(t *testing.T, args string) {
	t.Helper()
	if strings.HasPrefix(args, "--from=") {
		return
	}
	f := strings.Fields(args)
	for _, src := range f[:len(f)-1] {
		if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
			t.Errorf("COPY %s: %v", args, err)
		}
	}
}

func TestDockerfileRuntimeStage(t *testing.T) {
	st := dockerStages(t)
	run := st[1]
	if from := find(run, "FROM"); len(from) != 1 || from[0] != "debian:bookworm-slim" {
		t.Errorf("runtime FROM %q, want debian:bookworm-slim", from)
	}
	runs := strings.Join(find(run, "RUN"), "\n")
	lib := rocksdbRuntimePackage(t)
	if !strings.Contains(runs, "--no-install-recommends "+lib+" curl") {
		t.Errorf("runtime stage should install %s (what librocksdb-dev links against) and curl (HEALTHCHECK):\n%s", lib, runs)
	}
	if users := find(run, "USER"); len(users) != 1 || strings.HasPrefix(users[0], "0") || strings.HasPrefix(users[0], "root") {
		t.Errorf("USER %q: want one non-root user", users)
	}
	if !strings.Contains(runs, "useradd --uid 10001") || find(run, "USER")[0] != "10001:10001" {
		t.Errorf("want user 10001 created and used (the Helm chart's runAsUser)")
	}
	for _, c := range find(run, "COPY") {
		checkCopySources(t, c)
		if strings.HasPrefix(c, "--from=build") && !strings.Contains(c, "/out/tandem-server /out/tandem-shell /out/tandem-verify /usr/local/bin/") {
			t.Errorf("COPY %s: want the three binaries into /usr/local/bin", c)
		}
	}
	hc := find(run, "HEALTHCHECK")
	if len(hc) != 1 || !strings.Contains(hc[0], "/healthz") {
		t.Errorf("HEALTHCHECK %q: want one on /healthz", hc)
	}
	checkImageConfig(t, run)
}

// checkImageConfig checks the image's config file, volume, ports and command
// agree with each other.
func checkImageConfig(t *testing.T, run []instruction) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/tandem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]string
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(find(run, "COPY"), "deploy/tandem.yaml /etc/tandem/tandem.yaml") {
		t.Errorf("deploy/tandem.yaml is not copied to /etc/tandem/tandem.yaml")
	}
	if cmd := find(run, "CMD"); len(cmd) != 1 || cmd[0] != `["tandem-server", "--config", "/etc/tandem/tandem.yaml"]` {
		t.Errorf("CMD %q: want tandem-server --config /etc/tandem/tandem.yaml", cmd)
	}
	if vol := find(run, "VOLUME"); len(vol) != 1 || vol[0] != `["/var/lib/tandem"]` || !strings.HasPrefix(cfg["data"], "/var/lib/tandem/") {
		t.Errorf("VOLUME %q and data %q: want the data directory inside the volume /var/lib/tandem", vol, cfg["data"])
	}
	if cfg["addr"] != "0.0.0.0:7100" || cfg["http"] != "0.0.0.0:7180" || !slices.Contains(find(run, "EXPOSE"), "7100 7180") {
		t.Errorf("addr %q http %q EXPOSE %q: want 0.0.0.0:7100 and 0.0.0.0:7180, both exposed", cfg["addr"], cfg["http"], find(run, "EXPOSE"))
	}
}

// rocksdbRuntimePackage names the Debian package of the RocksDB library
// librocksdb-dev links against here (librocksdb7.8 on bookworm).
func rocksdbRuntimePackage(t *testing.T) string {
	t.Helper()
	const bookworm = "librocksdb7.8"
	osr, _ := os.ReadFile("/etc/os-release")
	if !strings.Contains(string(osr), "VERSION_CODENAME=bookworm") {
		t.Logf("not on Debian bookworm: assuming %s", bookworm)
		return bookworm
	}
	out, err := exec.Command("dpkg-query", "-W", "-f=${Depends}", "librocksdb-dev").Output()
	if err != nil {
		t.Logf("dpkg-query librocksdb-dev: %v: assuming %s", err, bookworm)
		return bookworm
	}
	m := regexp.MustCompile(`librocksdb\d+\.\d+`).FindString(string(out))
	if m == "" {
		t.Fatalf("librocksdb-dev depends on %q: no librocksdbX.Y", out)
	}
	return m
}

func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		for _, need := range []string{"go.mod", "go.sum", "server", "tools", "client", "proto", "deploy/tandem.yaml"} {
			if ok, _ := filepath.Match(p, need); ok || p == need || strings.HasPrefix(need, p+"/") {
				t.Errorf("dockerignore pattern %q excludes %s, which the build needs", p, need)
			}
		}
	}
}
