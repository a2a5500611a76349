package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/server/servertest"
)

func TestHTTPEndpoints(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("shown", 2, 1)
	base := "http://" + cl.Nodes[0].HTTPAddr()
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/status":  "shown",
		"/metrics": "tandem_replica_applied_decree",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body without %q:\n%.500s", path, resp.StatusCode, want, body)
		}
	}
}
