package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// testTable is the table both clusters hold; with 2 partitions and
// testHashKeys*testSortKeys records each partition spans several scan pages.
const (
	testTable      = "orders"
	testPartitions = 2
	testHashKeys   = 50
	testSortKeys   = 50
)

// mustOpenTable dials a test cluster and opens its table.
func mustOpenTable(t *testing.T, c *servertest.Cluster, table string) *client.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.Addrs()...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	tbl, err := cl.Table(ctx, table)
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	return tbl
}

// mustFill writes the same records to tbl every time it is called.
func mustFill(t *testing.T, tbl *client.Table) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for h := range testHashKeys {
		kvs := make([]client.SortKeyValue, testSortKeys)
		for s := range kvs {
			kvs[s] = client.SortKeyValue{SortKey: fmt.Appendf(nil, "s%03d", s), Value: fmt.Appendf(nil, "value %d/%d", h, s)}
		}
		if err := tbl.MultiSet(ctx, fmt.Appendf(nil, "user%d", h), kvs); err != nil {
			t.Fatalf("multiset: %v", err)
		}
	}
}

// mustDo runs one write against a test table.
func mustDo(t *testing.T, write func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := write(ctx); err != nil {
		t.Fatal(err)
	}
}

// runVerify runs tandem-verify between two clusters with extra flags.
func runVerify(t *testing.T, src, tgt *servertest.Cluster, table string, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	argv := append([]string{"--source", strings.Join(src.Addrs(), ","), "--target", strings.Join(tgt.Addrs(), ","),
		"--table", table, "--timeout", "1m"}, extra...)
	var out, errOut strings.Builder
	code = run(argv, &out, &errOut)
	return code, out.String(), errOut.String()
}

// lastLine is the last line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestVerifyTwoClusters(t *testing.T) {
	src, tgt := servertest.MakeCluster(t, 1), servertest.MakeCluster(t, 1)
	src.CreateTable(testTable, testPartitions, 1)
	tgt.CreateTable(testTable, testPartitions, 1)
	srcTbl, tgtTbl := mustOpenTable(t, src, testTable), mustOpenTable(t, tgt, testTable)
	mustFill(t, srcTbl)
	mustFill(t, tgtTbl)
	const total = testHashKeys * testSortKeys

	// A record that expires within the grace is ignored even on one side.
	mustDo(t, func(ctx context.Context) error {
		return srcTbl.Set(ctx, []byte("short"), []byte("lived"), []byte("x"), client.WithTTL(time.Second))
	})
	t.Run("identical", func(t *testing.T) {
		code, out, errOut := runVerify(t, src, tgt, testTable)
		if code != exitIdentical || lastLine(out) != fmt.Sprintf("identical: %d records", total) {
			t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
		}
		if n := strings.Count(out, ", identical\n"); n != testPartitions {
			t.Errorf("%d identical partition lines, want %d:\n%s", n, testPartitions, out)
		}
	})

	mustDo(t, func(ctx context.Context) error {
		return tgtTbl.Set(ctx, []byte("user7"), []byte("s010"), []byte("changed"))
	})
	mustDo(t, func(ctx context.Context) error { return tgtTbl.Del(ctx, []byte("user12"), []byte("s049")) })
	mustDo(t, func(ctx context.Context) error {
		return tgtTbl.Set(ctx, []byte("user99"), []byte("new"), []byte("extra"))
	})
	mustDo(t, func(ctx context.Context) error {
		return tgtTbl.Set(ctx, []byte("user3"), []byte("s000"), []byte("value 3/0"), client.WithTTL(time.Hour))
	})
	wantDiffs := []string{
		`value differs: hash "user7" sort "s010": source "value 7/10", target "changed"`,
		`missing on target: hash "user12" sort "s049" value "value 12/49"`,
		`extra on target: hash "user99" sort "new" value "extra"`,
		`expire-at differs: hash "user3" sort "s000": source never, target 20`,
	}
	t.Run("differs", func(t *testing.T) {
		code, out, errOut := runVerify(t, src, tgt, testTable)
		if code != exitDiffers {
			t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", code, exitDiffers, out, errOut)
		}
		for _, d := range wantDiffs {
			if !strings.Contains(out, "  "+d) {
				t.Errorf("output lacks %q:\n%s", d, out)
			}
		}
		// One record missing and one extra leave the target with as many records.
		if last, want := lastLine(out), regexp.MustCompile(fmt.Sprintf(
			`^differs: 4 records in [12] of %d partitions \(source %d records, target %d records\)$`, testPartitions, total, total)); !want.MatchString(last) {
			t.Errorf("last line %q, want a match of %s", last, want)
		}
		t.Logf("output:\n%s", out)
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := runVerify(t, src, tgt, testTable, "--json", "--max-diffs", "3")
		if code != exitDiffers {
			t.Fatalf("exit %d; stdout:\n%s\nstderr: %s", code, out, errOut)
		}
		var res jsonResult
		if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
			t.Fatalf("last line is not JSON: %v\n%s", err, out)
		}
		if res.Identical || res.Records != total || res.TargetRecords != total || res.DifferentRecords != 4 ||
			len(res.Partitions) != testPartitions || len(res.Differences) != 3 || !res.DifferencesTruncated {
			t.Errorf("result %+v", res)
		}
	})
}

