package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server/servertest"
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
	cl := servertest.MakeCluster(t, 1)
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

// untilKnown runs an idempotent write again while its outcome is unknown
// (ErrAmbiguous: a leader change under load, with the tests' short raft
// timeouts); the application, knowing the write is idempotent, may.
func untilKnown(write func() error) error {
	for {
		if err := write(); !errors.Is(err, client.ErrAmbiguous) {
			return err
		}
	}
}

// Many concurrent SDK calls share batched calls on a replicated table and
// every one of them gets its own answer.
func TestConcurrentCallsShareBatches(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
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
				if err := untilKnown(func() error { return tbl.Set(c, hk, []byte("s"), hk) }); err != nil {
					errs <- err
					return
				}
				if i%2 == 1 {
					if err := untilKnown(func() error { return tbl.Del(c, hk, []byte("s")) }); err != nil {
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

// kvClient opens a raw KV client on addr, for calls the SDK makes.
func kvClient(t *testing.T, addr string) tpb.KVClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(80<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return tpb.NewKVClient(conn)
}

// kvs returns sort keys f0..f(n-1) with value v.
func kvs(n int, v []byte) []*tpb.SortKeyValue {
	out := make([]*tpb.SortKeyValue, n)
	for i := range out {
		out[i] = &tpb.SortKeyValue{SortKey: []byte(fmt.Sprint("f", i)), Value: v}
	}
	return out
}

// sortKeys returns f0..f(n-1).
func sortKeys(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprint("f", i))
	}
	return out
}

// wantResult checks a batch result's code and that its message says want.
func wantResult(t *testing.T, what string, code uint32, msg string, wantC codes.Code, want string) {
	t.Helper()
	if codes.Code(code) != wantC || !strings.Contains(msg, want) {
		t.Errorf("%s: %v %q, want %v mentioning %q", what, codes.Code(code), msg, wantC, want)
	}
}

// A batch write's multi-sets are validated whole: a refused one writes
// nothing, the valid ones and the single writes of the call are one raft
// entry.
func TestBatchWriteMultiSets(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	kv, c := kvClient(t, cl.Addrs()[0]), ctx(t)
	mine, other := keysOf(0, 2, 5), keysOf(1, 2, 1)[0]
	big := bytes.Repeat([]byte("v"), 4<<20+1)
	w, err := kv.BatchWrite(c, &tpb.BatchWriteRequest{Table: "t", Partition: 0,
		Writes: []*tpb.BatchWrite{{HashKey: mine[0], SortKey: []byte("s"), Value: []byte("a")}},
		MultiSets: []*tpb.MultiSetRequest{
			{HashKey: mine[1], Kvs: kvs(3, []byte("g")), TtlSeconds: 60},
			{HashKey: mine[2], Kvs: append(kvs(1, []byte("ok")), &tpb.SortKeyValue{SortKey: []byte("f1"), Value: big})},
			{HashKey: other, Kvs: kvs(2, []byte("x"))},
			{HashKey: mine[4]},
			{HashKey: mine[3], Kvs: kvs(3, []byte("h"))},
			{Kvs: kvs(1, []byte("x"))},
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, ms := w.GetResults(), w.GetMultiSetResults()
	if len(res) != 1 || len(ms) != 6 {
		t.Fatalf("%d and %d results, want 1 and 6", len(res), len(ms))
	}
	d := res[0].Decree
	if d == 0 || ms[0].Decree != d || ms[4].Decree != d || codes.Code(ms[0].Code) != codes.OK || codes.Code(ms[4].Code) != codes.OK {
		t.Errorf("valid operations: %v %v %v, want OK in one raft entry", res[0], ms[0], ms[4])
	}
	wantResult(t, "oversized part", ms[1].Code, ms[1].Message, codes.InvalidArgument, "record 1: value is 4194305 bytes")
	wantResult(t, "other partition", ms[2].Code, ms[2].Message, codes.InvalidArgument, "belongs to partition 1")
	wantResult(t, "no records", ms[3].Code, ms[3].Message, codes.InvalidArgument, "multi-set needs 1 to 10000 records")
	wantResult(t, "no hash key", ms[5].Code, ms[5].Message, codes.InvalidArgument, "hash key is empty")

	g, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Partition: 0,
		MultiGets: []*tpb.MultiGetRequest{{HashKey: mine[1], SortKeys: sortKeys(4)}, {HashKey: mine[2], SortKeys: sortKeys(2)}}})
	if err != nil {
		t.Fatal(err)
	}
	got := g.GetMultiGetResults()
	if len(got) != 2 || len(got[0].Records) != 3 || got[0].Records[2].ExpireTs == 0 || len(got[1].Records) != 0 {
		t.Fatalf("read back %v; want the valid multi-set's 3 records with a TTL and nothing of the refused one", got)
	}
}

// A batch get answers multi-gets and scans (of a hash key, or of the
// call's partition), each refused alone when invalid.
func TestBatchGetMultiGetsAndScans(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	kv, c := kvClient(t, cl.Addrs()[0]), ctx(t)
	mine, other := keysOf(0, 2, 2), keysOf(1, 2, 1)[0]
	for _, hk := range append(mine, other) {
		if _, err := kv.MultiSet(c, &tpb.MultiSetRequest{Table: "t", HashKey: hk, Kvs: kvs(3, hk)}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Partition: 0,
		Gets: []*tpb.GetRequest{{HashKey: mine[0], SortKey: []byte("f2")}},
		MultiGets: []*tpb.MultiGetRequest{
			{HashKey: mine[0], SortKeys: [][]byte{[]byte("f2"), []byte("nope"), []byte("f0")}},
			{HashKey: other, SortKeys: sortKeys(1)},
			{HashKey: mine[1]},
		},
		Scans: []*tpb.ScanRequest{
			{HashKey: mine[1]},
			{HashKey: mine[1], Limit: 2},
			{},
			{Partition: 1},
			{HashKey: other},
		}})
	if err != nil {
		t.Fatal(err)
	}
	mg, sc := g.GetMultiGetResults(), g.GetScanResults()
	if len(g.GetResults()) != 1 || len(mg) != 3 || len(sc) != 5 {
		t.Fatalf("%d, %d, %d results; want 1, 3, 5", len(g.GetResults()), len(mg), len(sc))
	}
	if r := mg[0].Records; len(r) != 2 || string(r[0].SortKey) != "f2" || string(r[1].SortKey) != "f0" || !bytes.Equal(r[0].Value, mine[0]) {
		t.Errorf("multi-get = %v, want f2 and f0 in the order asked", r)
	}
	wantResult(t, "multi-get of another partition", mg[1].Code, mg[1].Message, codes.InvalidArgument, "belongs to partition 1")
	wantResult(t, "multi-get of no sort key", mg[2].Code, mg[2].Message, codes.InvalidArgument, "multi-get needs 1 to 10000 sort keys")
	if len(sc[0].Records) != 3 || !sc[0].Done || len(sc[0].Cursor) != 0 {
		t.Errorf("scan of a hash key: %v, want its 3 records and done", sc[0])
	}
	if len(sc[1].Records) != 2 || sc[1].Done || len(sc[1].Cursor) == 0 {
		t.Errorf("scan page of 2: %v, want 2 records and a cursor", sc[1])
	}
	if len(sc[2].Records) != 6 || !sc[2].Done {
		t.Errorf("scan of the partition: %d records, done %v; want 6, done", len(sc[2].Records), sc[2].Done)
	}
	wantResult(t, "scan of another partition", sc[3].Code, sc[3].Message, codes.InvalidArgument, "scan of partition 1 in a batch call to partition 0")
	wantResult(t, "scan of another partition's hash key", sc[4].Code, sc[4].Message, codes.InvalidArgument, "belongs to partition 1")

	for name, call := range map[string]func() error{
		"multi-set over 10000 keys": func() error {
			_, err := kv.BatchWrite(c, &tpb.BatchWriteRequest{Table: "t", MultiSets: []*tpb.MultiSetRequest{{HashKey: mine[0], Kvs: kvs(10001, nil)}}})
			return err
		},
		"multi-gets over 10000 keys in all": func() error {
			mgs := []*tpb.MultiGetRequest{{HashKey: mine[0], SortKeys: sortKeys(6000)}, {HashKey: mine[1], SortKeys: sortKeys(4001)}}
			_, err := kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", MultiGets: mgs})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most 10000 keys in all") {
			t.Errorf("%s: %v, want InvalidArgument for the whole call", name, err)
		}
	}
}

// A batch get stops reading once its reply holds more than 32 MiB: the
// reads after that are answered ResourceExhausted (the SDK sends them
// again); the first read of a call is always done.
func TestBatchGetReplyBudget(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 1, 1)
	kv, c := kvClient(t, cl.Addrs()[0]), ctx(t)
	value := bytes.Repeat([]byte("v"), 3<<20)
	for i := range 12 {
		if _, err := kv.Set(c, &tpb.SetRequest{Table: "t", HashKey: []byte(fmt.Sprint("h", i)), SortKey: []byte("f0"), Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	req := &tpb.BatchGetRequest{Table: "t",
		MultiGets: []*tpb.MultiGetRequest{{HashKey: []byte("h10"), SortKeys: sortKeys(1)}},
		Scans:     []*tpb.ScanRequest{{HashKey: []byte("h11")}}}
	for i := range 10 {
		req.Gets = append(req.Gets, &tpb.GetRequest{HashKey: []byte(fmt.Sprint("h", i)), SortKey: []byte("f0")})
	}
	g, err := kv.BatchGet(c, req)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range g.GetResults() {
		if codes.Code(r.Code) != codes.OK || len(r.Value) != len(value) {
			t.Errorf("get %d: %v, %d bytes; want read (30 MiB fit)", i, codes.Code(r.Code), len(r.Value))
		}
	}
	mg, sc := g.GetMultiGetResults()[0], g.GetScanResults()[0]
	wantResult(t, "multi-get past 32 MiB", mg.Code, mg.Message, codes.ResourceExhausted, "send it again")
	wantResult(t, "scan past 32 MiB", sc.Code, sc.Message, codes.ResourceExhausted, "send it again")
	if len(mg.Records) != 0 || len(sc.Records) != 0 || sc.Done {
		t.Errorf("undone reads carry records or done: %v %v", mg, sc)
	}

	g, err = kv.BatchGet(c, &tpb.BatchGetRequest{Table: "t", Scans: []*tpb.ScanRequest{{}}})
	if err != nil || len(g.GetScanResults()[0].Records) != 12 {
		t.Fatalf("a lone 36 MiB scan: %v, %v; want its 12 records", g, err)
	}
}

// The calls of clients older than batched records keep working.
func TestOldClientRecordCalls(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("t", 2, 1)
	kv, c := kvClient(t, cl.Addrs()[0]), ctx(t)
	if _, err := kv.MultiSet(c, &tpb.MultiSetRequest{Table: "t", HashKey: []byte("h"), Kvs: kvs(3, []byte("v")), TtlSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	_, err := kv.MultiSet(c, &tpb.MultiSetRequest{Table: "t", HashKey: []byte("h"), Kvs: append(kvs(1, []byte("new")), &tpb.SortKeyValue{Value: bytes.Repeat([]byte("v"), 4<<20+1)})})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "record 1: value is") {
		t.Fatalf("multi-set with an oversized record: %v, want InvalidArgument naming record 1", err)
	}
	mg, err := kv.MultiGet(c, &tpb.MultiGetRequest{Table: "t", HashKey: []byte("h"), SortKeys: sortKeys(4)})
	if err != nil || len(mg.Records) != 3 || string(mg.Records[0].Value) != "v" || mg.Records[2].ExpireTs == 0 {
		t.Fatalf("multi-get = %v, %v; want the first multi-set's 3 records", mg, err)
	}
	if _, err := kv.MultiGet(c, &tpb.MultiGetRequest{Table: "t", HashKey: []byte("h")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("multi-get of no sort key: %v, want InvalidArgument", err)
	}
}

// rpcCounts sums tandem_rpc_requests_total by method over the nodes.
func rpcCounts(t *testing.T, cl *servertest.Cluster) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, n := range cl.Nodes {
		resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, "tandem_rpc_requests_total{") {
				continue
			}
			_, rest, _ := strings.Cut(line, `method="`)
			method, _, _ := strings.Cut(rest, `"`)
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				out[method] += int(v)
			}
		}
	}
	return out
}

// Concurrent SDK MultiSets on a replicated table share batch calls and stay
// atomic: a MultiGet or a scan of a record always finds all its fields from
// one MultiSet (a MultiGet of separate reads could straddle one), and a
// refused MultiSet, in the same calls, leaves no trace. The SDK makes no
// MultiSet, MultiGet or Scan call.
func TestConcurrentMultiSetsStayAtomic(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("t", 2, 3)
	tbl := mustTable(t, mustDial(t, cl.Addrs()...), "t")
	c := ctx(t)
	const fields, records = 5, 4
	write := func(hk, v []byte) error {
		kvs := make([]client.SortKeyValue, fields)
		for i := range kvs {
			kvs[i] = client.SortKeyValue{SortKey: []byte(fmt.Sprint("f", i)), Value: v}
		}
		if bytes.Equal(v, []byte("bad")) {
			kvs[fields-1].SortKey = bytes.Repeat([]byte("k"), 70000) // over kv.max_key_bytes
		}
		return tbl.MultiSet(c, hk, kvs)
	}
	hks := make([][]byte, records)
	for i := range hks {
		hks[i] = []byte(fmt.Sprint("rec", i))
		if err := untilKnown(func() error { return write(hks[i], []byte("init")) }); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg, readers sync.WaitGroup
		stop        atomic.Bool
		errs        = make(chan error, 64)
	)
	for w := range 16 {
		wg.Go(func() {
			for i := range 15 {
				v := []byte(fmt.Sprintf("w%d-%d", w, i))
				if i%5 == 4 {
					v = []byte("bad")
				}
				err := write(hks[(w+i)%records], v)
				if errors.Is(err, client.ErrAmbiguous) && string(v) != "bad" {
					continue // a leader change: all of it or nothing applied
				}
				if string(v) == "bad" != errors.Is(err, client.ErrInvalidArgument) || string(v) != "bad" && err != nil {
					errs <- fmt.Errorf("multi-set %s: %v", v, err)
				}
			}
		})
	}
	for r := range 8 {
		readers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if err := checkRecord(c, tbl, hks[r%records], fields, i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := rpcCounts(t, cl)
	if counts["MultiSet"]+counts["MultiGet"]+counts["Scan"] != 0 || counts["BatchWrite"] == 0 || counts["BatchGet"] == 0 {
		t.Errorf("RPCs served: %v; want only batch calls for the record operations", counts)
	}
}

// checkRecord reads record hk (a scan, or a MultiGet of its fields) and
// checks that its fields all come from one MultiSet, never a refused one.
func checkRecord(c context.Context, tbl *client.Table, hk []byte, fields int, scan bool) error {
	var recs []client.Record
	var err error
	if scan {
		recs, err = tbl.ScanHashKey(c, hk, 0)
	} else {
		recs, err = tbl.MultiGet(c, hk, sortKeys(fields))
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", hk, err)
	}
	if len(recs) != fields {
		return fmt.Errorf("scan %s: %d fields, want %d", hk, len(recs), fields)
	}
	for _, r := range recs {
		if !bytes.Equal(r.Value, recs[0].Value) || string(r.Value) == "bad" {
			return fmt.Errorf("record %s torn or refused write visible: %s=%s beside %s=%s", hk, r.SortKey, r.Value, recs[0].SortKey, recs[0].Value)
		}
	}
	return nil
}
