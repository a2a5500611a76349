package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tools/internal/credflags"
)

// The benchmark's operations. The first three work on single records (one
// sort key per hash key); the others on records of --fields sort keys, the
// shape applications give multi-field rows (YCSB's records).
const (
	opSet          = "set"
	opGet          = "get"
	opMixed        = "mixed"
	opLoad         = "load"          // insert every record once, all fields (YCSB's load phase)
	opReadRecord   = "read-record"   // read all fields of a record
	opUpdateField  = "update-field"  // write one field of a record
	opUpdateRecord = "update-record" // write all fields of a record atomically
	opRecordMix    = "record-mix"    // --read-ratio read-record, the rest update-field
)

// recordOps are the operations on records of --fields fields.
var recordOps = map[string]bool{opLoad: true, opReadRecord: true, opUpdateField: true, opUpdateRecord: true, opRecordMix: true}

// opNames lists every operation, for messages.
const opNames = "set, get, mixed, load, read-record, update-field, update-record or record-mix"

// The stores tandem-bench can drive.
const (
	targetTandem = "tandem"
	targetEtcd   = "etcd"
)

// The layouts of a record in etcd (--etcd-record).
const (
	etcdRecordKeys  = "keys"  // one key per field under the record's prefix
	etcdRecordValue = "value" // one key, the fields JSON-encoded (go-ycsb's etcd binding)
)

// The key distributions.
const (
	distUniform = "uniform"
	distZipfian = "zipfian"
)

// options are the command-line flags.
type options struct {
	target         string
	addrs          []string
	table          string
	op             string
	clients        int
	duration       time.Duration
	ops            int64
	valueSize      int
	keys           int
	dist           string
	zipfS          float64
	readRatio      float64
	fields         int
	etcdRecord     string
	preload        bool
	preloadTimeout time.Duration
	create         bool
	partitions     int
	replicas       int
	timeout        time.Duration
	batchOps       int
	json           bool
	cred           credflags.Flags
}

