package server

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/tandem-kv/tandem/duplication"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The status page is one HTML document with its script and style embedded
// in the binary (no CDN: nodes often run where browsers reach nothing
// else). The server renders the first snapshot into the page, so it shows
// data before the script runs and to curl; the script then fetches
// /status.json every refresh interval and redraws tables and plots.

//go:embed statusui
var statusUI embed.FS

// statusRefreshMs is how often the page fetches /status.json.
const statusRefreshMs = 1000

// statusRecentCheckpoints caps the checkpoint activity list.
const statusRecentCheckpoints = 12

var statusTemplate = template.Must(template.ParseFS(statusUI, "statusui/status.html"))

// StatusSnapshot is the document /status.json serves; the status page
// draws nothing else.
type StatusSnapshot struct {
	GeneratedUnixMs int64             `json:"generated_unix_ms"`
	RefreshMs       int               `json:"refresh_ms"`
	Node            StatusNode        `json:"node"`
	Nodes           []StatusNodeRow   `json:"nodes"`
	Tables          []StatusTable     `json:"tables"`
	Dups            []StatusDup       `json:"duplications"`
	ApplyRate       []RateSample      `json:"apply_rate"`
	Checkpoints     StatusCheckpoints `json:"checkpoints"`
}

// StatusNode describes the node that answered.
type StatusNode struct {
	ID         string `json:"id"`
	Addr       string `json:"addr"`
	Cluster    string `json:"cluster"`
	MetaRole   string `json:"meta_role"`
	MetaLeader string `json:"meta_leader"`
	Ready      bool   `json:"ready"`
}

// StatusNodeRow is one node of the cluster overview.
type StatusNodeRow struct {
	ID       string `json:"id"`
	Addr     string `json:"addr"`
	State    string `json:"state"` // alive or unreachable, as this node sees it
	MetaRole string `json:"meta_role"`
	Replicas int    `json:"replicas"`
	Leaders  int    `json:"leaders"`
	Error    string `json:"error,omitempty"`
}

// StatusTable is one table with the health of its partitions.
type StatusTable struct {
	Name            string            `json:"name"`
	ID              uint64            `json:"id"`
	Partitions      uint32            `json:"partitions"`
	Replicas        uint32            `json:"replicas"`
	Role            string            `json:"role"`
	Healthy         int               `json:"healthy"`
	Leaderless      int               `json:"leaderless"`
	UnderReplicated int               `json:"under_replicated"`
	AppliedDecrees  uint64            `json:"applied_decrees"`
	SizeBytes       uint64            `json:"size_bytes"`
	PartitionRows   []StatusPartition `json:"partition_rows"`
}

// StatusPartition is one partition's health: "ok", "no-leader" or
// "under-replicated" (fewer live replicas than placed).
type StatusPartition struct {
	Index         uint32 `json:"index"`
	Health        string `json:"health"`
	Leader        string `json:"leader"`
	Live          int    `json:"live"`
	Placed        int    `json:"placed"`
	AppliedDecree uint64 `json:"applied_decree"`
	SizeBytes     uint64 `json:"size_bytes"`
}

// StatusDup is one duplication with its sampled lag history.
type StatusDup struct {
	ID            string  `json:"id"`
	Table         string  `json:"table"`
	RemoteAddr    string  `json:"remote_addr"`
	RemoteCluster string  `json:"remote_cluster"`
	State         string  `json:"state"`
	Progress      string  `json:"progress"`
	MaxLagDecrees uint64  `json:"max_lag_decrees"`
	MaxLagSeconds float64 `json:"max_lag_seconds"`
	// ReplicatedUnixMs and ReplicatedAgeSeconds are the latest sample's
	// replicated time (0 while unknown) and its age.
	ReplicatedUnixMs     int64       `json:"replicated_unix_ms"`
	ReplicatedAgeSeconds float64     `json:"replicated_age_s"`
	History              []DupSample `json:"history"`
	// Divergence, on a duplication a resync created: the old source's
	// writes never applied here, saved to a file there (dup reapply).
	Divergence *duplication.Divergence `json:"divergence,omitempty"`
}

