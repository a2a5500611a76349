package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

func mustDial(t *testing.T, addrs ...string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustTable(t *testing.T, c *client.Client, name string) *client.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tbl, err := c.Table(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSingleNodeRecordOperations(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 4, 1)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	c := ctx(t)

	if err := tbl.Set(c, []byte("user1"), []byte("name"), []byte("ann")); err != nil {
		t.Fatal(err)
	}
	if v, err := tbl.Get(c, []byte("user1"), []byte("name")); err != nil || string(v) != "ann" {
		t.Fatalf("get = %q, %v", v, err)
	}
	if _, err := tbl.Get(c, []byte("user1"), []byte("nope")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get absent: %v, want ErrNotFound", err)
	}
	kvs := []client.SortKeyValue{{SortKey: []byte("b"), Value: []byte("2")}, {SortKey: []byte("a"), Value: []byte("1")}, {SortKey: []byte("c"), Value: []byte("3")}}
	if err := tbl.MultiSet(c, []byte("user2"), kvs); err != nil {
		t.Fatal(err)
	}
	recs, err := tbl.MultiGet(c, []byte("user2"), [][]byte{[]byte("a"), []byte("zz"), []byte("c")})
	if err != nil || len(recs) != 2 || string(recs[1].Value) != "3" {
		t.Fatalf("multiget = %+v, %v", recs, err)
	}
	recs, err = tbl.ScanHashKey(c, []byte("user2"), 0)
	if err != nil || len(recs) != 3 {
		t.Fatalf("scan = %+v, %v", recs, err)
	}
	for i, want := range []string{"a", "b", "c"} {
		if string(recs[i].SortKey) != want {
			t.Fatalf("scan order: record %d has sort key %q, want %q", i, recs[i].SortKey, want)
		}
	}
	if err := tbl.Del(c, []byte("user2"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if n, err := tbl.Count(c); err != nil || n != 3 {
		t.Fatalf("count = %d, %v; want 3", n, err)
	}
}

func TestTTLExpiresRecords(t *testing.T) {
	// The node reads its clock from other goroutines (TTL checks, the
	// status sampler): the test moves it atomically.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := time.Unix(0, clock.Load())
	cl := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Now = func() time.Time { return time.Unix(0, clock.Load()) } })
	cl.CreateTable("ttl", 1, 1)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "ttl")
	c := ctx(t)
	if err := tbl.Set(c, []byte("h"), []byte("short"), []byte("v"), client.WithTTL(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Set(c, []byte("h"), []byte("forever"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Get(c, []byte("h"), []byte("short")); err != nil {
		t.Fatalf("fresh ttl record: %v", err)
	}
	clock.Store(now.Add(11 * time.Second).UnixNano())
	if _, err := tbl.Get(c, []byte("h"), []byte("short")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("expired record: %v, want ErrNotFound", err)
	}
	if n, err := tbl.Count(c); err != nil || n != 1 {
		t.Fatalf("count after expiry = %d, %v; want 1", n, err)
	}
}

func TestBadInputGetsTypedErrorsAndChangesNothing(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	cli := mustDial(t, cl.Addrs()...)
	tbl := mustTable(t, cli, "t")
	c := ctx(t)
	if err := tbl.Set(c, []byte("h"), []byte("s"), []byte("original")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		call    func() error
		want    error
		message string
	}{
		{"empty hash key", func() error { return tbl.Set(c, nil, []byte("s"), []byte("v")) }, client.ErrInvalidArgument, "hash key is empty"},
		{"key over 64 KiB", func() error {
			return tbl.Set(c, []byte("h"), bytes.Repeat([]byte("k"), 64<<10), []byte("v"))
		}, client.ErrInvalidArgument, "limit is 65536 bytes"},
		{"value over 4 MiB", func() error {
			return tbl.Set(c, []byte("h"), []byte("s"), bytes.Repeat([]byte("v"), 4<<20+1))
		}, client.ErrInvalidArgument, "limit is 4194304 bytes"},
		{"oversized value in multiset", func() error {
			return tbl.MultiSet(c, []byte("h"), []client.SortKeyValue{{SortKey: []byte("s"), Value: []byte("ok")}, {SortKey: []byte("t"), Value: bytes.Repeat([]byte("v"), 4<<20+1)}})
		}, client.ErrInvalidArgument, "kv.max_value_bytes"},
		{"empty multiget", func() error { _, err := tbl.MultiGet(c, []byte("h"), nil); return err }, client.ErrInvalidArgument, "sort key"},
		{"unknown table", func() error { _, err := cli.Table(c, "nope"); return err }, client.ErrTableNotFound, "nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.message)
			}
		})
	}
	if v, err := tbl.Get(c, []byte("h"), []byte("s")); err != nil || string(v) != "original" {
		t.Fatalf("stored record changed: %q, %v", v, err)
	}
	if n, _ := tbl.Count(c); n != 1 {
		t.Fatalf("count %d after rejected writes, want 1", n)
	}
}

func TestRuntimeConfigValidatesAndAppliesLimits(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 1, 1)
	cli := mustDial(t, cl.Addrs()...)
	c := ctx(t)
	for _, bad := range [][2]string{{"kv.max_value_bytes", "banana"}, {"kv.max_value_bytes", "-5"}, {"checkpoint.interval", "-5s"}, {"checkpoint.retain", "0"}, {"checkpoint.interval", "banana"}, {"raft.trailing_logs", "0"}, {"no.such.key", "1"}} {
		if _, err := cli.SetConfig(c, bad[0], bad[1]); err == nil {
			t.Fatalf("config set %s %s accepted", bad[0], bad[1])
		}
	}
	if _, err := cli.SetConfig(c, "kv.max_value_bytes", "10"); err != nil {
		t.Fatal(err)
	}
	tbl := mustTable(t, cli, "t")
	servertest.WaitFor(t, 5*time.Second, "limit applied", func() bool {
		err := tbl.Set(c, []byte("h"), []byte("s"), []byte("12345678901"))
		return errors.Is(err, client.ErrInvalidArgument)
	})
	entries, err := cli.GetConfig(c, "kv.max_value_bytes")
	if err != nil || len(entries) != 1 || entries[0].Value != "10" {
		t.Fatalf("config get = %+v, %v", entries, err)
	}
}

func TestWholeTableScanResumesAcrossPages(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 3, 1)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	c := ctx(t)
	want := map[string]bool{}
	for i := 0; i < 2500; i += 50 {
		var kvs []client.SortKeyValue
		for j := 0; j < 50; j++ {
			kvs = append(kvs, client.SortKeyValue{SortKey: []byte(fmt.Sprintf("s%04d", i+j)), Value: []byte("v")})
			want[fmt.Sprintf("h%d/s%04d", i%7, i+j)] = true
		}
		if err := tbl.MultiSet(c, []byte(fmt.Sprintf("h%d", i%7)), kvs); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	err := tbl.ScanAll(c, func(r client.Record) error {
		k := string(r.HashKey) + "/" + string(r.SortKey)
		if got[k] {
			return fmt.Errorf("record %s returned twice", k)
		}
		got[k] = true
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("scanned %d records (%v), want %d", len(got), err, len(want))
	}
}
