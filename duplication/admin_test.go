package duplication

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// dup add records the duplication, has the remote create its follower
// table (whose leaders then pull), and activates it; dup rm drops it,
// detaches the remote table and, once the metadata says removed, the
// floors go; a second dup rm only tells the remote again.
func TestAddThenRemove(t *testing.T) {
	src := mustNewCluster(t, "east", clusterOptions{refresh: 20 * time.Millisecond})
	dst := mustNewCluster(t, "west", clusterOptions{})
	srcReps := src.mustOpenTable("t", 2)
	write(t, srcReps[0], 0, 10)
	write(t, srcReps[1], 10, 10)
	ctx := context.Background()
	info, err := src.node.Add(ctx, Table{Name: "t", Partitions: 2}, dst.addr())
	if err != nil {
		t.Fatal(err)
	}
	if info.State != string(StateActive) || info.RemoteCluster != "west" {
		t.Fatalf("added: %v", info)
	}
	d := &dupPair{id: info.Id, src: src, dst: dst, srcReps: srcReps}
	dst.mu.Lock()
	d.dstReps = dst.replicas["t"]
	dst.mu.Unlock()
	waitFor(t, "the remote's data equal to the source's", d.caughtUp)
	waitFor(t, "dup ls saying every partition is in LOG", func() bool {
		list := src.node.List(ctx, "")
		return len(list) == 1 && list[0].Progress == "LOG:2"
	})
	if _, err := src.node.Add(ctx, Table{Name: "t", Partitions: 2}, dst.addr()); !errors.Is(err, ErrDupExists) {
		t.Fatalf("a second dup add to the same remote: %v, want ErrDupExists", err)
	}

	if _, err := src.node.Remove(ctx, "t", info.Id); err != nil {
		t.Fatal(err)
	}
	if _, following := dst.meta.follower("t"); following {
		t.Fatal("the remote's table still follows after dup rm")
	}
	waitFor(t, "floors released", func() bool {
		_, ok := srcReps[0].Confirmed()[info.Id]
		return !ok
	})
	again, err := src.node.Remove(ctx, "t", info.Id)
	if err != nil || again.State != string(StateRemoved) {
		t.Fatalf("dup rm again: %v, %v", again, err)
	}
	if _, err := src.node.Remove(ctx, "t", "nope"); !errors.Is(err, ErrDupNotFound) {
		t.Fatalf("dup rm of an unknown id: %v, want ErrDupNotFound", err)
	}
}

// A dup add the remote refuses, or cannot answer, leaves no record.
func TestFailedAddLeavesNothing(t *testing.T) {
	src := mustNewCluster(t, "east", clusterOptions{})
	dst := mustNewCluster(t, "west", clusterOptions{})
	src.mustOpenTable("t", 1)
	dst.mustOpenTable("t", 1) // an ordinary table of that name
	ctx := context.Background()
	if _, err := src.node.Add(ctx, Table{Name: "t", Partitions: 1}, dst.addr()); !errors.Is(err, ErrRemoteConflict) {
		t.Fatalf("dup add onto a table of the remote's: %v, want ErrRemoteConflict", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := src.node.Add(cctx, Table{Name: "t", Partitions: 1}, closed); !errors.Is(err, ErrRemoteUnreachable) {
		t.Fatalf("dup add to a closed port: %v, want ErrRemoteUnreachable", err)
	}
	if _, err := src.node.Add(ctx, Table{Name: "t", Partitions: 1}, "no-port"); !errors.Is(err, ErrBadRemoteAddr) {
		t.Fatalf("dup add to %q: %v, want ErrBadRemoteAddr", "no-port", err)
	}
	if dups := src.meta.Duplications(); len(dups) != 0 {
		t.Fatalf("failed adds left %v", dups)
	}
}
