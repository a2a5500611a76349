package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Failback bytes on real processes at the defaults: two 3-node clusters
// on 127.0.0.1, an 8-partition table of about 120 MiB (1 KiB values,
// incompressible). East duplicates it to west (LOG), east is killed
// (kill -9, every node), west is promoted and rewrites 5% of the records
// (every 20th hash key), east restarts and `dup resync` makes it west's
// follower again. The base east loads is counted by where its bytes came
// from (tandem_duplication_base_bytes_total on east's nodes):
//
//	go test -run '^$' -bench '^BenchmarkFailbackBytes$' -benchtime 1x -timeout 60m ./tests/e2e/
//
// remote/table: bytes fetched from west over the base's size (the target
// is under 0.10); local/table and peer/table: bytes reused from the
// puller's own replica and from the other nodes of east. leaders-moved
// moves every partition's leadership off the east node that made the
// original base before the resync: only that node holds the base's files
// under their names, so they come from peers.
func BenchmarkFailbackBytes(b *testing.B) {
	b.Run("leaders-as-before", func(b *testing.B) { benchFailback(b, false) })
	b.Run("leaders-moved", func(b *testing.B) { benchFailback(b, true) })
}

func benchFailback(b *testing.B, moveLeaders bool) {
	const (
		hashKeys  = 3840 // 32 records of 1 KiB each: 120 MiB
		perKey    = 32
		valueSize = 1024
	)
	east := LaunchCluster(b, "east", 3, ClusterOptions{DefaultTimings: true})
	west := LaunchCluster(b, "west", 3, ClusterOptions{DefaultTimings: true})
	for _, nd := range append(append([]*Node{}, east.Nodes...), west.Nodes...) {
		nd.WaitHealthy(60 * time.Second)
	}
	if _, err := east.Shell("create t --partitions 8 --replicas 3"); err != nil {
		b.Fatal(err)
	}
	ce := dialB(b, east.Addrs())
	loadHashKeys(b, tableB(b, ce, "t"), hashKeys, perKey, valueSize, 1, "east")
	id := addAndWaitLog(b, ce, "t", west)
	makers := leadersOf(b, ce)
	for _, nd := range east.Nodes {
		nd.Kill()
	}
	if out, err := west.Shell("dup promote t"); err != nil {
		b.Fatalf("dup promote with east down: %v\n%s", err, out)
	}
	cw := dialB(b, west.Addrs())
	loadHashKeys(b, tableB(b, cw, "t"), hashKeys, perKey, valueSize, 20, "west") // 5% of the records
	for _, nd := range east.Nodes {
		nd.Start()
	}
	for _, nd := range east.Nodes {
		nd.WaitHealthy(120 * time.Second)
	}

	if moveLeaders {
		moveLeadersOff(b, ce, east, makers)
	}
	b.ResetTimer()
	start := time.Now()
	out := resyncB(b, east, id)
	newID := strings.Fields(strings.Split(out, "\n")[1])[8]
	waitLogB(b, cw, newID)
	verify := waitIdenticalB(b, west, east, "t", 10*time.Minute)
	took := time.Since(start)
	b.StopTimer()

	show, err := cw.ShowDuplication(context.Background(), "t", newID)
	if err != nil {
		b.Fatal(err)
	}
	var table uint64
	for _, p := range show.GetPartitions() {
		table += p.GetBaseBytesTotal()
	}
	loaded := map[string]float64{}
	for _, src := range []string{"remote", "local", "peer"} {
		for _, nd := range east.Nodes {
			loaded[src] += scrapeCounter(nd, "tandem_duplication_base_bytes_total", `dup="`+newID+`"`, `source="`+src+`"`)
		}
	}
	var served float64
	for _, nd := range west.Nodes {
		served += scrapeCounter(nd, "tandem_duplication_base_served_bytes_total", `dup="`+newID+`"`)
	}
	if table == 0 {
		b.Fatalf("the new primary reports no base size: %v", show)
	}
	b.ReportMetric(loaded["remote"]/float64(table), "remote/table")
	b.ReportMetric(loaded["local"]/float64(table), "local/table")
	b.ReportMetric(loaded["peer"]/float64(table), "peer/table")
	b.ReportMetric(served/float64(table), "west-served/table")
	b.ReportMetric(took.Seconds(), "resync-to-identical-s")
	b.Logf("base of %d bytes over %d partitions: %.0f fetched from west (west served %.0f), %.0f reused locally, %.0f from east's other nodes; identical %v after dup resync; %s",
		table, len(show.GetPartitions()), loaded["remote"], served, loaded["local"], loaded["peer"], took.Round(time.Millisecond), lastLine(verify))
	b.Logf("partitions mostly fetched from west, and what both clusters logged of them:\n%s", strings.Join(mostlyRemote(east, west), "\n"))
}

