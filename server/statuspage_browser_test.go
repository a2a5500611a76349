package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// chromiumPath finds a Chromium to drive, or skips the test saying how to
// get one. TANDEM_CHROMIUM names one explicitly.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TANDEM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (apt-get install -y chromium, or set TANDEM_CHROMIUM): the status page's browser test needs one")
	return ""
}

// browser is a headless Chromium tab that records every console error,
// uncaught exception and browser log error (a failed resource load).
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	// The tab enables the Runtime and Log domains itself; the listener sees
	// their events from the first page on.
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b.ctx = bctx
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// listen records the page's errors.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.record(fmt.Sprintf("console.%s: %s", ev.Type, consoleArgs(ev.Args)))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		b.record(fmt.Sprintf("exception at %s:%d: %s %s", d.URL, d.LineNumber, d.Text, remoteText(d.Exception)))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.record(fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		return string(o.Value)
	}
	return o.Description
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, remoteText(a))
	}
	return strings.Join(parts, " ")
}

func (b *browser) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// run runs actions in the tab, failing the test on an error.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// evalString evaluates a JavaScript expression that gives a string.
func (b *browser) evalString(t *testing.T, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// evalInt evaluates an expression that gives a number (as a string, so a
// missing element reads as -1 instead of failing).
func (b *browser) evalInt(t *testing.T, expr string) int64 {
	t.Helper()
	s := b.evalString(t, `(function(){ try { return String(`+expr+`); } catch (e) { return "-1"; } })()`)
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// writeRetrying writes records n from..to-1; a write whose outcome is
// unknown (a leader change on a busy machine) is written again, which is
// safe here because every record's value is unique to it.
func writeRetrying(t *testing.T, tbl *client.Table, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		for attempt := 0; ; attempt++ {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := tbl.Set(c, []byte(fmt.Sprintf("h%d", i%16)), []byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("v%d", i)))
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrAmbiguous) && !errors.Is(err, client.ErrUnavailable) || attempt == 5 {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
}

// addDupOnce adds a duplication of table; when the outcome is unknown (a
// meta leader change on a busy machine) it looks before it asks again, so
// the table never gets two.
func addDupOnce(t *testing.T, cli *client.Client, table, remote string) *tpb.DuplicationInfo {
	t.Helper()
	for attempt := 0; ; attempt++ {
		d, err := cli.AddDuplication(ctx(t), table, remote)
		if err == nil {
			return d
		}
		if !errors.Is(err, client.ErrAmbiguous) && !errors.Is(err, client.ErrUnavailable) || attempt == 5 {
			t.Fatalf("dup add %s: %v", table, err)
		}
		servertest.WaitFor(t, 30*time.Second, "the duplications listed", func() bool {
			list, lerr := cli.ListDuplications(ctx(t), table)
			if lerr == nil && len(list) > 0 {
				d = list[0]
			}
			return lerr == nil
		})
		if d != nil {
			return d
		}
	}
}

// TestStatusPageInBrowser opens the status page of a cluster with a
// duplication in headless Chromium: the page renders the cluster, the
// plots draw points from the server's history, values change after
// writes without a reload, and the page logs no console error.
func TestStatusPageInBrowser(t *testing.T) {
	b := newBrowser(t)
	src := servertest.MakeCluster(t, 3, func(c *server.Config) { c.Cluster = "east" })
	dst := servertest.MakeCluster(t, 1, func(c *server.Config) { c.Cluster = "west" })
	src.CreateTable("t", 2, 3)
	srcCli := mustDial(t, src.Addrs()...)
	tbl := mustTable(t, srcCli, "t")
	writeRetrying(t, tbl, 0, 20)
	dup := addDupOnce(t, srcCli, "t", dst.Addrs()[0])
	waitAllLog(t, srcCli, "t", dup.Id)

	b.run(t, "open /status", chromedp.Navigate("http://"+src.Nodes[0].HTTPAddr()+"/status"),
		chromedp.WaitVisible(`#tables tbody tr[data-table="t"]`))
	b.evalString(t, `window.samePage = "yes"`)
	if n := b.evalInt(t, `document.querySelectorAll("#nodes .card").length`); n != 3 {
		t.Fatalf("cluster overview shows %d nodes, want 3", n)
	}
	overview := b.evalString(t, `document.getElementById("nodes").textContent`)
	if !strings.Contains(overview, "leaders") || !strings.Contains(overview, "n3") {
		t.Fatalf("cluster overview without nodes' leaders: %q", overview)
	}
	// A busy machine may be electing a leader right now: the page shows
	// that, and the next refreshes show both partitions healthy again.
	servertest.WaitFor(t, 60*time.Second, "table t with 2 healthy partitions", func() bool {
		return b.evalInt(t, `document.querySelectorAll('#tables tr[data-table="t"] .cell.ok').length`) == 2
	})

	// The plots draw the server's samples, and the page keeps fetching:
	// the number of points grows without a reload.
	plotPoints := func(sel string) int64 {
		return b.evalInt(t, `document.querySelector('`+sel+` polyline').getAttribute("points").trim().split(" ").length`)
	}
	dupPlot := `.dup[data-dup="` + dup.Id + `"] svg`
	first := plotPoints(dupPlot)
	servertest.WaitFor(t, 60*time.Second, "the lag plot to draw more points", func() bool {
		return plotPoints(dupPlot) >= max(first+2, 3)
	})
	// The replicated time (every source write acknowledged before it is on
	// the remote) is known once the remote has pulled: the page says when
	// and plots its age beside the lag.
	servertest.WaitFor(t, 60*time.Second, "the replicated time shown and plotted", func() bool {
		return b.evalInt(t, `document.querySelector('`+dupPlot+` polyline[data-series="replicated_age_s"]').getAttribute("points").trim().split(" ").length`) >= 2 &&
			b.evalString(t, `document.querySelector('.dup[data-dup="`+dup.Id+`"] .replicated').textContent`) != "unknown yet"
	})
	servertest.WaitFor(t, 60*time.Second, "the apply-rate plot to draw points", func() bool {
		return plotPoints("#apply-plot") >= 2
	})

	// Writes show up in the table's applied decrees and in the apply rate.
	appliedExpr := `document.querySelector('#tables tr[data-table="t"] .applied').textContent`
	before := b.evalInt(t, appliedExpr)
	writeRetrying(t, tbl, 20, 60)
	servertest.WaitFor(t, 60*time.Second, "the page to show the new writes' decrees", func() bool {
		return b.evalInt(t, appliedExpr) >= before+40
	})
	servertest.WaitFor(t, 60*time.Second, "the apply-rate plot to show the writes", func() bool {
		// Points at a zero rate sit on the x axis (y = 120); the writes lift some.
		return b.evalInt(t, `Array.from(document.querySelectorAll("#apply-plot polyline")).map(function (p) {
			return p.getAttribute("points").split(" ").filter(function (xy) { return Number(xy.split(",")[1]) < 119.5; }).length;
		}).reduce(function (a, b) { return a + b; }, 0)`) > 0
	})
	same := b.evalString(t, `window.samePage || "reloaded"`)
	if same != "yes" {
		t.Fatalf("the page was reloaded (window state lost: %q)", same)
	}
	if n := b.evalInt(t, `Number(document.getElementById("refreshes").textContent)`); n < 2 {
		t.Fatalf("the page refreshed %d times", n)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("the status page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
