//go:build failpoints

package replica

// The gofail markers ("// gofail: var name struct{}" at the FSM apply and
// snapshot install in this package, at the raft log write in logdb, at
// checkpoint publish and GC in checkpoint) are comments in the normal
// build. A fault-test build rewrites them with `gofail enable` into calls
// to the gofail runtime (see tests/e2e/failpoints.go); this file, built
// only with the failpoints tag, keeps that runtime in go.mod.
import _ "go.etcd.io/gofail/runtime"
