#!/usr/bin/env bash
# Black-box tests of ppproxy against real peers on loopback (HAProxy, nginx,
# curl, Python clients and sink): proxytest.py (tcp mode), then httptest.py
# (--mode http; the build needs meson -Dhttp=enabled).
# Usage: tests/proxy/run.sh BUILD_DIR
# Needs: python3, haproxy, nginx + libnginx-mod-stream, curl, openssl.
# Ends with "N passed, M failed"; exit status 0 only when nothing failed.
# Set PPTEST_KEEP=1 to keep the logs of a passing run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR}
missing=()
for tool in python3 haproxy nginx curl openssl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}"
    echo "0 passed, 1 failed"
    exit 1
fi
# Hard bound on each suite; the suites bound each wait themselves.
status=0
for suite in proxytest.py:540 httptest.py:480; do
    echo "--- ${suite%%:*}"
    timeout -k 10 "${suite##*:}" python3 "$here/${suite%%:*}" "$build"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "${suite%%:*} timed out"
        echo "0 passed, 1 failed"
    fi
    [ $rc -eq 0 ] || status=1
done
exit $status
