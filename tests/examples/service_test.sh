#!/usr/bin/env bash
# ppproxy as a service:
#   1. --user nobody (run as root): once listening, every thread of the
#      process has nobody's uid and gid (real, effective, saved, fs), no
#      supplementary groups and no capabilities (/proc/PID/task/*/status),
#      and it still relays a connection; an unknown user or a non-root
#      caller asking for another user makes it exit 1 without serving.
#   2. examples/ppproxy.service has the sandboxing directives and passes
#      `systemd-analyze verify` with no message (ExecStart pointed at the
#      built binary); a copy with an unknown directive is reported, so the
#      check can fail. Skipped with a reason only when systemd-analyze is
#      absent or cannot run here.
# Usage: service_test.sh BUILD_DIR. Ends with "service: N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) || exit 1
ppproxy=$build/examples/ppproxy/ppproxy
tmp=$(mktemp -d /tmp/pphdr-service.XXXXXX)
pids=()
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_listen() { # PORT: LISTEN in /proc/net/tcp within 5 s
    local hex i
    hex=$(printf ':%04X' "$1")
    for i in $(seq 50); do
        awk -v h="$hex" '$2 ~ h"$" && $4 == "0A" {f=1} END {exit !f}' /proc/net/tcp && return 0
        sleep 0.1
    done
    return 1
}

# ---- 1. --user nobody --------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    fail "--user tests need root (CI runs as root)"
else
    uid=$(id -u nobody) gid=$(id -g nobody)
    up=$(free_port) lp=$(free_port)
    python3 "$top/tests/proxy/pptool.py" sink --port "$up" --records "$tmp/records" \
        >"$tmp/sink.log" 2>&1 &
    pids+=($!)
    "$ppproxy" --listen "127.0.0.1:$lp" --upstream "127.0.0.1:$up" \
        --trusted 127.0.0.1 --workers 2 --user nobody --log "$tmp/conn.log" \
        >"$tmp/ppproxy.out" 2>&1 &
    ppid=$!
    pids+=("$ppid")
    if wait_listen "$up" && wait_listen "$lp"; then
        sleep 0.2 # the drop happens before the workers start
        bad=""
        ntask=0
        for st in /proc/"$ppid"/task/*/status; do
            ntask=$((ntask + 1))
            u=$(awk '/^Uid:/ {print $2,$3,$4,$5}' "$st")
            g=$(awk '/^Gid:/ {print $2,$3,$4,$5}' "$st")
            grps=$(awk '/^Groups:/ {$1=""; print $0}' "$st" | tr -d ' ')
            capeff=$(awk '/^CapEff:/ {print $2}' "$st")
            capprm=$(awk '/^CapPrm:/ {print $2}' "$st")
            [ "$u" = "$uid $uid $uid $uid" ] || bad="$bad uid($u)"
            [ "$g" = "$gid $gid $gid $gid" ] || bad="$bad gid($g)"
            [ -z "$grps" ] || bad="$bad groups($grps)"
            [ "$capeff" = 0000000000000000 ] && [ "$capprm" = 0000000000000000 ] ||
                bad="$bad caps($capeff/$capprm)"
        done
        if [ -z "$bad" ] && [ "$ntask" -ge 3 ]; then
            ok "--user nobody: all $ntask threads run as uid $uid gid $gid, no groups, no capabilities"
        else
            fail "--user nobody: credentials in /proc" "$ntask threads:$bad"
        fi
        got=$(python3 - "$lp" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 4242 80\r\nGET / HTTP/1.0\r\n\r\n")
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
print(d.split(b"\r\n")[0].decode())
PY
)
        case "$got" in
        "HTTP/1.1 200"* | "HTTP/1.0 200"*) ok "--user nobody: still relays (upstream answered '$got')" ;;
        *) fail "--user nobody: relay after the drop" "got '$got'; $(cat "$tmp/ppproxy.out")" ;;
        esac
    else
        fail "--user nobody: ppproxy listening" "$(cat "$tmp/ppproxy.out" "$tmp/sink.log")"
    fi
    kill "$ppid" 2>/dev/null
    wait "$ppid" 2>/dev/null
    grep -q "running as nobody" "$tmp/ppproxy.out" &&
        ok "--user nobody: says so on standard error" ||
        fail "--user nobody: message" "$(cat "$tmp/ppproxy.out")"

    lp=$(free_port)
    timeout 5 "$ppproxy" --listen "127.0.0.1:$lp" --upstream "127.0.0.1:$up" \
        --trusted 127.0.0.1 --user no-such-user-pphdr >"$tmp/nouser.out" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q "no-such-user-pphdr" "$tmp/nouser.out"; then
        ok "--user with an unknown user: exit 1 before serving"
    else
        fail "--user unknown user" "exit $rc: $(cat "$tmp/nouser.out")"
    fi
    # Not root: asking for another user must fail, not go on.
    if command -v setpriv >/dev/null; then
        lp=$(free_port)
        timeout 5 setpriv --reuid=nobody --regid=nogroup --clear-groups \
            "$ppproxy" --listen "127.0.0.1:$lp" --upstream "127.0.0.1:$up" \
            --trusted 127.0.0.1 --user root >"$tmp/nonroot.out" 2>&1
        rc=$?
        if [ $rc -eq 1 ] && grep -q "only root can switch" "$tmp/nonroot.out"; then
            ok "--user root as nobody: refused, exit 1"
        else
            fail "--user as non-root" "exit $rc: $(cat "$tmp/nonroot.out")"
        fi
    fi
fi

# ---- 2. the systemd unit -------------------------------------------------
unit=$top/examples/ppproxy.service
for d in 'DynamicUser=yes' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
    'ProtectSystem=strict' 'NoNewPrivileges=yes' 'RestrictAddressFamilies=' \
    'SystemCallFilter=@system-service'; do
    grep -q "^$d" "$unit" && ok "ppproxy.service has $d" ||
        fail "ppproxy.service lacks $d"
done
if ! command -v systemd-analyze >/dev/null; then
    echo "skip systemd-analyze verify: systemd-analyze is not installed"
else
    mkdir -p "$tmp/unit" "$tmp/bad" "$tmp/min"
    printf '[Service]\nExecStart=/bin/true\n' >"$tmp/min/minimal.service"
    min=$(systemd-analyze verify --man=no "$tmp/min/minimal.service" 2>&1)
    minrc=$?
    sed "s|^ExecStart=[^ ]*|ExecStart=$ppproxy|" "$unit" >"$tmp/unit/ppproxy.service"
    sed 's|^\[Service\]|[Service]\nNoSuchDirective=1|' "$tmp/unit/ppproxy.service" \
        >"$tmp/bad/ppproxy.service"
    out=$(systemd-analyze verify --man=no "$tmp/unit/ppproxy.service" 2>&1)
    rc=$?
    bad=$(systemd-analyze verify --man=no "$tmp/bad/ppproxy.service" 2>&1)
    if [ $minrc -ne 0 ]; then
        echo "skip systemd-analyze verify: it cannot run here (a minimal unit fails: $min)"
    elif [ $rc -eq 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify ppproxy.service: no message"
    else
        fail "systemd-analyze verify ppproxy.service" "exit $rc: $out"
    fi
    case "$bad" in
    *NoSuchDirective*) ok "systemd-analyze verify reports an unknown directive" ;;
    *) [ $minrc -eq 0 ] && fail "systemd-analyze verify missed an unknown directive" "$bad" ;;
    esac
fi

echo "service: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
