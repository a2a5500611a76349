package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/checkpoint"
	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server/servertest"
)

// BenchmarkCheckpoint measures the time from a duplication-priority request
// to a published checkpoint on the leader of a 3-replica partition, for an
// empty, a one-record and a 100 MiB partition. Each iteration first writes
// (untimed) so the request cannot be served by the previous checkpoint.
//
//	go test -run '^$' -bench BenchmarkCheckpoint -benchtime 20x ./server/
func BenchmarkCheckpoint(b *testing.B) {
	cl := servertest.MakeCluster(b, 3)
	cli := mustDialB(b, cl.Addrs()...)
	cases := []struct {
		name  string
		bytes int
	}{{"empty", 0}, {"one-record", 1}, {"100MiB", 100 << 20}}
	for _, tc := range cases {
		table := "bench_" + tc.name[:1]
		cl.CreateTable(table, 1, 3)
		tbl := mustTableB(b, cli, table)
		if tc.bytes > 0 {
			load(b, tbl, tc.bytes)
			settle(b, cl, table)
		}
		b.Run(tc.name, func(b *testing.B) {
			r := cl.Replica(cl.LeaderOf(table, 0), table, 0)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				advance(b, tbl, tc.bytes == 0, i)
				b.StartTimer()
				if _, err := r.Checkpoint(context.Background(), checkpoint.PurposeDuplication); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.DataSize())/(1<<20), "MiB")
		})
		if tc.bytes > 1 {
			// Baseline in the same run: what a checkpoint would cost if it
			// copied the partition's files instead of linking them.
			b.Run(tc.name+"-copy-baseline", func(b *testing.B) {
				r := cl.Replica(cl.LeaderOf(table, 0), table, 0)
				list := r.Catalog().List()
				src := list[len(list)-1]
				for i := 0; i < b.N; i++ {
					copyDir(b, src.Dir, filepath.Join(b.TempDir(), "copy"))
				}
			})
		}
	}
}

// copyDir copies every file of src into dst and fsyncs them.
func copyDir(b *testing.B, src, dst string) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		out.Sync()
		out.Close()
		in.Close()
	}
}

// advance moves the partition's decree on: a delete of an absent record
// keeps an empty partition empty; otherwise one small record is written.
func advance(b *testing.B, tbl *client.Table, keepEmpty bool, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if keepEmpty {
		err = tbl.Del(ctx, []byte("h"), []byte("absent"))
	} else {
		err = tbl.Set(ctx, []byte("h"), []byte(fmt.Sprintf("s%d", i)), []byte("v"))
	}
	if err != nil {
		b.Fatal(err)
	}
}

// load writes about n bytes in random 1 KiB values, 64 per MultiSet.
func load(b *testing.B, tbl *client.Table, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n/1024; i += 64 {
		kvs := make([]client.SortKeyValue, 64)
		for j := range kvs {
			val := make([]byte, 1024) // incompressible, so the size is real
			for k := range val {
				val[k] = byte(rng.Uint32())
			}
			kvs[j] = client.SortKeyValue{SortKey: []byte(fmt.Sprintf("s%09d", i+j)), Value: val}
		}
		if err := tbl.MultiSet(ctx, []byte(fmt.Sprintf("h%d", i/64)), kvs); err != nil {
			b.Fatal(err)
		}
	}
}

func mustDialB(b *testing.B, addrs ...string) *client.Client {
	c, err := client.Dial(context.Background(), addrs...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func mustTableB(b *testing.B, c *client.Client, name string) *client.Table {
	tbl, err := c.Table(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	return tbl
}

// settle waits until no replica of the table is flushing or compacting, so
// the measurement is of the checkpoint, not of the load's aftermath.
func settle(b *testing.B, cl *servertest.Cluster, table string) {
	busy := func() bool {
		for i := range cl.Nodes {
			r := cl.Replica(i, table, 0)
			if r == nil {
				continue
			}
			if r.Compacting() {
				return true
			}
		}
		return false
	}
	servertest.WaitFor(b, 5*time.Minute, "compactions settled", func() bool { return !busy() })
}
