#!/usr/bin/env bash
# Idle cost: starts 3 nodes on 127.0.0.1 (ports 7600-7602), creates TABLES
# tables of PARTITIONS partitions x 3 replicas (default 3 x 64 = 576
# replicas), waits for every group to settle, then measures the CPU time the
# three server processes use over SECS seconds (from /proc/PID/stat), as a
# percentage of one core. ELECTION_TIMEOUT, when set, passes
# --raft-election-timeout (otherwise the server's default applies).
set -euo pipefail
BIN=${BIN:-bin}
TABLES=${TABLES:-3}
PARTITIONS=${PARTITIONS:-64}
SECS=${SECS:-20}
ELECTION_TIMEOUT=${ELECTION_TIMEOUT:-}
timeout_args=()
[ -n "$ELECTION_TIMEOUT" ] && timeout_args=(--raft-election-timeout "$ELECTION_TIMEOUT")
DATA=$(mktemp -d /tmp/tandem-idle-XXXXXX)
PEERS=n1=127.0.0.1:7600,n2=127.0.0.1:7601,n3=127.0.0.1:7602
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT
for i in 1 2 3; do
	"$BIN/tandem-server" --id "n$i" --addr "127.0.0.1:760$((i-1))" --http "127.0.0.1:768$((i-1))" \
		--data "$DATA/n$i" --cluster idle --peers "$PEERS" --log-level warn \
		"${timeout_args[@]}" 2>"$DATA/n$i.log" &
	pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 100); do curl -sf "127.0.0.1:768$i/healthz" >/dev/null && break; sleep 0.1; done
done
for t in $(seq "$TABLES"); do
	"$BIN/tandem-shell" --addr 127.0.0.1:7600 --timeout 120s -e "create idle$t --partitions $PARTITIONS --replicas 3" >/dev/null
done
# Settled: every partition of every table has a leader.
for _ in $(seq 300); do
	out=$("$BIN/tandem-shell" --addr 127.0.0.1:7600 --json -e "$(for t in $(seq "$TABLES"); do printf 'partitions idle%s;' "$t"; done)" 2>/dev/null || true)
	[ -n "$out" ] && ! grep -q '"leader": *""' <<<"$out" && ! grep -q '"leader_id": *""' <<<"$out" && break
	sleep 1
done
sleep 5
ticks() {
	local s=0
	for p in "${pids[@]}"; do
		read -r ut st < <(cut -d' ' -f14,15 "/proc/$p/stat")
		s=$((s + ut + st))
	done
	echo "$s"
}
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s%N)
sleep "$SECS"
t1=$(ticks); s1=$(date +%s%N)
replicas=$((TABLES * PARTITIONS * 3))
pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v ns=$((s1 - s0)) 'BEGIN { printf "%.1f", d / hz / (ns / 1e9) * 100 }')
echo "idle: $replicas replicas on 3 nodes, election timeout ${ELECTION_TIMEOUT:-default}: $pct% of one core over ${SECS}s"