func TestVerifyRefusesMismatchedTables(t *testing.T) {
	src, tgt := servertest.MakeCluster(t, 1), servertest.MakeCluster(t, 1)
	src.CreateTable("four", 4, 1)
	tgt.CreateTable("four", 2, 1)
	tests := []struct {
		name, table, stderrHas string
	}{
		{"partition counts differ", "four", "4 partitions on the source but 2 on the target"},
		{"no table", "nope", "table not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runVerify(t, src, tgt, tt.table)
			if code != exitError || !strings.Contains(errOut, tt.stderrHas) {
				t.Fatalf("exit %d, stderr %q; want %d and %q (stdout %q)", code, errOut, exitError, tt.stderrHas, out)
			}
		})
	}
}

func TestVerifySecureClusters(t *testing.T) {
	t.Setenv(credflags.EnvToken, "")
	ca := testpki.New(t, "ca")
	caFile := ca.WriteCert(t, t.TempDir(), "ca")
	secure := func(tokens string) func(*server.Config) {
		toks, err := server.ParseTokens(strings.NewReader(tokens))
		if err != nil {
			t.Fatal(err)
		}
		return servertest.WithAuth(toks, "")
	}
	src := servertest.MakeCluster(t, 1, servertest.WithTLS(t, ca), secure("read src-reader\n"))
	tgt := servertest.MakeCluster(t, 1, servertest.WithTLS(t, ca), secure("read tgt-reader\n"))
	src.CreateTable(testTable, 1, 1)
	tgt.CreateTable(testTable, 1, 1)
	tests := []struct {
		name      string
		extra     []string
		code      int
		stderrHas string
	}{
		{"shared CA, token per side", []string{"--tls-ca", caFile, "--token", "src-reader", "--target-token", "tgt-reader"}, exitIdentical, ""},
		{"no token", []string{"--tls-ca", caFile}, exitError, "source [" + src.Addrs()[0] + "]: table orders: client: unauthenticated"},
		{"target token missing", []string{"--tls-ca", caFile, "--token", "src-reader"}, exitError, "target [" + tgt.Addrs()[0] + "]: table orders: client: unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runVerify(t, src, tgt, testTable, tt.extra...)
			if code != tt.code || !strings.Contains(errOut, tt.stderrHas) {
				t.Fatalf("exit %d, stderr %q; want %d and %q (stdout %q)", code, errOut, tt.code, tt.stderrHas, out)
			}
		})
	}
}