// loadHashKeys writes perKey records of size bytes (random, tagged) under
// every every-th of n hash keys, one MultiSet each, with 16 writers.
func loadHashKeys(b *testing.B, tbl *client.Table, n, perKey, size, every int, tag string) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for h := w * every; h < n; h += 16 * every {
				if err := multiSet(tbl, h, perKey, size, tag); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// multiSet writes the records of hash key h, again after ErrAmbiguous
// (the same values: a repeat changes nothing).
func multiSet(tbl *client.Table, h, perKey, size int, tag string) error {
	kvs := make([]client.SortKeyValue, perKey)
	for s := range kvs {
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(rand.IntN(256))
		}
		copy(v, fmt.Sprintf("%s-%d-%d-", tag, h, s))
		kvs[s] = client.SortKeyValue{SortKey: []byte(fmt.Sprintf("s%02d", s)), Value: v}
	}
	var err error
	for try := 0; try < 50; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = tbl.MultiSet(ctx, []byte(fmt.Sprintf("h%05d", h)), kvs)
		cancel()
		// Read-only: a node of the new primary not yet told of the promote.
		if !errors.Is(err, client.ErrAmbiguous) && !errors.Is(err, client.ErrUnavailable) && !errors.Is(err, client.ErrReadOnly) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// resyncB runs dup resync on cl, again after a failure (the command
// resumes).
func resyncB(b *testing.B, cl *Cluster, id string) string {
	var out string
	var err error
	for try := 0; try < 3; try++ {
		if out, err = cl.Shell("dup resync t " + id); err == nil {
			return out
		}
		b.Logf("dup resync failed, running it again: %v", err)
	}
	b.Fatal(err)
	return ""
}

// waitIdenticalB polls tandem-verify until it says identical.
func waitIdenticalB(b *testing.B, src, dst *Cluster, table string, timeout time.Duration) string {
	var out string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var ok bool
		if out, ok = Verify(b, src, dst, table); ok {
			return out
		}
	}
	b.Fatalf("tables never identical; last tandem-verify:\n%s", out)
	return ""
}

// scrapeCounter sums the samples of metric on nd's /metrics whose labels
// contain every one of labels.
func scrapeCounter(nd *Node, metric string, labels ...string) float64 {
	_, body := nd.httpGet("/metrics")
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if i := strings.LastIndexByte(line, ' '); match && i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// mostlyRemote describes the partitions whose base east fetched mostly
// from west (their files were not the ones east holds), with the
// checkpoints and raft snapshots west logged of them, and any peer
// refusal or unsettled base.
func mostlyRemote(east, west *Cluster) []string {
	var out []string
	for _, nd := range east.Nodes {
		for _, f := range logFields(nd, "duplication base loaded", "peer did not serve", "compactions still pending") {
			if f["msg"] != "duplication base loaded" {
				out = append(out, fmt.Sprintf("%s: %v", nd.ID, f))
				continue
			}
			remote, _ := f["remote_bytes"].(float64)
			total, _ := f["bytes"].(float64)
			if remote <= total/5 {
				continue
			}
			out = append(out, fmt.Sprintf("%s partition %v: %.0f bytes, %.0f from west, %.0f local, %.0f peer",
				nd.ID, f["partition"], total, remote, f["local_bytes"], f["peer_bytes"]))
			for _, w := range west.Nodes {
				for _, g := range logFields(w, "checkpoint created", "raft snapshot persisted", "compactions still pending") {
					if g["target"] == fmt.Sprintf("t/%v", f["partition"]) || (g["table"] == "t" && g["partition"] == f["partition"]) {
						out = append(out, fmt.Sprintf("  west %s %v %v %v %v", w.ID, g["time"], g["msg"], g["purpose"], g["id"]))
					}
				}
			}
		}
	}
	return out
}

// logFields returns the log lines of nd that contain one of msgs, parsed.
func logFields(nd *Node, msgs ...string) []map[string]any {
	raw, err := os.ReadFile(nd.LogPath())
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, line := range strings.Split(string(raw), "\n") {
		for _, m := range msgs {
			var f map[string]any
			if strings.Contains(line, m) && json.Unmarshal([]byte(line), &f) == nil {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// leadersOf returns the node leading each partition of t.
func leadersOf(b *testing.B, c *client.Client) map[uint32]string {
	resp, err := c.Partitions(context.Background(), "t")
	if err != nil {
		b.Fatal(err)
	}
	out := map[uint32]string{}
	for _, p := range resp.GetPartitions() {
		out[p.GetIndex()] = p.GetLeaderId()
	}
	return out
}

// moveLeadersOff moves the leadership of every partition of t off the node
// that led it in makers, to the next node (so leaders stay balanced and
// the balancer leaves them there).
func moveLeadersOff(b *testing.B, c *client.Client, cl *Cluster, makers map[uint32]string) {
	var ids []string
	for _, nd := range cl.Nodes {
		ids = append(ids, nd.ID)
	}
	sort.Strings(ids)
	next := func(id string) string { return ids[(sort.SearchStrings(ids, id)+1)%len(ids)] }
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, err := c.Partitions(context.Background(), "t")
		done := err == nil
		for _, p := range resp.GetPartitions() {
			if p.GetLeaderId() == "" || p.GetLeaderId() == makers[p.GetIndex()] {
				done = false
				if p.GetLeaderAddr() != "" {
					transferLeader(p.GetLeaderAddr(), p.GetIndex(), next(makers[p.GetIndex()])) // checked next round
				}
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("leaders never moved off the base's makers %v: %v %v", makers, resp, err)
		}
	}
}

func transferLeader(addr string, p uint32, to string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = tpb.NewAdminClient(conn).TransferLeader(ctx, &tpb.TransferLeaderRequest{Table: "t", Partition: p, ToNode: to})
}