// StatusCheckpoints is this node's checkpoint activity.
type StatusCheckpoints struct {
	Count  int                `json:"count"`
	Bytes  uint64             `json:"bytes"`
	Pinned int                `json:"pinned"`
	Recent []StatusCheckpoint `json:"recent"`
}

// StatusCheckpoint is one checkpoint of the activity list.
type StatusCheckpoint struct {
	Table         string `json:"table"`
	Partition     uint32 `json:"partition"`
	ID            string `json:"id"`
	Decree        uint64 `json:"decree"`
	SizeBytes     uint64 `json:"size_bytes"`
	CreatedUnixMs int64  `json:"created_unix_ms"`
	Purpose       string `json:"purpose"`
	Pinned        bool   `json:"pinned"`
}

// handleStatusPage serves the page with the first snapshot inside.
func (n *Node) handleStatusPage(w http.ResponseWriter, req *http.Request) {
	snap := n.statusSnapshot(req.Context())
	doc, err := json.Marshal(snap) // escapes <, > and &: safe inside <script>
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	data := struct {
		Snap    StatusSnapshot
		Initial template.JS
	}{snap, template.JS(doc)}
	if err := statusTemplate.Execute(w, data); err != nil {
		n.lg.Warn("render status page", zap.Error(err))
	}
}

// handleStatusJSON serves the snapshot the page refreshes from.
func (n *Node) handleStatusJSON(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(n.statusSnapshot(req.Context())); err != nil {
		n.lg.Debug("write status json", zap.Error(err))
	}
}

// handleStatusAsset serves the page's script and style, and nothing else
// of the embedded directory.
func (n *Node) handleStatusAsset(w http.ResponseWriter, req *http.Request) {
	switch name := strings.TrimPrefix(req.URL.Path, "/status/"); name {
	case "status.js", "status.css":
		http.ServeFileFS(w, req, statusUI, "statusui/"+name)
	default:
		http.NotFound(w, req)
	}
}

// statusSnapshot assembles the page's data: the cluster as every node
// reports it (one fan-out, as `nodes` does), the duplications from the
// sampled history, and this node's checkpoints.
func (n *Node) statusSnapshot(ctx context.Context) StatusSnapshot {
	ctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
	defer cancel()
	_, leaderAddr := n.meta.leader()
	snap := StatusSnapshot{
		GeneratedUnixMs: n.cfg.Now().UnixMilli(), RefreshMs: statusRefreshMs,
		Node: StatusNode{ID: n.cfg.NodeID, Addr: n.Addr(), Cluster: n.cfg.Cluster, MetaRole: n.meta.role(n.cfg.NodeID),
			MetaLeader: leaderAddr, Ready: n.Ready()},
		ApplyRate: n.status.rateSeries(), Checkpoints: n.statusCheckpoints(),
	}
	gathered := n.gatherReplicas(ctx, "")
	snap.Nodes = n.statusNodes(gathered)
	snap.Tables = n.statusTables(gathered)
	snap.Dups = n.statusDups()
	return snap
}

