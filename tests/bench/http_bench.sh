#!/usr/bin/env bash
# ppproxy --mode http vs HAProxy "mode http" doing the same job (issue 12):
#   accept a PROXY v2 header from a trusted peer (127.0.0.1), delete the
#   spoofable X-Forwarded-For, X-Real-IP, Forwarded, X-Forwarded-Proto and
#   X-Forwarded-Port lines, add the five set from the header's client, and
#   forward each request to an HTTP backend, one upstream connection per
#   client connection (HAProxy: "http-reuse never").
# One thread each (ppproxy --workers 1, HAProxy nbthread 1), the proxy
# pinned to CPU 0 with taskset, the load generator and the backend pinned to
# CPU 1. Two loads, each BENCH_SECONDS long:
#   keepalive  32 connections, POST requests with a 64-byte body, one at a
#              time per connection, on the same connections
#   close      32 clients, one request per connection (Connection: close)
# For each: requests/s, the proxy's CPU microseconds per request (utime +
# stime from /proc/PID/stat over the run), the proxy's CPU use, how busy
# the load CPU was (/proc/stat), and the ppproxy/HAProxy ratios. A "direct"
# run (load generator straight to the backend) shows the ceiling of the
# load side. A line is flagged when the proxy used under 85% of its CPU
# while the load CPU was 90% busy or more (the load side, not the proxy,
# was the bottleneck), and a warning is printed when a proxy reached 80%
# of the direct rate.
#
#   tests/bench/http_bench.sh BUILD_DIR
#
# Environment: BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3, medians),
# BENCH_KEEP=1 keeps the work directory. Needs gcc (or cc), haproxy,
# python3, taskset (util-linux), 2 CPUs or more. The build must have the
# http mode (meson -Dhttp=enabled).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
ppproxy=$build/examples/ppproxy/ppproxy
[ -x "$ppproxy" ] || { echo "no $ppproxy"; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is needed"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is needed"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "2 CPUs are needed"; exit 1; }
proxy_cpu=0
load_cpu=1

