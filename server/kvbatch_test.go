package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
)

// keysOf returns n hash keys of partition p of a table with parts
// partitions.
func keysOf(p, parts uint32, n int) [][]byte {
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		k := []byte(fmt.Sprintf("key%d", i))
		if tpb.PartitionOf(k, parts) == p {
			out = append(out, k)
		}
	}
	return out
}

// A batch call refuses an invalid operation in its own result and applies
// or answers the others; what concerns the whole call fails the call.
func TestBatchCallsRefuseOperationsAlone(t *testing.T) {
	cl := server.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	conn, err := grpc.NewClient(cl.Addrs()[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kv := tpb.NewKVClient(conn)
	c := ctx(t)
	mine, other := keysOf(0, 2, 3), keysOf(1, 2, 1)[0]

	w, err := kv.BatchWrite(c, &tpb.BatchWriteRequest{Table: "t", Partition: 0, Writes: []*tpb.BatchWrite{
		{HashKey: mine[0], SortKey: []byte("s"), Value: []byte("a")},
		{HashKey: other, SortKey: []byte("s"), Value: []byte("wrong partition")},
		{HashKey: mine[1], SortKey: []byte("s"), Value: bytes.Repeat([]byte("v"), 4<<20+1)},
		{HashKey: mine[2], SortKey: []byte("s"), Value: []byte("c")},
		{HashKey: mine[2], SortKey: []byte("s"), Del: true},
		{HashKey: nil, SortKey: []byte("s"), Value: []byte("no hash key")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code codes.Code
		msg  string
	}{{codes.OK, ""}, {codes.InvalidArgument, "belongs to partition 1"}, {codes.InvalidArgument, "kv.max_value_bytes"}, {codes.OK, ""}, {codes.OK, ""}, {codes.InvalidArgument, "hash key is empty"}}
	res := w.GetResults()
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for i, r := range res {
		if codes.Code(r.Code) != want[i].code || !strings.Contains(r.Message, want[i].msg) {
			t.Errorf("write %d: %v %q, want %v mentioning %q", i, codes.Code(r.Code), r.Message, want[i].code, want[i].msg)
		}
	}
	if res[0].Decree == 0 || res[0].Decree != res[3].Decree || res[3].Decree != res[4].Decree {
		t.Errorf("valid writes' decrees %d %d %d, want one raft entry", res[0].Decree, res[3].Decree, res[4].Decree)
	}

	g, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Partition: 0, Gets: []*tpb.GetRequest{
		{HashKey: mine[0], SortKey: []byte("s")},
		{HashKey: mine[1], SortKey: []byte("s")},
		{HashKey: mine[2], SortKey: []byte("s")},
		{HashKey: other, SortKey: []byte("s")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	gr := g.GetResults()
	switch {
	case len(gr) != 4:
		t.Fatalf("%d get results, want 4", len(gr))
	case !gr[0].Found || string(gr[0].Value) != "a":
		t.Errorf("get 0 = %v, want a", gr[0])
	case gr[1].Found || gr[2].Found:
		t.Errorf("refused or deleted records found: %v %v", gr[1], gr[2])
	case codes.Code(gr[3].Code) != codes.InvalidArgument:
		t.Errorf("get of another partition's key: %v, want InvalidArgument", gr[3])
	}

	whole := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"empty write batch", func() error {
			_, err := kv.BatchWrite(c, &tpb.BatchWriteRequest{Table: "t"})
			return err
		}, codes.InvalidArgument},
		{"empty get batch", func() error {
			_, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t"})
			return err
		}, codes.InvalidArgument},
		{"more than 10000 operations", func() error {
			gets := make([]*tpb.GetRequest, 10001)
			for i := range gets {
				gets[i] = &tpb.GetRequest{HashKey: mine[0]}
			}
			_, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Gets: gets})
			return err
		}, codes.InvalidArgument},
		{"partition out of range", func() error {
			_, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Partition: 2, Gets: []*tpb.GetRequest{{HashKey: mine[0]}}})
			return err
		}, codes.InvalidArgument},
		{"unknown table", func() error {
			_, err := kv.BatchWrite(c, &tpb.BatchWriteRequest{Table: "nope", Writes: []*tpb.BatchWrite{{HashKey: mine[0], Value: []byte("x")}}})
			return err
		}, codes.NotFound},
	}
	for _, tc := range whole {
		if err := tc.call(); status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
	}
}

// Many concurrent SDK calls share batched calls on a replicated table and
// every one of them gets its own answer.
func TestConcurrentCallsShareBatches(t *testing.T) {
	cl := server.MakeCluster(t, 3)
	cl.CreateTable("t", 2, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	c := ctx(t)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				hk := []byte(fmt.Sprintf("w%d-%d", w, i))
				if err := tbl.Set(c, hk, []byte("s"), hk); err != nil {
					errs <- err
					return
				}
				if i%2 == 1 {
					if err := tbl.Del(c, hk, []byte("s")); err != nil {
						errs <- err
						return
					}
				}
				v, err := tbl.Get(c, hk, []byte("s"))
				switch {
				case i%2 == 1 && err == nil:
					errs <- fmt.Errorf("%s: deleted record read back", hk)
					return
				case i%2 == 0 && (err != nil || !bytes.Equal(v, hk)):
					errs <- fmt.Errorf("%s: get = %q, %v", hk, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := tbl.Count(c); err != nil || n != writers*each/2 {
		t.Fatalf("count = %d, %v; want %d", n, err, writers*each/2)
	}
}