// parseOptions parses and validates the command line.
func parseOptions(argv []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tandem-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7100", "RPC address of any node, or a comma-separated list")
	fs.StringVar(&o.target, "target", targetTandem, "store to load: tandem or etcd (same load, for comparison)")
	endpoints := fs.String("endpoints", "", "etcd endpoints (HOST:PORT,...) for --target etcd")
	workload := fs.String("workload", "", "YCSB mix: a (50% reads), b (95% reads) or c (reads only); sets --read-ratio, --dist zipfian and, unless --op is record-mix, --op mixed")
	fs.StringVar(&o.table, "table", "", "table to load (required)")
	fs.StringVar(&o.op, "op", "", "operation: "+opNames+" (required)")
	fs.IntVar(&o.clients, "clients", 64, "concurrent closed-loop clients, one op in flight each")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure; the run always stops then")
	fs.Int64Var(&o.ops, "ops", 0, "stop after this many ops, or at --duration if sooner (0 = no limit)")
	fs.IntVar(&o.valueSize, "value-size", 256, "bytes per written value")
	fs.IntVar(&o.keys, "keys", 100000, "number of distinct keys or records (hash keys k0..kN-1; sort key s, or the --fields fields)")
	fs.IntVar(&o.fields, "fields", 10, "fields of a record for the record ops: sort keys field0..fieldN-1 of one hash key (etcd: keys TABLE:HASHKEY/fieldI)")
	fs.StringVar(&o.etcdRecord, "etcd-record", etcdRecordKeys, "etcd record layout: keys (one key per field; a read is a range get, a whole-record write one txn) or value (one key, the fields JSON-encoded, as go-ycsb's etcd binding stores them; an update of one field rewrites the value with that field alone)")
	fs.StringVar(&o.dist, "dist", distUniform, "key distribution: uniform or zipfian")
	fs.Float64Var(&o.zipfS, "zipf-s", 1.1, "zipfian exponent s (> 1); larger is more skewed")
	fs.Float64Var(&o.readRatio, "read-ratio", 0.5, "fraction of reads for --op mixed and record-mix")
	fs.BoolVar(&o.preload, "preload", false, "write every key (record ops: every record, all fields) once before measuring (needed for reads)")
	fs.DurationVar(&o.preloadTimeout, "preload-timeout", 5*time.Minute, "time limit of --preload")
	fs.BoolVar(&o.create, "create", false, "create the table if it does not exist")
	fs.IntVar(&o.partitions, "partitions", 8, "partitions of a table made by --create")
	fs.IntVar(&o.replicas, "replicas", 0, "replicas of a table made by --create (0 = server default, min(3, nodes))")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of one op, retries included")
	fs.IntVar(&o.batchOps, "batch-ops", 0, "tandem: concurrent single-record calls to one partition that share one gRPC call (0 = SDK default, 1 = no sharing)")
	fs.BoolVar(&o.json, "json", false, "also print the results as one JSON object on the last line")
	o.cred.Register(fs, "", "the Tandem cluster")
	if err := fs.Parse(argv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.addrs = client.SplitAddrs(*addr)
	if o.target == targetEtcd && *endpoints != "" {
		o.addrs = client.SplitAddrs(*endpoints)
	}
	if err := applyWorkload(&o, *workload); err != nil {
		return o, err
	}
	return o, o.validate()
}

// validate reports the first problem with o.
func (o options) validate() error {
	switch {
	case len(o.addrs) == 0:
		return errors.New("--addr is empty")
	case o.table == "":
		return errors.New("--table is required")
	case o.op != opSet && o.op != opGet && o.op != opMixed && !recordOps[o.op]:
		return fmt.Errorf("--op must be %s, not %q", opNames, o.op)
	case o.clients <= 0:
		return fmt.Errorf("--clients must be positive, not %d", o.clients)
	case o.duration <= 0:
		return fmt.Errorf("--duration must be positive, not %s", o.duration)
	case o.ops < 0:
		return fmt.Errorf("--ops must be 0 (no limit) or positive, not %d", o.ops)
	case o.valueSize < 0:
		return fmt.Errorf("--value-size must not be negative, not %d", o.valueSize)
	case o.keys <= 0:
		return fmt.Errorf("--keys must be positive, not %d", o.keys)
	}
	return o.validateMore()
}

// validateMore is validate for the less common flags.
func (o options) validateMore() error {
	switch {
	case o.target != targetTandem && o.target != targetEtcd:
		return fmt.Errorf("--target must be tandem or etcd, not %q", o.target)
	case o.dist != distUniform && o.dist != distZipfian:
		return fmt.Errorf("--dist must be uniform or zipfian, not %q", o.dist)
	case o.dist == distZipfian && !(o.zipfS > 1):
		return fmt.Errorf("--zipf-s must be greater than 1, not %g", o.zipfS)
	case !(o.readRatio >= 0 && o.readRatio <= 1):
		return fmt.Errorf("--read-ratio must be between 0 and 1, not %g", o.readRatio)
	case o.preloadTimeout <= 0:
		return fmt.Errorf("--preload-timeout must be positive, not %s", o.preloadTimeout)
	case o.partitions <= 0:
		return fmt.Errorf("--partitions must be positive, not %d", o.partitions)
	case o.replicas < 0:
		return fmt.Errorf("--replicas must be 0 (server default) or positive, not %d", o.replicas)
	case o.timeout <= 0:
		return fmt.Errorf("--timeout must be positive, not %s", o.timeout)
	case o.batchOps < 0:
		return fmt.Errorf("--batch-ops must not be negative, not %d", o.batchOps)
	case o.fields <= 0:
		return fmt.Errorf("--fields must be positive, not %d", o.fields)
	case o.etcdRecord != etcdRecordKeys && o.etcdRecord != etcdRecordValue:
		return fmt.Errorf("--etcd-record must be keys or value, not %q", o.etcdRecord)
	}
	return nil
}

// applyWorkload turns a YCSB workload letter into op, read ratio and
// distribution (YCSB's core workloads A, B and C, with zipfian keys). With
// --op record-mix it is the record-shaped mix: reads of whole records and
// updates of one field, as YCSB runs them.
func applyWorkload(o *options, w string) error {
	ratios := map[string]float64{"a": 0.5, "b": 0.95, "c": 1}
	if w == "" {
		return nil
	}
	r, ok := ratios[strings.ToLower(w)]
	if !ok {
		return fmt.Errorf("--workload %q: want a, b or c", w)
	}
	if o.op != opRecordMix {
		o.op = opMixed
	}
	o.readRatio, o.dist = r, distZipfian
	return nil
}