work=$(mktemp -d /tmp/http-bench.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

${CC:-cc} -std=c99 -O2 -Wall -Wextra -o "$work/httpload" "$here/httpload.c"
httpload=$work/httpload

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
cpu_ticks() { # cpu_ticks PID: utime + stime, in clock ticks
    # fields after the ")" of the command name: state is 3, utime 14, stime 15
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
hz=$(getconf CLK_TCK)

backend=$(free_port)
pp=$(free_port)
hp=$(free_port)

taskset -c $load_cpu "$httpload" backend "$backend" &
backend_pid=$!
pids+=($backend_pid)
wait_listen "$backend"

taskset -c $proxy_cpu "$ppproxy" --mode http --listen "127.0.0.1:$pp" \
    --upstream "127.0.0.1:$backend" --trusted 127.0.0.1/32 --workers 1 \
    --max-conns 4000 --log /dev/null 2>"$work/ppproxy.err" &
pp_pid=$!
pids+=($pp_pid)
wait_listen "$pp"

cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    option http-keep-alive
    http-reuse never
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
frontend fe
    bind 127.0.0.1:$hp accept-proxy
    tcp-request connection reject if !{ src 127.0.0.1 }
    http-request del-header X-Forwarded-For
    http-request del-header X-Real-IP
    http-request del-header Forwarded
    http-request del-header X-Forwarded-Proto
    http-request del-header X-Forwarded-Port
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request add-header Forwarded "for=%[src];proto=http"
    default_backend be
backend be
    http-reuse never
    server b 127.0.0.1:$backend
EOF
haproxy -c -f "$work/haproxy.cfg" >/dev/null
taskset -c $proxy_cpu haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.out" 2>&1 &
hp_pid=$!
pids+=($hp_pid)
wait_listen "$hp"

declare -A rate cpu use loadcpu
cpu_busy() { # cpu_busy N: "busy total" jiffies of CPU N from /proc/stat
    awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i;
        print t - $5 - $6, t }' /proc/stat
}
run() { # run NAME PORT PID LOAD: one measurement, appended to the tables
    local name=$1 port=$2 pid=$3 load=$4 out t0 t1 l0 l1 n reqs
    t0=$([ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
    l0=$(cpu_busy $load_cpu)
    out=$(taskset -c $load_cpu "$httpload" "$load" "$port" 32 "$secs" 64 2>&1) ||
        { echo "$name $load failed: $out"; exit 1; }
    t1=$([ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
    l1=$(cpu_busy $load_cpu)
    reqs=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "in") print $(i - 1) }' <<<"$out")
    n=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i - 1) }' <<<"$out")
    rate[$name.$load]+=" $n"
    cpu[$name.$load]+=" $(awk -v t=$((t1 - t0)) -v hz="$hz" -v r="$reqs" \
        'BEGIN { printf "%.2f", (r > 0 ? t * 1e6 / hz / r : 0) }')"
    use[$name.$load]+=" $(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$secs" \
        'BEGIN { printf "%.0f", 100 * t / hz / s }')"
    # busy share of the load CPU (load generator, backend, and anything else)
    loadcpu[$name.$load]+=" $(awk -v a="$l0" -v b="$l1" 'BEGIN { split(a, x, " ");
        split(b, y, " "); d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }')"
    echo "  round $round, $name, $load: $out; proxy CPU" \
        "$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f", 100 * t / hz / s }')%," \
        "load CPU busy ${loadcpu[$name.$load]##* }%"
}
median() { # median "LIST"
    tr ' ' '\n' <<<"$1" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "== http benchmark: ppproxy --mode http vs HAProxy mode http, 1 thread each,"
echo "   proxy on CPU $proxy_cpu, load generator and backend on CPU $load_cpu,"
echo "   $rounds rounds of $secs s, 32 connections, 64-byte bodies; $(nproc) CPUs"
echo "   $(haproxy -v | head -n 1)"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
    for load in keepalive close; do
        run direct "$backend" - "$load"
        run ppproxy "$pp" "$pp_pid" "$load"
        run haproxy "$hp" "$hp_pid" "$load"
    done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
echo "medians of $rounds rounds:"
printf '%-10s %-9s %10s %10s %9s %13s\n' load proxy "req/s" "CPU us/req" "proxy CPU" "load CPU busy"
for load in keepalive close; do
    for name in direct ppproxy haproxy; do
        flag=""
        u=$(median "${use[$name.$load]}")
        l=$(median "${loadcpu[$name.$load]}")
        if [ "$name" != direct ] && [ "${u%.*}" -lt 85 ] && [ "${l%.*}" -ge 90 ]; then
            flag="  <- proxy under 85% of its CPU, load CPU busy: the load side is the bottleneck"
        fi
        printf '%-10s %-9s %10s %10s %8s%% %12s%%%s\n' "$load" "$name" \
            "$(median "${rate[$name.$load]}")" \
            "$([ $name = direct ] && echo - || median "${cpu[$name.$load]}")" \
            "$([ $name = direct ] && echo - || echo "$u")" \
            "$l" "$flag"
    done
done
echo
echo "ppproxy / HAProxy (goal: req/s >= 1, CPU us/req <= 1):"
for load in keepalive close; do
    printf '  %-10s req/s %s   CPU us/req %s\n' "$load" \
        "$(ratio "$(median "${rate[ppproxy.$load]}")" "$(median "${rate[haproxy.$load]}")")" \
        "$(ratio "$(median "${cpu[ppproxy.$load]}")" "$(median "${cpu[haproxy.$load]}")")"
done
for load in keepalive close; do
    d=$(median "${rate[direct.$load]}")
    for name in ppproxy haproxy; do
        p=$(median "${rate[$name.$load]}")
        if awk -v p="$p" -v d="$d" 'BEGIN { exit !(p > 0.8 * d) }'; then
            echo "warning: $name $load reached $p req/s, over 80% of the direct" \
                "$d req/s: the load side limits this figure"
        fi
    done
done
