#!/usr/bin/env bash
# Same machine, same run: raw synced RocksDB (through the rocksdb package),
# a 3-node Tandem cluster and, when etcd is installed, a 3-member etcd
# cluster, all driven with the same loads; prints the figures and ratios.
set -euo pipefail
BIN=${BIN:-bin}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-64}
OUT=$(mktemp -d /tmp/tandem-compare-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "== raw RocksDB: 64 writers, one synced put per batch (go test -bench BenchmarkSyncedPut ./rocksdb/)"
raw_ns=$(go test -run '^$' -bench 'BenchmarkSyncedPut$' -benchtime 3s ./rocksdb/ | awk '/BenchmarkSyncedPut\/db/ {print $3}')
raw=$(awk -v ns="$raw_ns" 'BEGIN {printf "%.0f", 1e9/ns}')
echo "raw synced puts/s: $raw"

echo "== Tandem"
BIN=$BIN DURATION=$DURATION CLIENTS=$CLIENTS tools/bench/cluster-bench.sh | tee "$OUT/tandem.txt"

etcd_set=""; etcd_get=""
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
	E=127.0.0.1:24780,127.0.0.1:24781,127.0.0.1:24782
	for op in set get mixed; do
		extra=()
		[ "$op" = get ] && extra=(--preload --keys 20000)
		"$BIN/tandem-bench" --target etcd --endpoints "$E" --table bench --op "$op" --clients "$CLIENTS" \
			--duration "$DURATION" "${extra[@]}" --json | tail -1 | tee -a "$OUT/etcd.txt"
	done
	etcd_set=$(grep '"op":"set"' "$OUT/etcd.txt" | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
	etcd_get=$(grep '"op":"get"' "$OUT/etcd.txt" | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
fi

t_set=$(grep '"op":"set"' "$OUT/tandem.txt" | grep -v '"batch_ops":1' | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
t_set1=$(grep '"op":"set"' "$OUT/tandem.txt" | grep '"batch_ops":1' | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
t_get=$(grep '"op":"get"' "$OUT/tandem.txt" | sed 's/.*"ops_per_sec":\([0-9.]*\).*/\1/')
echo
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
