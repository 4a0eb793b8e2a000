#!/usr/bin/env bash
# ppproxy vs HAProxy doing the same job, on loopback, each on a CPU of its
# own: receive PROXY v2 from a trusted peer (127.0.0.1), check it, and
# forward to a sink with a fresh PROXY v2 header (send-proxy-v2).
#
#   tests/bench/proxy_bench.sh BUILD_DIR
#
# Setup: the proxy under test runs pinned to CPU $BENCH_PROXY_CPU (default
# 1) with one thread (ppproxy --workers 1, HAProxy nbthread 1); the load
# generator and the sink (tests/bench/loadgen.c) run pinned to the other
# CPU ($BENCH_LOAD_CPU, default 0). Each round measures HAProxy and ppproxy
# in turn, so a change in the machine's load hits both alike; the table
# gives the medians of the rounds. Measured:
#   - ping: CONC clients (1, 32, 256) each connect, send the header and a
#     64-byte request, read a 5-byte answer and close with a reset (one
#     request per connection): connections/s, and the proxy's CPU time per
#     connection (utime + stime from /proc/PID/stat, before and after);
#   - whether the load side, not the proxy, was the limit: the proxy's CPU
#     use well under 100% while the load CPU is full ("load-bound"), and
#     whether other processes ran on the proxy's CPU ("shared CPU"), from
#     /proc/stat;
#   - bulk: one connection, BENCH_BULK_MB MiB (default 1024) through the
#     proxy (HAProxy with splice-auto, ppproxy splices), MB/s;
#   - memory: resident memory (VmRSS) of a fresh proxy before and with
#     5 000 open connections (BENCH_HOLD) in the header phase (connected,
#     no header sent yet) and in the relay phase (header and 64 bytes sent,
#     upstream connected), per connection.
# Ends with a Markdown table ready to paste into README.md.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (per rate run,
# default 3), BENCH_BULK_MB, BENCH_HOLD, BENCH_KEEP=1 (keep the work dir).
# HAProxy: "option splice-auto", "option nolinger" (not for bulk), no log; ppproxy writes
# its log line per connection to /dev/null. Needs gcc (or cc), haproxy,
# python3, taskset (util-linux). Not part of the test suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
bulk_bytes=$(( ${BENCH_BULK_MB:-1024} * 1024 * 1024 ))
hold=${BENCH_HOLD:-5000}
pcpu=${BENCH_PROXY_CPU:-1}
lcpu=${BENCH_LOAD_CPU:-0}
concs=(1 32 256)
ppproxy=$build/examples/ppproxy/ppproxy
[ -x "$ppproxy" ] || { echo "no $ppproxy"; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is needed"; exit 1; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed"; exit 1; }
# Every held connection costs descriptors in the client, proxy and sink.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tck=$(getconf CLK_TCK)

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
load() { taskset -c "$lcpu" "$work/loadgen" "$@"; }

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
cpu_ticks() { # utime + stime of PID, all threads, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
cpu_busy() { # cpu_busy N: busy and total ticks of CPU N so far, all processes
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

sink=$(free_port)
pp=$(free_port)
hp=$(free_port)
hb=$(free_port)
taskset -c "$lcpu" "$work/loadgen" sink "$sink" &
sink_pid=$!
pids+=("$sink_pid")
wait_listen "$sink"

cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 6000
defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$hp
    option nolinger
    tcp-request connection reject if !{ src 127.0.0.1 }
    tcp-request connection expect-proxy layer4
    default_backend be
backend be
    option nolinger
    server sink 127.0.0.1:$sink send-proxy-v2
# bulk: nolinger would reset the connection before the sink's answer
frontend fe_bulk
    bind 127.0.0.1:$hb
    tcp-request connection reject if !{ src 127.0.0.1 }
    tcp-request connection expect-proxy layer4
    default_backend be_bulk
backend be_bulk
    server sink 127.0.0.1:$sink send-proxy-v2
EOF

declare -A pid_of
start_proxy() { # start_proxy ppproxy|haproxy: (re)start it, fresh
    local name=$1 old=${pid_of[$1]:-} i
    if [ -n "$old" ]; then
        kill "$old" 2>/dev/null || true
        wait "$old" 2>/dev/null || true
        for i in "${!pids[@]}"; do [ "${pids[$i]}" != "$old" ] || unset "pids[$i]"; done
    fi
    if [ "$name" = ppproxy ]; then
        taskset -c "$pcpu" "$ppproxy" --listen "127.0.0.1:$pp" \
            --upstream "127.0.0.1:$sink" --trusted 127.0.0.1/32 \
            --send-proxy v2 --timeout 60000 --workers 1 --max-conns 6000 \
            --log /dev/null 2>>"$work/ppproxy.err" &
        pid_of[$name]=$!
        wait_listen "$pp"
    else
        taskset -c "$pcpu" haproxy -db -f "$work/haproxy.cfg" \
            >>"$work/haproxy.out" 2>&1 &
        pid_of[$name]=$!
        wait_listen "$hp"
    fi
    pids+=("${pid_of[$name]}")
}
port_of() { [ "$1" = ppproxy ] && echo "$pp" || echo "$hp"; }

declare -A runs
add() { runs[$1]+=" $2"; }
median() { # median KEY
    tr ' ' '\n' <<<"${runs[$1]:-}" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field() { # field LINE WORD: the token before WORD
    awk -v f="$2" '{ for (i = 2; i <= NF; i++) if ($i == f) print $(i-1) }' <<<"$1"
}

ping_run() { # ping_run NAME CONC
    local name=$1 conc=$2 pid=${pid_of[$1]} c0 s0 c1 s1 t0 t1 out rate conns wall pcpu_pct lcpu_pct us
    local pb0 pt0 lb0 lt0 pb1 pt1 lb1 lt1 pbusy lbusy
    read -r pb0 pt0 < <(cpu_busy "$pcpu"); read -r lb0 lt0 < <(cpu_busy "$lcpu")
    c0=$(cpu_ticks "$pid"); s0=$(cpu_ticks "$sink_pid"); t0=$(date +%s.%N)
    out=$(load ping "$(port_of "$name")" "$conc" "$secs") || { echo "$name ping $conc failed: $out"; exit 1; }
    c1=$(cpu_ticks "$pid"); s1=$(cpu_ticks "$sink_pid"); t1=$(date +%s.%N)
    read -r pb1 pt1 < <(cpu_busy "$pcpu"); read -r lb1 lt1 < <(cpu_busy "$lcpu")
    pbusy=$(( (pb1 - pb0) * 100 / (pt1 - pt0 > 0 ? pt1 - pt0 : 1) ))
    lbusy=$(( (lb1 - lb0) * 100 / (lt1 - lt0 > 0 ? lt1 - lt0 : 1) ))
    conns=$(awk '{ print $2 }' <<<"$out")
    rate=$(field "$out" conns/s)
    read -r wall us pcpu_pct lcpu_pct < <(awk -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" \
        -v s="$((s1 - s0))" -v l="$(field "$out" s | tail -n 1)" -v n="$conns" -v hz="$tck" \
        'BEGIN { w = t1 - t0; printf "%.2f %.1f %.0f %.0f\n", w, (n > 0 ? c / hz * 1e6 / n : 0), 100 * c / hz / w, 100 * (s / hz + l) / w }')
    add "$name.rate$conc" "$rate"
    add "$name.us$conc" "$us"
    add "$name.cpu$conc" "$pcpu_pct"
    add "$name.load$conc" "$lcpu_pct"
    add "$name.pbusy$conc" "$pbusy"
    add "$name.lbusy$conc" "$lbusy"
    printf '  round %s %-8s %4s clients: %7s conns/s  %6s us/conn  proxy %3s%% (CPU %s busy %3s%%)  load %3s%% (CPU %s busy %3s%%)\n' \
        "$round" "$name" "$conc" "$rate" "$us" "$pcpu_pct" "$pcpu" "$pbusy" "$lcpu_pct" "$lcpu" "$lbusy"
}
bulk_run() { # bulk_run NAME
    local name=$1 pid=${pid_of[$1]} c0 c1 out mbs
    c0=$(cpu_ticks "$pid")
    out=$(load bulk "$([ "$name" = ppproxy ] && echo "$pp" || echo "$hb")" "$bulk_bytes") || { echo "$name bulk failed: $out"; exit 1; }
    c1=$(cpu_ticks "$pid")
    mbs=$(field "$out" MB/s)
    add "$name.bulk" "$mbs"
    printf '  round %s %-8s bulk %s MiB: %s MB/s, proxy cpu %s s\n' "$round" "$name" \
        "$((bulk_bytes >> 20))" "$mbs" "$(awk -v c="$((c1 - c0))" -v hz="$tck" 'BEGIN { printf "%.2f", c / hz }')"
}
mem_run() { # mem_run NAME PHASE: fresh proxy, hold connections, RSS per connection
    local name=$1 phase=$2 pid r0 r1 hold_pid i
    start_proxy "$name"
    pid=${pid_of[$name]}
    sleep 0.3
    r0=$(rss_kb "$pid")
    taskset -c "$lcpu" "$work/loadgen" hold "$(port_of "$name")" "$hold" "$phase" 4 >"$work/hold.out" &
    hold_pid=$!
    for i in $(seq 1 200); do grep -q held "$work/hold.out" && break; sleep 0.05; done
    sleep 1 # let the proxy accept, read and connect upstream
    r1=$(rss_kb "$pid")
    wait "$hold_pid" || true
    add "$name.rss0" "$r0"
    add "$name.mem_$phase" "$(awk -v a="$r0" -v b="$r1" -v n="$hold" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')"
    printf '  %-8s %s phase: RSS %s kB idle, %s kB with %s connections\n' "$name" "$phase" "$r0" "$r1" "$hold"
}

echo "== proxy benchmark: proxy on CPU $pcpu, load generator and sink on CPU $lcpu, $(nproc) CPUs; $rounds rounds of ${secs} s"
echo "   $(haproxy -v | head -n 1)"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- memory (fresh proxies, $hold connections held)"
for phase in header relay; do
    for name in haproxy ppproxy; do mem_run "$name" "$phase"; done
done
start_proxy ppproxy
start_proxy haproxy
echo "-- direct to the sink (no proxy): what the load side alone can do"
out=$(load ping "$sink" 32 "$secs")
direct=$(field "$out" conns/s)
echo "   32 clients: $direct conns/s"
echo "-- rounds"
for round in $(seq 1 "$rounds"); do
    for name in haproxy ppproxy; do
        for conc in "${concs[@]}"; do ping_run "$name" "$conc"; done
        bulk_run "$name"
    done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
row() { # row LABEL KEY
    local p h
    p=$(median "ppproxy.$2")
    h=$(median "haproxy.$2")
    printf '| %s | %s | %s | %s |\n' "$1" "$h" "$p" "$(ratio "$p" "$h")"
}
bound() { # why connections/s may not be the proxy's: see the note under the table
    local c l pb
    c=$(median "$1.cpu$2")
    l=$(median "$1.lbusy$2")
    pb=$(median "$1.pbusy$2")
    awk -v c="$c" -v l="$l" -v pb="$pb" 'BEGIN { if (c < 85 && l >= 90) print " (load-bound)";
        else if (pb - c >= 10) print " (shared CPU)"; else print "" }'
}
echo
echo "Medians of $rounds rounds ($(date -u +%Y-%m-%d), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)):"
echo
echo "| | HAProxy 2.6 | ppproxy | ppproxy / HAProxy |"
echo "|---|---:|---:|---:|"
for conc in "${concs[@]}"; do
    printf '| connections/s, %s client%s | %s%s | %s%s | %s |\n' "$conc" "$([ "$conc" = 1 ] || echo s)" \
        "$(median "haproxy.rate$conc")" "$(bound haproxy "$conc")" \
        "$(median "ppproxy.rate$conc")" "$(bound ppproxy "$conc")" \
        "$(ratio "$(median "ppproxy.rate$conc")" "$(median "haproxy.rate$conc")")"
done
for conc in "${concs[@]}"; do
    row "CPU µs per connection, $conc client$([ "$conc" = 1 ] || echo s)" "us$conc"
done
for conc in "${concs[@]}"; do
    printf '| proxy CPU use / its CPU busy / load CPU busy, %s client%s | %s%% / %s%% / %s%% | %s%% / %s%% / %s%% | |\n' "$conc" "$([ "$conc" = 1 ] || echo s)" \
        "$(median "haproxy.cpu$conc")" "$(median "haproxy.pbusy$conc")" "$(median "haproxy.lbusy$conc")" \
        "$(median "ppproxy.cpu$conc")" "$(median "ppproxy.pbusy$conc")" "$(median "ppproxy.lbusy$conc")"
done
row "bulk MB/s, one connection, $((bulk_bytes >> 20)) MiB" bulk
row "resident memory idle, kB" rss0
row "bytes per connection, header phase ($hold held)" mem_header
row "bytes per connection, relay phase ($hold held)" mem_relay
echo
echo "Load side alone (client straight to the sink, 32 clients): $direct conns/s."
echo "(load-bound): the proxy used under 85% of its CPU while the load generator's CPU was busy (all processes) 90% or more;"
echo "(shared CPU): other processes took 10% or more of the proxy's CPU. In both cases connections/s say little"
echo "about the proxy; its CPU time per connection still holds."
