package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tandem-kv/tandem/replica"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// TestStatusPageScreenshot writes a screenshot of the status page of a
// busy cluster with a duplication to the PNG file that
// TANDEM_STATUS_SCREENSHOT names (for the README); without it, it skips.
// It checks nothing the browser test does not.
func TestStatusPageScreenshot(t *testing.T) {
	out := os.Getenv("TANDEM_STATUS_SCREENSHOT")
	if out == "" {
		t.Skip("set TANDEM_STATUS_SCREENSHOT=FILE.png to write a screenshot of the status page")
	}
	b := newBrowser(t)
	// The server's own raft timing: the test harness's fast elections
	// churn leaders on a busy machine, which is not the picture to show.
	src := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Cluster, c.Raft = "east", replica.DefaultRaftTiming() })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster, c.Raft = "west", replica.DefaultRaftTiming() })
	src.CreateTable("orders", 8, 3)
	cli := mustDial(t, src.Addrs()...)
	tbl := mustTable(t, cli, "orders")
	writeRetrying(t, tbl, 0, 50)
	dup := addDupOnce(t, cli, "orders", dst.Addrs()[0])
	waitAllLog(t, cli, "orders", dup.Id)
	if _, err := cli.CreateCheckpoint(ctx(t), "orders"); err != nil {
		t.Fatal(err)
	}
	// Uneven bursts a second apart, so the plots have a shape to show.
	for i := 0; i < 20; i++ {
		writeRetrying(t, tbl, 100+i*100, 100+i*100+40*(i%3))
		time.Sleep(time.Second)
	}
	b.run(t, "open the status page", chromedp.EmulateViewport(1200, 1500),
		chromedp.Navigate("http://"+src.Nodes[0].HTTPAddr()+"/status"), chromedp.WaitVisible(`.dup svg polyline`))
	servertest.WaitFor(t, 30*time.Second, "two refreshes", func() bool {
		return b.evalInt(t, `Number(document.getElementById("refreshes").textContent)`) >= 2
	})
	c, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
