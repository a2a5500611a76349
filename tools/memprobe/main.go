// Command memprobe measures the resident memory of a tandem-server hosting
// many partitions: it starts the given server binary on a fresh data
// directory, creates a table, waits until every partition has a leader,
// prints VmRSS and VmHWM, loads records and prints them again, then stops
// the server.
//
//	memprobe --server /tmp/ts --partitions 200 --records 20000 --value-size 1024 -- --block-cache-mib 64
//
// Arguments after -- are passed to the server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tandem-kv/tandem/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "memprobe:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("server", "bin/tandem-server", "tandem-server binary")
	addr := flag.String("addr", "127.0.0.1:7390", "server address")
	parts := flag.Int("partitions", 200, "partitions of the table")
	records := flag.Int("records", 20000, "records to load")
	valueSize := flag.Int("value-size", 1024, "bytes per value")
	clients := flag.Int("clients", 32, "concurrent writers")
	serverLog := flag.String("server-log", os.DevNull, "file for the server's output")
	httpAddr := flag.String("http", "127.0.0.1:7391", "server HTTP address, for the Go heap figures")
	flag.Parse()
	dir, err := os.MkdirTemp("", "memprobe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"--id", "n1", "--addr", *addr, "--http", *httpAddr, "--data", dir, "--log-level", "warn"}, flag.Args()...)
	logf, err := os.Create(*serverLog)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(*bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, *addr)
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.CreateTable(ctx, "big", *parts, 1); err != nil {
		return err
	}
	if err := waitLeaders(ctx, c, "big"); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	goMemory(*httpAddr)
	report(pid, fmt.Sprintf("idle, %d partitions (ready in %v)", *parts, time.Since(start).Round(time.Millisecond)))
	start = time.Now()
	if err := load(ctx, c, *records, *valueSize, *clients); err != nil {
		return err
	}
	goMemory(*httpAddr)
	report(pid, fmt.Sprintf("after %d x %d B records (%v)", *records, *valueSize, time.Since(start).Round(time.Millisecond)))
	return nil
}

// waitLeaders polls until every partition of table has a leader.
func waitLeaders(ctx context.Context, c *client.Client, table string) error {
	for {
		resp, err := c.Partitions(ctx, table)
		if err == nil {
			ready := 0
			for _, p := range resp.Partitions {
				if p.LeaderId != "" {
					ready++
				}
			}
			if ready == len(resp.Partitions) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for leaders: %w (last error %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// load writes n records of size bytes with the given number of writers.
func load(ctx context.Context, c *client.Client, n, size, writers int) error {
	t, err := c.Table(ctx, "big")
	if err != nil {
		return err
	}
	value := []byte(strings.Repeat("v", size))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n) && errs[w] == nil; i = next.Add(1) - 1 {
				errs[w] = t.Set(ctx, fmt.Appendf(nil, "h%08d", i), []byte("s"), value)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// goMemory prints the Go runtime's memory figures from the server's
// /metrics: the rest of VmRSS is RocksDB, other C memory and the binary.
func goMemory(httpAddr string) {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		fmt.Printf("  go memory: %v\n", err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, m := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes ", "go_memstats_sys_bytes "} {
			if v, ok := strings.CutPrefix(sc.Text(), m); ok {
				f, _ := strconv.ParseFloat(v, 64)
				fmt.Printf("  %s %.1f MiB\n", strings.TrimSpace(m), f/(1<<20))
			}
		}
	}
}

// report prints VmRSS and VmHWM of process pid.
func report(pid int, label string) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fmt.Printf("%s: %v\n", label, err)
		return
	}
	defer f.Close()
	var fields []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && (k == "VmRSS" || k == "VmHWM") {
			fields = append(fields, k+" "+strings.TrimSpace(v))
		}
	}
	fmt.Printf("%-45s %s\n", label+":", strings.Join(fields, ", "))
}
