// Package deploy checks what deploy/ ships without a container runtime or
// a Kubernetes cluster: the Helm chart through helm lint and helm template
// (its manifests parsed strictly into Kubernetes' own API types), the
// compose file through the Compose Specification's loader, and the
// Dockerfile against the packages and paths the repository builds.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// helmVersion is the Helm the test installs when none is found; the
// Makefile's test-deploy target installs the same (HELM_VERSION).
const helmVersion = "v3.22.0"

const chartDir = "../../deploy/helm/tandem"

// helmBinary finds helm ($HELM, bin/helm, PATH) or installs it into bin/
// from the Go module proxy, skipping the test only when that fails.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(bin, "helm")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if h, err := exec.LookPath("helm"); err == nil {
		return h
	}
	t.Logf("helm not found: installing helm.sh/helm/v3/cmd/helm@%s into %s (minutes, once)", helmVersion, bin)
	cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("helm is not installed and could not be installed (%v): %s", err, lastLines(out, 5))
	}
	return local
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func runHelm(t *testing.T, helm string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// manifests are the objects helm template rendered, by kind.
type manifests struct {
	statefulSet *appsv1.StatefulSet
	services    map[string]*corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	configMap   *corev1.ConfigMap
}

// parseManifests decodes every document strictly into its API type: a
// field Kubernetes does not know fails the test.
func parseManifests(t *testing.T, out []byte) manifests {
	t.Helper()
	m := manifests{services: map[string]*corev1.Service{}}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		var obj any
		switch head.Kind {
		case "":
			continue
		case "StatefulSet":
			m.statefulSet = &appsv1.StatefulSet{}
			obj = m.statefulSet
		case "Service":
			obj = &corev1.Service{}
		case "PodDisruptionBudget":
			m.pdb = &policyv1.PodDisruptionBudget{}
			obj = m.pdb
		case "ConfigMap":
			m.configMap = &corev1.ConfigMap{}
			obj = m.configMap
		default:
			t.Fatalf("unexpected kind %s", head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s does not match the Kubernetes API: %v\n%s", head.Kind, err, doc)
		}
		if s, ok := obj.(*corev1.Service); ok {
			m.services[s.Name] = s
		}
	}
	return m
}

func TestHelmChart(t *testing.T) {
	helm := helmBinary(t)
	tests := []struct {
		name     string
		set      []string
		replicas int
		tls      bool
	}{
		{name: "defaults", replicas: 3},
		{name: "tls and 5 replicas", set: []string{"tls.enabled=true", "tls.secretName=tandem-tls", "replicas=5"}, replicas: 5, tls: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sets []string
			for _, s := range tt.set {
				sets = append(sets, "--set", s)
			}
			runHelm(t, helm, append([]string{"lint", "--strict", chartDir}, sets...)...)
			out := runHelm(t, helm, append([]string{"template", "db", chartDir, "--namespace", "kv"}, sets...)...)
			m := parseManifests(t, out)
			checkStatefulSet(t, m, tt.replicas, tt.tls)
			checkServices(t, m)
			checkPDB(t, m)
		})
	}
}

// checkStatefulSet checks the pods' flags, probes, volumes and security.
func checkStatefulSet(t *testing.T, m manifests, replicas int, tls bool) {
	t.Helper()
	s := m.statefulSet
	if s == nil {
		t.Fatal("no StatefulSet rendered")
	}
	if s.Spec.Replicas == nil || int(*s.Spec.Replicas) != replicas {
		t.Errorf("replicas %v, want %d", s.Spec.Replicas, replicas)
	}
	if s.Spec.ServiceName != "db-tandem-headless" || s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("serviceName %q, podManagementPolicy %q: want db-tandem-headless, Parallel", s.Spec.ServiceName, s.Spec.PodManagementPolicy)
	}
	pod := s.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	flags := flagMap(t, c.Command, c.Args)
	var peers []string
	for i := range replicas {
		pod := fmt.Sprintf("db-tandem-%d", i)
		peers = append(peers, fmt.Sprintf("%s=%s.db-tandem-headless.kv.svc.cluster.local:7100", pod, pod))
	}
	want := map[string]string{
		"config":         "/etc/tandem/config/tandem.yaml",
		"id":             "$(POD_NAME)",
		"cluster":        "db",
		"addr":           "0.0.0.0:7100",
		"http":           "0.0.0.0:7180",
		"advertise-addr": "$(POD_NAME).db-tandem-headless.kv.svc.cluster.local:7100",
		"peers":          strings.Join(peers, ","),
		"data":           "/var/lib/tandem/data",
	}
	if tls {
		want["tls-cert"], want["tls-key"], want["tls-ca"] = "/etc/tandem/tls/tls.crt", "/etc/tandem/tls/tls.key", "/etc/tandem/tls/ca.crt"
	}
	for k, v := range want {
		if flags[k] != v {
			t.Errorf("--%s=%q, want %q", k, flags[k], v)
		}
	}
	if len(flags) != len(want) {
		t.Errorf("flags %v, want exactly %v", flags, want)
	}
	if len(c.Env) == 0 || c.Env[0].Name != "POD_NAME" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("env %+v: want POD_NAME from metadata.name first", c.Env)
	}
	checkProbes(t, c)
	checkVolumes(t, s, c, tls)
	checkSecurity(t, pod, c)
	if m.configMap == nil || m.configMap.Name != "db-tandem" || !strings.Contains(m.configMap.Data["tandem.yaml"], "log-format: json") {
		t.Errorf("ConfigMap %+v: want db-tandem with tandem.yaml from the config values", m.configMap)
	}
}

