#!/usr/bin/env bash
# ppproxy vs HAProxy doing the same job, on loopback:
#   receive PROXY v2 from a trusted peer (127.0.0.1), check it, and forward
#   to a local sink with a fresh PROXY v2 header (send-proxy-v2),
# with the same number of threads. Measures, for each of "direct" (no
# proxy, the sink alone: the ceiling), ppproxy and HAProxy:
#   - connections/s with a 64-byte payload, 1 client at a time
#   - connections/s with a 64-byte payload, 64 concurrent clients
#   - bulk throughput of one connection
# and prints the figures and the ppproxy/HAProxy ratios.
#
#   tests/bench/proxy_bench.sh BUILD_DIR [THREADS]
#
# THREADS (default 1): ppproxy --workers and HAProxy nbthread.
# Environment: BENCH_ROUNDS (default 3; the table gives medians; each
# round runs every target in turn), BENCH_SECONDS (per rate run, default
# 3), BENCH_BULK_MB (default 2048). Needs gcc (or cc), haproxy, python3.
# HAProxy runs with "option splice-auto" (zero-copy, like ppproxy) and
# without logging; ppproxy writes its log line per connection to /dev/null.
# Both allow 4000 connections (HAProxy cannot get the descriptors for more
# under a 20000 limit).
# The load generator and the sink share the machine with the proxies:
# figures are comparisons on this machine, not absolute capacities.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [THREADS]}" && pwd)
threads=${2:-1}
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
bulk_bytes=$(( ${BENCH_BULK_MB:-2048} * 1024 * 1024 ))
ppproxy=$build/examples/ppproxy/ppproxy
[ -x "$ppproxy" ] || { echo "no $ppproxy"; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is needed"; exit 1; }

work=$(mktemp -d /tmp/proxy-bench.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

${CC:-cc} -std=c99 -O2 -Wall -Wextra -o "$work/loadgen" "$here/loadgen.c"
loadgen=$work/loadgen

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_listen() { # wait_listen PORT
    local i hex
    hex=$(printf '%04X' "$1")
    for i in $(seq 1 100); do
        grep -q ":$hex [0-9A-F:]* 0A " /proc/net/tcp && return 0
        sleep 0.05
    done
    echo "nothing listens on $1"
    exit 1
}

sink=$(free_port)
pp=$(free_port)
hp=$(free_port)

"$loadgen" sink "$sink" &
pids+=($!)
wait_listen "$sink"

"$ppproxy" --listen "127.0.0.1:$pp" --upstream "127.0.0.1:$sink" \
    --trusted 127.0.0.1/32 --send-proxy v2 --timeout 1000 \
    --workers "$threads" --max-conns 4000 --log /dev/null 2>"$work/ppproxy.err" &
pids+=($!)
wait_listen "$pp"

cat >"$work/haproxy.cfg" <<EOF
global
    nbthread $threads
    maxconn 4000
defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$hp
    tcp-request connection reject if !{ src 127.0.0.1 }
    tcp-request connection expect-proxy layer4
    default_backend be
backend be
    server sink 127.0.0.1:$sink send-proxy-v2
EOF
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.out" 2>&1 &
pids+=($!)
wait_listen "$hp"

# One round measures every target once, in turn, so that a change in the
# machine's load hits them alike; the tables show the median of the rounds.
declare -A runs
figure() { # figure LINE FIELD: the number before FIELD ("conns/s", "MB/s")
    awk -v f="$2" '{for (i = 2; i <= NF; i++) if ($i == f) print $(i-1)}' <<<"$1"
}
run() { # run NAME KIND ARGS...: one measurement, appended to runs[NAME.KIND]
    local name=$1 kind=$2 out
    shift 2
    out=$("$loadgen" "$@") || { echo "$name $kind failed: $out"; exit 1; }
    echo "  round $round, $name, $kind: $out"
    runs[$name.$kind]+=" $(figure "$out" "$([ "$kind" = bulk ] && echo MB/s || echo conns/s)")"
}
median() { # median NAME.KIND
    tr ' ' '\n' <<<"${runs[$1]}" | grep . | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo "== proxy benchmark: $threads thread(s), $rounds rounds of ${secs} s rate runs and $((bulk_bytes >> 20)) MiB bulk, $(nproc) CPUs"
echo "   $(haproxy -v | head -n 1)"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
    for target in direct:$sink ppproxy:$pp haproxy:$hp; do
        name=${target%%:*}
        port=${target#*:}
        run "$name" rate1 rate "$port" 1 "$secs" 64
        run "$name" rate64 rate "$port" 64 "$secs" 64
        run "$name" bulk bulk "$port" "$bulk_bytes"
    done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
row() { # row LABEL KIND
    local d p h
    d=$(median "direct.$2")
    p=$(median "ppproxy.$2")
    h=$(median "haproxy.$2")
    printf '%-26s %12s %12s %12s %16s\n' "$1" "$d" "$p" "$h" "$(ratio "$p" "$h")"
}
echo
echo "medians of $rounds rounds:"
printf '%-26s %12s %12s %12s %16s\n' "" direct ppproxy haproxy "ppproxy/haproxy"
row "conns/s, 1 client" rate1
row "conns/s, 64 clients" rate64
row "bulk MB/s, 1 connection" bulk