// statusNodes counts each node's replicas and leaders.
func (n *Node) statusNodes(gathered []nodeReplicas) []StatusNodeRow {
	rows := make([]StatusNodeRow, 0, len(gathered))
	for _, nr := range gathered {
		row := StatusNodeRow{ID: nr.peer.ID, Addr: nr.peer.Addr, State: "alive", MetaRole: n.meta.role(nr.peer.ID),
			Replicas: len(nr.replicas)}
		if nr.err != nil {
			row.State, row.Error = "unreachable", nr.err.Error()
		}
		for _, r := range nr.replicas {
			if r.State == "leader" {
				row.Leaders++
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// statusTables reports every table's partitions from the gathered
// replicas: a partition is healthy when a leader answered and every
// placed replica answered.
func (n *Node) statusTables(gathered []nodeReplicas) []StatusTable {
	byPart := map[string][]*tpb.ReplicaStatus{}
	for _, nr := range gathered {
		for _, r := range nr.replicas {
			k := partitionKey(r.Table, r.Partition)
			byPart[k] = append(byPart[k], r)
		}
	}
	out := []StatusTable{}
	for _, t := range n.meta.state().sortedTables() {
		st := StatusTable{Name: t.Name, ID: t.ID, Partitions: t.Partitions, Replicas: t.Replicas, Role: "primary"}
		if t.Follower != nil {
			st.Role = "follower of " + t.Follower.DupID + " from " + t.Follower.SourceCluster
		}
		for p := uint32(0); p < t.Partitions; p++ {
			row := partitionHealth(p, placedCount(t, p), byPart[partitionKey(t.Name, p)])
			switch row.Health {
			case "ok":
				st.Healthy++
			case "no-leader":
				st.Leaderless++
			default:
				st.UnderReplicated++
			}
			st.AppliedDecrees += row.AppliedDecree
			st.SizeBytes += row.SizeBytes
			st.PartitionRows = append(st.PartitionRows, row)
		}
		out = append(out, st)
	}
	return out
}

// partitionHealth judges one partition from the replicas that answered.
func partitionHealth(p uint32, placed int, reps []*tpb.ReplicaStatus) StatusPartition {
	row := StatusPartition{Index: p, Placed: placed, Live: len(reps)}
	for _, r := range reps {
		if r.State == "leader" {
			row.Leader, row.AppliedDecree, row.SizeBytes = r.NodeId, r.AppliedDecree, r.SizeBytes
		} else if row.Leader == "" && r.AppliedDecree >= row.AppliedDecree {
			row.AppliedDecree, row.SizeBytes = r.AppliedDecree, r.SizeBytes
		}
	}
	switch {
	case row.Leader == "":
		row.Health = "no-leader"
	case row.Live < row.Placed:
		row.Health = "under-replicated"
	default:
		row.Health = "ok"
	}
	return row
}

// placedCount is how many replicas partition p is placed on.
func placedCount(t *TableMeta, p uint32) int {
	if int(p) < len(t.Placement) {
		return len(t.Placement[p])
	}
	return int(t.Replicas)
}

// partitionKey names a partition across tables (table names hold no "/").
func partitionKey(table string, p uint32) string { return fmt.Sprintf("%s/%d", table, p) }

// statusDups lists the duplications with their sampled history. The
// current figures come from the latest sample rather than a fresh fan-out,
// so a page load costs no extra round of questions to every source leader.
func (n *Node) statusDups() []StatusDup {
	out := []StatusDup{}
	infos := dupMeta{n}.Duplications()
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	for _, info := range infos {
		d := info.Proto()
		sd := StatusDup{ID: d.GetId(), Table: d.GetTable(), RemoteAddr: d.GetRemoteAddr(), RemoteCluster: d.GetRemoteCluster(),
			State: d.GetState(), History: n.status.dupSeries(d.GetId()), Divergence: info.Divergence}
		if h := sd.History; len(h) > 0 {
			last := h[len(h)-1]
			sd.Progress, sd.MaxLagDecrees, sd.MaxLagSeconds = last.Progress, last.LagDecrees, last.LagSeconds
			sd.ReplicatedUnixMs, sd.ReplicatedAgeSeconds = last.ReplicatedUnixMs, last.ReplicatedAge
		}
		out = append(out, sd)
	}
	return out
}

// statusCheckpoints summarizes this node's checkpoints, newest first.
func (n *Node) statusCheckpoints() StatusCheckpoints {
	sc := StatusCheckpoints{Recent: []StatusCheckpoint{}}
	for _, r := range n.localReplicas() {
		for _, v := range r.Catalog().List() {
			c := StatusCheckpoint{Table: v.Table, Partition: v.Partition, ID: v.ID, Decree: v.Decree,
				SizeBytes: uint64(v.TotalBytes), CreatedUnixMs: v.CreatedAt.UnixMilli(), Purpose: string(v.Purpose),
				Pinned: len(v.PinnedBy) > 0 || v.InFlight > 0}
			sc.Count++
			sc.Bytes += c.SizeBytes
			if c.Pinned {
				sc.Pinned++
			}
			sc.Recent = append(sc.Recent, c)
		}
	}
	sort.Slice(sc.Recent, func(i, j int) bool { return sc.Recent[i].CreatedUnixMs > sc.Recent[j].CreatedUnixMs })
	sc.Recent = sc.Recent[:min(len(sc.Recent), statusRecentCheckpoints)]
	return sc
}
