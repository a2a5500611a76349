package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// startHTTP serves /healthz, /metrics and the status page (/status,
// /status.json) on the HTTP address, and samples the page's history.
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
	mux.HandleFunc("/status", n.handleStatusPage)
	mux.HandleFunc("/status.json", n.handleStatusJSON)
	mux.HandleFunc("/status/", n.handleStatusAsset)
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
	n.status = newStatusHistory(DefaultStatusHistoryConfig())
	n.loops.Add(1)
	go n.sampleStatus(n.status)
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
