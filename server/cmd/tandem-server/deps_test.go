package main

import (
	"os/exec"
	"strings"
	"testing"
)

// testingImporters may import package testing and still be linked into the
// server: hashicorp/raft's own cluster harness (its testing.go) carries no
// build tag, so every program that uses raft links package testing. Tandem's
// harnesses are separate packages (servertest, tests/...) that the binary
// never imports.
var testingImporters = map[string]bool{"github.com/hashicorp/raft": true}

// The server binary links no test harness: no zaptest, no test PKI, no
// in-process cluster, and no package of this module (or any other but
// raft) that imports testing.
func TestServerBinaryLinksNoTestHarness(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		deps++
		for _, banned := range []string{"go.uber.org/zap/zaptest", "/internal/testpki", "/servertest", "/tests/"} {
			if strings.Contains(pkg, banned) {
				t.Errorf("the server binary links %s", pkg)
			}
		}
		for _, imp := range imports {
			if imp == "testing" && !testingImporters[pkg] {
				t.Errorf("%s imports testing and is linked into the server binary", pkg)
			}
		}
	}
	if deps < 50 {
		t.Fatalf("go list -deps listed %d packages: %s", deps, out)
	}
}
