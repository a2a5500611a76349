#!/usr/bin/env bash
# Same machine, same run: raw synced RocksDB (through the rocksdb package),
# a 3-node Tandem cluster and, when etcd is installed, a 3-member etcd
# cluster, all driven with the same loads; prints the figures and ratios.
#
# Two suites (SUITES, default both): "single" records (set/get/mixed of
# 256-byte values) and "records" of FIELDS fields (YCSB's shape: load, read
# a whole record, update one field, update a whole record, and the A mix of
# 50% record reads and 50% field updates, zipfian). In etcd a record is one
# key per field under the record's prefix: a read is a range get of the
# prefix, a whole-record write one transaction of FIELDS puts; the records
# run again with the layout of go-ycsb's etcd binding (one key per record,
# the fields JSON-encoded; an update of one field rewrites the value with
# that field alone), the client an independent YCSB comparison used.
#
# BASE_BIN, when set, names a second set of binaries (say, main's) whose
# Tandem loads run in the same run too, so the summary shows this build
# against it.
set -euo pipefail
BIN=${BIN:-bin}
BASE_BIN=${BASE_BIN:-}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-64}
SUITES=${SUITES:-single records}
FIELDS=${FIELDS:-10}
FIELD_SIZE=${FIELD_SIZE:-100}
RECORDS=${RECORDS:-20000}
LOAD_LIMIT=${LOAD_LIMIT:-120s}
export DURATION CLIENTS SUITES FIELDS FIELD_SIZE RECORDS LOAD_LIMIT
OUT=$(mktemp -d /tmp/tandem-compare-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
has() { [[ " $SUITES " == *" $1 "* ]]; }

# num FILE OP KEY prints the first (top-level) number KEY of the JSON line
# of op OP in FILE, or nothing.
num() {
	[ -f "$1" ] || return 0
	{ grep "\"op\":\"$2\"" "$1" || true; } | { grep -v '"batch_ops":1' || true; } | head -1 |
		awk -v k="$3" '{ if (match($0, "\"" k "\":[0-9.e+-]+")) { s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); print s } }'
}

raw=""
if has single; then
	echo "== raw RocksDB: 64 writers, one synced put per batch (go test -bench BenchmarkSyncedPut ./rocksdb/)"
	raw_ns=$(go test -run '^$' -bench 'BenchmarkSyncedPut$' -benchtime 3s ./rocksdb/ | awk '/BenchmarkSyncedPut\/db/ {print $3}')
	raw=$(awk -v ns="$raw_ns" 'BEGIN {printf "%.0f", 1e9/ns}')
	echo "raw synced puts/s: $raw"
fi

echo "== Tandem ($BIN)"
BIN=$BIN tools/bench/cluster-bench.sh | tee "$OUT/tandem.txt"
if [ -n "$BASE_BIN" ]; then
	echo "== Tandem baseline ($BASE_BIN)"
	BIN=$BASE_BIN tools/bench/cluster-bench.sh | tee "$OUT/base.txt"
fi

if command -v etcd >/dev/null; then
	echo "== etcd $(etcd --version | head -1 | awk '{print $3}'), 3 members, same loads"
	pids=()
	cluster=e1=http://127.0.0.1:24880,e2=http://127.0.0.1:24881,e3=http://127.0.0.1:24882
	for i in 0 1 2; do
		etcd --name "e$((i+1))" --data-dir "$OUT/e$i" --listen-client-urls "http://127.0.0.1:2478$i" \
			--advertise-client-urls "http://127.0.0.1:2478$i" --listen-peer-urls "http://127.0.0.1:2488$i" \
			--initial-advertise-peer-urls "http://127.0.0.1:2488$i" --initial-cluster "$cluster" \
			--initial-cluster-state new --log-level error >"$OUT/e$i.log" 2>&1 &
		pids+=($!)
	done
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT
	sleep 3
	etcd_out=$OUT/etcd.txt
	ticks() {
		local s=0 ut st
		for p in "${pids[@]}"; do
			read -r ut st < <(cut -d' ' -f14,15 "/proc/$p/stat")
			s=$((s + ut + st))
		done
		echo "$s"
	}
	# etcd_bench runs tandem-bench against etcd and adds the members' CPU
	# seconds during the run to its JSON line, as cluster-bench.sh does.
	etcd_bench() {
		local t0 line
		t0=$(ticks)
		line=$("$BIN/tandem-bench" --target etcd --endpoints 127.0.0.1:24780,127.0.0.1:24781,127.0.0.1:24782 \
			--clients "$CLIENTS" --json "$@" | tail -1)
		echo "$line" | sed "s/^{/{\"server_cpu_s\":$(awk -v d=$(($(ticks) - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz }'),/" |
			tee -a "$etcd_out"
	}
	if has single; then
		for op in set get mixed; do
			extra=()
			[ "$op" = get ] && extra=(--preload --keys 20000)
			etcd_bench --table bench --op "$op" --duration "$DURATION" "${extra[@]}"
		done
	fi
	if has records; then
		# keys: the same data model as Tandem's (a field read and written on
		# its own); value: go-ycsb's etcd binding (a record is one key).
		for layout in keys value; do
			etcd_out=$OUT/etcd-$layout.txt
			echo "-- etcd record layout: $layout"
			rec=(--table "records-$layout" --etcd-record "$layout" --fields "$FIELDS" --value-size "$FIELD_SIZE" --keys "$RECORDS")
			etcd_bench "${rec[@]}" --op load --duration "$LOAD_LIMIT"
			for op in read-record update-field update-record; do
				etcd_bench "${rec[@]}" --op "$op" --duration "$DURATION"
			done
			etcd_bench "${rec[@]}" --op record-mix --workload a --duration "$DURATION"
		done
	fi
fi

echo
if has single; then
	t_set=$(num "$OUT/tandem.txt" set ops_per_sec)
	t_set1=$(grep '"op":"set"' "$OUT/tandem.txt" | grep '"batch_ops":1' | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
	t_get=$(num "$OUT/tandem.txt" get ops_per_sec)
	etcd_set=$(num "$OUT/etcd.txt" set ops_per_sec)
	etcd_get=$(num "$OUT/etcd.txt" get ops_per_sec)
	echo "== summary ($CLIENTS clients, $DURATION, 256-byte values, synced writes)"
	awk -v raw="$raw" -v ts="$t_set" -v ts1="$t_set1" -v tg="$t_get" -v es="$etcd_set" -v eg="$etcd_get" 'BEGIN {
		printf "%-34s %10s\n", "measure", "ops/s"
		printf "%-34s %10.0f\n", "raw RocksDB synced single puts", raw
		printf "%-34s %10.0f   %.2fx raw\n", "Tandem 3 replicas, set", ts, ts/raw
		printf "%-34s %10.0f   set is %.2fx this\n", "Tandem set, one call per write", ts1, ts/ts1
		printf "%-34s %10.0f   %.2fx Tandem set\n", "Tandem 3 replicas, linearizable get", tg, tg/ts
		if (es != "") {
			printf "%-34s %10.0f   Tandem/etcd %.2fx\n", "etcd 3 members, put", es, ts/es
			printf "%-34s %10.0f   Tandem/etcd %.2fx\n", "etcd 3 members, linearizable get", eg, tg/eg
		}
	}'
fi
if has records; then
	echo "== records: $RECORDS records of $FIELDS fields x $FIELD_SIZE bytes, $CLIENTS clients, $DURATION per op"
	echo "   (ops/s and p99 ms; load = inserting every record once; etcd: a key per field,"
	echo "   etcd 1 key: the record JSON-encoded in one key, as go-ycsb's etcd binding stores it)"
	printf "%-14s %8s %8s" op Tandem p99
	[ -n "$BASE_BIN" ] && printf " %8s %8s %9s" baseline p99 /baseline
	[ -f "$OUT/etcd-keys.txt" ] && printf " %8s %8s %7s %8s %8s %7s" etcd p99 /etcd "etcd 1k" p99 /etcd1k
	echo
	for op in load read-record update-field update-record record-mix; do
		t=$(num "$OUT/tandem.txt" "$op" ops_per_sec); tp=$(num "$OUT/tandem.txt" "$op" p99_ms)
		b=$(num "$OUT/base.txt" "$op" ops_per_sec); bp=$(num "$OUT/base.txt" "$op" p99_ms)
		e=$(num "$OUT/etcd-keys.txt" "$op" ops_per_sec); ep=$(num "$OUT/etcd-keys.txt" "$op" p99_ms)
		e1=$(num "$OUT/etcd-value.txt" "$op" ops_per_sec); e1p=$(num "$OUT/etcd-value.txt" "$op" p99_ms)
		awk -v op="$op" -v t="$t" -v tp="$tp" -v b="$b" -v bp="$bp" -v e="$e" -v ep="$ep" \
			-v e1="$e1" -v e1p="$e1p" -v base="$BASE_BIN" 'BEGIN {
			if (op == "record-mix") op = "record-mix A"
			printf "%-14s %8.0f %8.2f", op, t, tp
			if (base != "") printf " %8.0f %8.2f %8.2fx", b, bp, (b > 0 ? t/b : 0)
			if (e != "") printf " %8.0f %8.2f %6.2fx %8.0f %8.2f %6.2fx", e, ep, (e > 0 ? t/e : 0), e1, e1p, (e1 > 0 ? t/e1 : 0)
			printf "\n"
		}'
	done
	echo "   servers' CPU per op, ms (all three processes, user + system)"
	printf "%-14s %8s" op Tandem
	[ -n "$BASE_BIN" ] && printf " %8s" baseline
	[ -f "$OUT/etcd-keys.txt" ] && printf " %8s %8s" etcd "etcd 1k"
	echo
	for op in load read-record update-field update-record record-mix; do
		cpu() { awk -v c="$(num "$1" "$op" server_cpu_s)" -v n="$(num "$1" "$op" ops)" 'BEGIN { if (n > 0) printf " %8.3f", c * 1000 / n; else printf " %8s", "-" }'; }
		printf "%-14s" "$op"
		cpu "$OUT/tandem.txt"
		[ -n "$BASE_BIN" ] && cpu "$OUT/base.txt"
		[ -f "$OUT/etcd-keys.txt" ] && cpu "$OUT/etcd-keys.txt" && cpu "$OUT/etcd-value.txt"
		echo
	done
fi
