#!/usr/bin/env bash
# Starts a 3-node Tandem cluster on 127.0.0.1 (ports 7500-7502), runs
# tandem-bench against 3-replica tables of 8 partitions, prints the figures
# (the JSON line of each run) and stops the cluster. Bounded: each run lasts
# DURATION (the record load phase at most LOAD_LIMIT).
#
# SUITES picks what runs: "single" (set, set with one call per write, get,
# mixed, on 256-byte values) and "records" (records of FIELDS fields of
# FIELD_SIZE bytes: load RECORDS of them, then read-record, update-field,
# update-record and the YCSB-A-like record mix; each line also says how
# many CPU seconds the three servers used during the run, server_cpu_s).
set -euo pipefail
BIN=${BIN:-bin}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-64}
SUITES=${SUITES:-single records}
FIELDS=${FIELDS:-10}
FIELD_SIZE=${FIELD_SIZE:-100}
RECORDS=${RECORDS:-20000}
LOAD_LIMIT=${LOAD_LIMIT:-120s}
DATA=$(mktemp -d /tmp/tandem-bench-XXXXXX)
PEERS=n1=127.0.0.1:7500,n2=127.0.0.1:7501,n3=127.0.0.1:7502
ADDRS=127.0.0.1:7500,127.0.0.1:7501,127.0.0.1:7502
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT
for i in 1 2 3; do
	"$BIN/tandem-server" --id "n$i" --addr "127.0.0.1:750$((i-1))" --http "127.0.0.1:758$((i-1))" \
		--data "$DATA/n$i" --cluster bench --peers "$PEERS" --log-level warn 2>"$DATA/n$i.log" &
	pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 100); do curl -sf "127.0.0.1:758$i/healthz" >/dev/null && break; sleep 0.1; done
done
bench() { "$BIN/tandem-bench" --addr "$ADDRS" --clients "$CLIENTS" --json "$@" | tail -1; }
# ticks sums the CPU time (clock ticks) the server processes used so far.
ticks() {
	local s=0 ut st
	for p in "${pids[@]}"; do
		read -r ut st < <(cut -d' ' -f14,15 "/proc/$p/stat")
		s=$((s + ut + st))
	done
	echo "$s"
}
# cpu_bench is bench that adds the servers' CPU seconds during the run to
# its JSON line ("server_cpu_s"), for the CPU an op costs them.
cpu_bench() {
	local t0 line
	t0=$(ticks)
	line=$(bench "$@")
	echo "$line" | sed "s/^{/{\"server_cpu_s\":$(awk -v d=$(($(ticks) - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz }'),/"
}

if [[ " $SUITES " == *" single "* ]]; then
	echo "== 3 nodes, table of 8 partitions x 3 replicas, $CLIENTS clients, $DURATION, 256-byte values"
	# set1 is set with the SDK's call sharing off (--batch-ops 1): one gRPC
	# call per write, the baseline the shared calls are measured against.
	for op in set set1 get mixed; do
		extra=()
		[ "$op" = set ] && extra=(--create --partitions 8 --replicas 3)
		[ "$op" = set1 ] && op=set && extra=(--batch-ops 1)
		[ "$op" = get ] && extra=(--preload --keys 20000)
		bench --table bench --op "$op" --duration "$DURATION" "${extra[@]}"
	done
fi

if [[ " $SUITES " == *" records "* ]]; then
	echo "== records: $RECORDS records of $FIELDS fields x $FIELD_SIZE bytes, 8 partitions x 3 replicas, $CLIENTS clients, $DURATION"
	"$BIN/tandem-shell" --addr "$ADDRS" --timeout 60s -e "create records --partitions 8 --replicas 3" >/dev/null
	rec=(--table records --fields "$FIELDS" --value-size "$FIELD_SIZE" --keys "$RECORDS")
	bench "${rec[@]}" --op read-record --ops 1 --duration 60s >/dev/null # waits for every leader
	cpu_bench "${rec[@]}" --op load --duration "$LOAD_LIMIT"
	for op in read-record update-field update-record; do
		cpu_bench "${rec[@]}" --op "$op" --duration "$DURATION"
	done
	cpu_bench "${rec[@]}" --op record-mix --workload a --duration "$DURATION"
fi
