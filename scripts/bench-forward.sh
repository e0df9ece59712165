#!/usr/bin/env bash
# Forwarding throughput, collector to collector on loopback, as BENCHMARKS.md reports it:
#   scripts/bench-forward.sh COLLECTOR LOADGEN [SECONDS] [COMPRESSION] [SIGNAL]
# The load generator sends SIGNAL (traces, logs) to a first collector for SECONDS while
# it forwards (OTLP/gRPC, COMPRESSION gzip or none) to a second one; the figure is the
# records forwarded per second of wall time, from the load's start until the first
# collector's forward.json says nothing is pending, and the CPU time of both.
set -euo pipefail
collector=$1 loadgen=$2 seconds=${3:-10} compression=${4:-gzip} signal=${5:-traces}
work=$(mktemp -d)
trap 'kill $first $second 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
wait_for_log() { until grep -q "receiving OTLP" "$1"; do sleep 0.1; done; }

second_grpc=$(free_port)
"$collector" serve --grpc "127.0.0.1:$second_grpc" --http "127.0.0.1:$(free_port)" \
    --data-dir "$work/second" 2> "$work/second.log" &
second=$!
first_grpc=$(free_port)
"$collector" serve --grpc "127.0.0.1:$first_grpc" --http "127.0.0.1:$(free_port)" \
    --data-dir "$work/first" --forward "grpc://127.0.0.1:$second_grpc" \
    --forward-compression "$compression" 2> "$work/first.log" &
first=$!
wait_for_log "$work/second.log"
wait_for_log "$work/first.log"

start=$(date +%s.%N)
"$loadgen" send --endpoint "http://127.0.0.1:$first_grpc" --signal "$signal" \
    --duration-secs "$seconds" --json > "$work/send.json"
sent_at=$(date +%s.%N)
records=$(jq '[.signals[].records] | add' "$work/send.json")
status=$(ls "$work"/first/sessions/*/forward.json)
until [ "$(jq '.destinations[0].pending' "$status" 2>/dev/null)" = 0 ] &&
      [ "$(jq '.destinations[0].forwarded' "$status")" -ge "$records" ]; do
    sleep 0.05
done
done_at=$(date +%s.%N)
forwarded=$(jq '.destinations[0].forwarded' "$status")
first_cpu=$(cpu_secs "$first") second_cpu=$(cpu_secs "$second")
python3 - "$records" "$forwarded" "$start" "$sent_at" "$done_at" "$first_cpu" "$second_cpu" <<'PY'
import sys
records, forwarded = int(sys.argv[1]), int(sys.argv[2])
start, sent, done, first_cpu, second_cpu = map(float, sys.argv[3:])
print(f"accepted {records:,} records in {sent - start:.2f} s ({records / (sent - start):,.0f}/s)")
print(f"forwarded {forwarded:,} records; caught up {done - sent:.2f} s after the load ended")
print(f"forwarding throughput {forwarded / (done - start):,.0f} records/s (wall, load start to caught up)")
print(f"CPU: first collector {first_cpu:.2f} s, second {second_cpu:.2f} s")
PY
grep -E "ERROR|WARN" "$work/first.log" | head -5 || true
