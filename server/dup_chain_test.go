package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// A chain through real servers: the follower table's cluster adds the
// onward duplication (refused before chains), the third cluster loads its
// base from the middle and follows it in LOG; a duplication closing the
// cycle is refused with client.ErrDupCycle, which leaves nothing behind;
// the middle's dup ls shows both directions.
func TestChainInProcess(t *testing.T) {
	east := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "east" })
	west := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	south := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "south" })
	east.CreateTable("t", 2, 1)
	eastCli, westCli, southCli := mustDial(t, east.Addrs()...), mustDial(t, west.Addrs()...), mustDial(t, south.Addrs()...)
	eastTbl := mustTable(t, eastCli, "t")
	writeN(t, eastTbl, 0, 50)
	first, err := eastCli.AddDuplication(ctx(t), "t", west.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	waitAllLog(t, eastCli, "t", first.Id)
	onward, err := westCli.AddDuplication(ctx(t), "t", south.Addrs()[0])
	if err != nil {
		t.Fatalf("dup add on the follower's cluster: %v", err)
	}
	waitAllLog(t, westCli, "t", onward.Id)
	writeN(t, eastTbl, 50, 120)
	waitSame(t, eastTbl, mustTable(t, southCli, "t"), "south follows east through west")

	_, err = southCli.AddDuplication(ctx(t), "t", east.Addrs()[0])
	if !errors.Is(err, client.ErrDupCycle) || !errors.Is(err, client.ErrAlreadyExists) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("dup add south → east: %v, want ErrDupCycle", err)
	}
	if ls, err := southCli.ListDuplications(ctx(t), "t"); err != nil || len(ls) != 1 || ls[0].State != "following" {
		t.Fatalf("south's dup ls after the refused add: %+v %v", ls, err)
	}
	ls, err := westCli.ListDuplications(ctx(t), "t")
	if err != nil || len(ls) != 2 {
		t.Fatalf("west's dup ls: %+v %v", ls, err)
	}
	byID := map[string]string{ls[0].Id: ls[0].State, ls[1].Id: ls[1].State}
	if byID[first.Id] != "following" || byID[onward.Id] != "active" {
		t.Fatalf("west's dup ls states %v, want %s following and %s active", byID, first.Id, onward.Id)
	}
}
