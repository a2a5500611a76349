package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

func getStatusJSON(t *testing.T, addr string) server.StatusSnapshot {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /status.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var snap server.StatusSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestStatusJSONLive reads /status.json of a live node: the overview counts
// the node's replicas and leaders, the table's partitions are healthy,
// writes move the apply rate, and a checkpoint shows in the activity.
func TestStatusJSONLive(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("seen", 3, 1)
	addr := cl.Nodes[0].HTTPAddr()
	snap := getStatusJSON(t, addr)
	if len(snap.Nodes) != 1 || snap.Nodes[0].Replicas != 3 || snap.Nodes[0].Leaders != 3 || snap.Nodes[0].State != "alive" {
		t.Fatalf("nodes = %+v, want one alive node with 3 replicas and 3 leaders", snap.Nodes)
	}
	if len(snap.Tables) != 1 || snap.Tables[0].Name != "seen" || snap.Tables[0].Healthy != 3 || len(snap.Tables[0].PartitionRows) != 3 {
		t.Fatalf("tables = %+v, want seen with 3 healthy partitions", snap.Tables)
	}
	if snap.Node.Cluster != "test" || !snap.Node.Ready || snap.RefreshMs <= 0 {
		t.Fatalf("node = %+v refresh %d", snap.Node, snap.RefreshMs)
	}

	// A replica counts towards the rate from its second sample on (its
	// first decrees are not writes): wait until the sampler has seen all.
	servertest.WaitFor(t, 30*time.Second, "a sample of every replica", func() bool {
		rs := getStatusJSON(t, addr).ApplyRate
		return len(rs) > 0 && rs[len(rs)-1].ReplicasSampled == 3
	})
	cli := mustDial(t, cl.Addrs()...)
	writeRetrying(t, mustTable(t, cli, "seen"), 0, 30)
	servertest.WaitFor(t, 30*time.Second, "an apply-rate sample with the writes", func() bool {
		for _, s := range getStatusJSON(t, addr).ApplyRate {
			if s.DecreesPerSec > 0 {
				return true
			}
		}
		return false
	})
	if _, err := cli.CreateCheckpoint(ctx(t), "seen", 1); err != nil {
		t.Fatal(err)
	}
	ck := getStatusJSON(t, addr).Checkpoints
	if ck.Count < 1 || len(ck.Recent) < 1 || ck.Recent[0].Table != "seen" {
		t.Fatalf("checkpoints = %+v, want the new checkpoint of seen", ck)
	}
	for _, c := range ck.Recent[1:] {
		if c.CreatedUnixMs > ck.Recent[0].CreatedUnixMs {
			t.Fatalf("recent checkpoints not newest first: %+v", ck.Recent)
		}
	}
}

// TestStatusAssets serves the page's script and style and nothing else of
// the embedded directory.
func TestStatusAssets(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	base := "http://" + cl.Nodes[0].HTTPAddr()
	for path, want := range map[string]int{"/status/status.js": 200, "/status/status.css": 200, "/status/status.html": 404,
		"/status/": 404, "/status/../http.go": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestStatusJSONShowsADownNode: with one of three nodes stopped, the
// overview marks it unreachable and every partition, led again by a node
// that runs, is under-replicated.
func TestStatusJSONShowsADownNode(t *testing.T) {
	cl := servertest.MakeCluster(t, 3)
	cl.CreateTable("spread", 3, 3)
	addr := cl.Nodes[0].HTTPAddr()
	cl.Stop(2)
	var last server.StatusSnapshot
	servertest.WaitFor(t, 60*time.Second, "n3 unreachable and every partition under-replicated", func() bool {
		last = getStatusJSON(t, addr)
		if len(last.Nodes) != 3 || last.Nodes[2].ID != "n3" || last.Nodes[2].State != "unreachable" || last.Nodes[2].Error == "" {
			return false
		}
		tbl := last.Tables[0]
		for _, p := range tbl.PartitionRows {
			if p.Health != "under-replicated" || p.Live != 2 || p.Placed != 3 || p.Leader == "n3" {
				return false
			}
		}
		return tbl.UnderReplicated == 3 && tbl.Healthy == 0
	})
	if up := last.Nodes[0].Leaders + last.Nodes[1].Leaders; up < 3 {
		t.Fatalf("the running nodes lead %d partitions of 3 (and the meta group): %+v", up, last.Nodes)
	}
}