// flagMap turns tandem-server's --key=value arguments into a map.
func flagMap(t *testing.T, command, args []string) map[string]string {
	t.Helper()
	if !slices.Equal(command, []string{"tandem-server"}) {
		t.Fatalf("command %q, want [tandem-server]", command)
	}
	flags := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			t.Fatalf("argument %q: want --key=value", a)
		}
		if _, dup := flags[k]; dup {
			t.Fatalf("--%s given twice", k)
		}
		flags[k] = v
	}
	return flags
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v: want GET /healthz on port http", name, p)
		}
	}
	var httpPort int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if httpPort != 7180 {
		t.Errorf("container port http = %d, want 7180 (the --http port)", httpPort)
	}
}

func checkVolumes(t *testing.T, s *appsv1.StatefulSet, c corev1.Container, tls bool) {
	t.Helper()
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	if mounts["data"].MountPath != "/var/lib/tandem" {
		t.Errorf("data mounted at %q, want /var/lib/tandem (holding --data)", mounts["data"].MountPath)
	}
	if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "data" ||
		s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().IsZero() {
		t.Errorf("volumeClaimTemplates %+v: want one named data with a size", s.Spec.VolumeClaimTemplates)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range s.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	if cm := vols["config"].ConfigMap; cm == nil || cm.Name != "db-tandem" || mounts["config"].MountPath != "/etc/tandem/config" {
		t.Errorf("config volume %+v mounted at %q: want ConfigMap db-tandem at /etc/tandem/config", vols["config"], mounts["config"].MountPath)
	}
	sec, mounted := vols["tls"].Secret, mounts["tls"]
	switch {
	case !tls && (sec != nil || mounted.Name != ""):
		t.Errorf("TLS off but a tls volume is there: %+v", vols["tls"])
	case tls && (sec == nil || sec.SecretName != "tandem-tls" || mounted.MountPath != "/etc/tandem/tls" || !mounted.ReadOnly):
		t.Errorf("tls volume %+v mounted %+v: want Secret tandem-tls read-only at /etc/tandem/tls", vols["tls"], mounted)
	case tls && (sec.DefaultMode == nil || *sec.DefaultMode&0o040 == 0):
		t.Errorf("tls secret mode %v: the fsGroup must be able to read it", sec.DefaultMode)
	}
}

func checkSecurity(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.FSGroup == nil {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and an fsGroup", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container securityContext %+v: want no privilege escalation and a read-only root", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu requests and a memory limit", c.Resources)
	}
	aa := pod.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v: want soft pod anti-affinity per host", aa)
	}
}

func checkServices(t *testing.T, m manifests) {
	t.Helper()
	h, c := m.services["db-tandem-headless"], m.services["db-tandem"]
	if h == nil || h.Spec.ClusterIP != corev1.ClusterIPNone || !h.Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service %+v: want clusterIP None and publishNotReadyAddresses", h)
	}
	if c == nil || c.Spec.ClusterIP == corev1.ClusterIPNone || c.Spec.PublishNotReadyAddresses {
		t.Errorf("client Service %+v: want a load-balanced one over ready pods", c)
	}
	for _, s := range []*corev1.Service{h, c} {
		if s == nil || s.Spec.Selector["app.kubernetes.io/instance"] != "db" || len(s.Spec.Ports) != 2 {
			t.Errorf("Service %+v: want the release's pods on the rpc and http ports", s)
		}
	}
}

func checkPDB(t *testing.T, m manifests) {
	t.Helper()
	p := m.pdb
	if p == nil || p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 || p.Spec.Selector == nil ||
		p.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "db" {
		t.Errorf("PodDisruptionBudget %+v: want maxUnavailable 1 over the release's pods", p)
	}
}

// TestHelmChartRefuses checks the values the chart rejects at render time.
func TestHelmChartRefuses(t *testing.T) {
	helm := helmBinary(t)
	for _, tt := range []struct{ set, want string }{
		{"tls.enabled=true", "tls.enabled needs tls.secretName"},
		{"antiAffinity.type=sometimes", "antiAffinity.type must be soft or hard"},
		{"replicas=0", "replicas must be at least 1"},
	} {
		out, err := exec.Command(helm, "template", "db", chartDir, "--set", tt.set).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(string(out), tt.want) {
			t.Errorf("--set %s: err %v, output %s: want a failure saying %q", tt.set, err, out, tt.want)
		}
	}
}
