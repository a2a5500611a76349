package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/server/servertest"
)

// runJSON runs tandem-bench with args and returns its JSON summary.
func runJSON(t *testing.T, args ...string) summary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append(args, "--json"), &stdout, &stderr); code != exitOK {
		t.Fatalf("tandem-bench %v: exit %d\n%s", args, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("tandem-bench %v: last line is not JSON: %v", args, err)
	}
	if s.Errors != 0 {
		t.Fatalf("tandem-bench %v: %d errors\n%s", args, s.Errors, stderr.String())
	}
	return s
}

// recordRuns loads 40 records of 3 fields, then runs every record op
// against them; base names the store.
func recordRuns(t *testing.T, base []string) {
	t.Helper()
	base = append(base, "--clients", "4", "--keys", "40", "--fields", "3", "--value-size", "8", "--duration", "1m")
	if s := runJSON(t, append(base, "--op", "load")...); s.Ops != 40 || s.Fields != 3 {
		t.Fatalf("load: %d ops of %d fields, want 40 records of 3", s.Ops, s.Fields)
	}
	if s := runJSON(t, append(base, "--op", "read-record", "--ops", "60")...); s.Ops != 60 || s.NotFound != 0 {
		t.Fatalf("read-record after load: %d ops, %d not found; want 60, 0", s.Ops, s.NotFound)
	}
	for _, op := range []string{"update-field", "update-record"} {
		if s := runJSON(t, append(base, "--op", op, "--ops", "30")...); s.Ops != 30 {
			t.Fatalf("%s: %d ops, want 30", op, s.Ops)
		}
	}
	s := runJSON(t, append(base, "--op", "record-mix", "--workload", "a", "--ops", "80")...)
	if s.Get == nil || s.Set == nil || s.Get.Ops+s.Set.Ops != 80 || s.NotFound != 0 {
		t.Fatalf("record-mix: %+v", s)
	}
}

// The record ops write and read whole records of a real cluster: after the
// load phase every record has all its fields.
func TestRecordOpsOnTandem(t *testing.T) {
	cl := servertest.MakeCluster(t, 1)
	cl.CreateTable("r", 2, 1)
	recordRuns(t, []string{"--addr", cl.Addrs()[0], "--table", "r"})

	c, err := client.Dial(context.Background(), cl.Addrs()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.Table(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := tbl.ScanHashKey(context.Background(), []byte("k39"), 0)
	if err != nil || len(recs) != 3 || string(recs[2].SortKey) != "field2" || len(recs[2].Value) != 8 {
		t.Fatalf("record k39 = %v, %v; want field0..field2 of 8 bytes", recs, err)
	}
}

// The same loads drive etcd, a record being one key per field under the
// record's prefix. Skipped when etcd is not installed (apt-get install
// etcd-server).
func TestRecordOpsOnEtcd(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd not installed")
	}
	endpoint := startEtcd(t)
	recordRuns(t, []string{"--target", "etcd", "--endpoints", endpoint, "--table", "r"})

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "r:k39/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 3 || string(resp.Kvs[2].Key) != "r:k39/field2" {
		t.Fatalf("record k39 = %v, %v; want r:k39/field0..2", resp, err)
	}

	// go-ycsb's layout: one key per record, the fields JSON-encoded.
	runJSON(t, "--target", "etcd", "--endpoints", endpoint, "--table", "r", "--etcd-record", "value",
		"--op", "load", "--keys", "5", "--fields", "3", "--value-size", "8", "--clients", "2")
	resp, err = cli.Get(context.Background(), "r:k4")
	var rec map[string][]byte
	if err != nil || len(resp.Kvs) != 1 || json.Unmarshal(resp.Kvs[0].Value, &rec) != nil || len(rec["field2"]) != 8 {
		t.Fatalf("record k4 = %v, %v; want one key holding field0..2", resp, err)
	}
}

// startEtcd runs a one-member etcd in a temporary directory until the test
// ends and returns its client endpoint once it answers.
func startEtcd(t *testing.T) string {
	t.Helper()
	client, peer := freePort(t), freePort(t)
	cmd := exec.Command("etcd", "--name", "e1", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "e1=http://"+peer, "--log-level", "error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	servertest.WaitFor(t, 30*time.Second, "etcd to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := cli.Get(ctx, "probe")
		return err == nil
	})
	return client
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr())
}
