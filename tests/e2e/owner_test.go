package e2e

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// selfNode stands for this test process, so OwnedBy can find the sockets
// the test itself dials.
func selfNode() *Node {
	return &Node{ID: "self", cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}, exited: make(chan struct{})}
}

func TestBlackholeFromCutsOnlyTheChosenProcesses(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	before := dialProxy(t, p)
	if err := roundTrip(before, "hello", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	other := &Node{ID: "other", cmd: &exec.Cmd{Process: &os.Process{Pid: 1}}, exited: make(chan struct{})}
	p.BlackholeFrom(OwnedBy(other))
	if err := roundTrip(before, "still", 2*time.Second); err != nil {
		t.Fatalf("a connection of a process not chosen was cut: %v", err)
	}
	p.BlackholeFrom(OwnedBy(selfNode()))
	if err := roundTrip(before, "cut", 300*time.Millisecond); err == nil {
		t.Fatal("an existing connection of the chosen process still passes")
	}
	if err := roundTrip(dialProxy(t, p), "cut", 300*time.Millisecond); err == nil {
		t.Fatal("a new connection of the chosen process passes")
	}
	p.Heal()
	if err := roundTrip(dialProxy(t, p), "healed", 2*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

func TestOwnedByFindsTheSocketsOwner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !OwnedBy(selfNode())(c.LocalAddr()) {
		t.Fatalf("OwnedBy(this process) does not own %v", c.LocalAddr())
	}
	if OwnedBy(&Node{ID: "gone"})(c.LocalAddr()) {
		t.Fatal("a node without a process owns a socket")
	}
}
