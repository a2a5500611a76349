package server

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// startHTTP serves /healthz, /metrics and /status on the HTTP address.
func (n *Node) startHTTP() error {
	if n.cfg.HTTPAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen http on %s: %w", n.cfg.HTTPAddr, err)
	}
	n.httpLn = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", n.handleHealth)
	mux.Handle("/metrics", promhttp.HandlerFor(n.met.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/status", n.handleStatus)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	n.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && err != http.ErrServerClosed {
			n.lg.Error("http server stopped", zap.Error(err))
		}
	}()
	return nil
}

func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if !n.Ready() {
		http.Error(w, "starting: waiting for the meta group", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tandem {{.Node}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#eee}</style></head>
<body><h1>tandem node {{.Node}}</h1>
<p>cluster <b>{{.Cluster}}</b> &middot; address {{.Addr}} &middot; meta role <b>{{.MetaRole}}</b>
&middot; meta leader {{.MetaLeader}} &middot; {{if .Ready}}serving{{else}}starting{{end}}</p>
<h2>Tables</h2><table><tr><th>name</th><th>id</th><th>partitions</th><th>replicas</th><th>role</th></tr>
{{range .Tables}}<tr><td>{{.Name}}</td><td>{{.ID}}</td><td>{{.Partitions}}</td><td>{{.Replicas}}</td><td>{{if .Follower}}follower of duplication {{.Follower.DupID}} from cluster {{.Follower.SourceCluster}} (read-only){{else}}primary{{end}}</td></tr>{{end}}</table>
<h2>Duplications</h2><table><tr><th>id</th><th>table</th><th>remote</th><th>remote cluster</th><th>state</th><th>partitions</th><th>max lag (decrees)</th><th>max lag (s)</th></tr>
{{range .Dups}}<tr><td>{{.Id}}</td><td>{{.Table}}</td><td>{{.RemoteAddr}}</td><td>{{.RemoteCluster}}</td><td>{{.State}}</td><td>{{.Progress}}</td><td>{{.MaxLagDecrees}}</td><td>{{printf "%.3f" .MaxLagSeconds}}</td></tr>{{end}}</table>
<h2>Replicas on this node</h2><table><tr><th>table</th><th>partition</th><th>state</th><th>leader</th><th>applied decree</th><th>size (bytes)</th><th>checkpoints</th></tr>
{{range .Replicas}}<tr><td>{{.Table}}</td><td>{{.Partition}}</td><td>{{.State}}</td><td>{{.LeaderId}}</td><td>{{.AppliedDecree}}</td><td>{{.SizeBytes}}</td><td>{{index $.Checkpoints (printf "%s/%d" .Table .Partition)}}</td></tr>{{end}}</table>
<p><a href="/metrics">metrics</a></p></body></html>`))

func (n *Node) handleStatus(w http.ResponseWriter, req *http.Request) {
	_, leaderAddr := n.meta.leader()
	state := n.meta.state()
	data := struct {
		Node, Cluster, Addr, MetaRole, MetaLeader string
		Ready                                     bool
		Tables                                    []*TableMeta
		Dups                                      []*tpb.DuplicationInfo
		Replicas                                  []*tpb.ReplicaStatus
		Checkpoints                               map[string]int
	}{
		Node: n.cfg.NodeID, Cluster: n.cfg.Cluster, Addr: n.Addr(), MetaRole: n.meta.role(n.cfg.NodeID),
		MetaLeader: leaderAddr, Ready: n.Ready(), Tables: state.sortedTables(), Dups: n.dup.List(req.Context(), ""),
		Replicas: n.localStatus(""), Checkpoints: map[string]int{},
	}
	for _, r := range n.localReplicas() {
		data.Checkpoints[r.CheckpointKey()] = len(r.Catalog().List())
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, data); err != nil {
		n.lg.Warn("render status page", zap.Error(err))
	}
}
