#!/usr/bin/env bash
# Tests of what a server author and an operator read and run (issue 11):
#   1. the server-author examples (hello_server, own_buffer, tls_server,
#      uv_server) against curl, HAProxy, ppsend and Python clients
#      (examples_test.py);
#   2. the man pages render without warnings, and the options in each
#      program's --help are exactly those its page documents (man_check.py);
#   3. ppproxy --user NAME really drops root (uid/gid/groups from /proc),
#      and examples/ppproxy.service passes systemd-analyze verify
#      (service_test.sh).
# Usage: tests/examples/run.sh BUILD_DIR (a build configured with
# -Dopenssl_example=enabled -Dlibuv_example=enabled: a missing example
# fails). Ends with "N passed, M failed"; exit status 0 only if all passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) || exit 1
passed=0
failed=0

# part NAME SECONDS COMMAND...: run with a time limit, add the counts of
# its last "...: N passed, M failed" line (no such line: one failure).
part() {
    local name=$1 secs=$2 out line p f rc
    shift 2
    echo "--- $name"
    out=$(timeout -k 5 "$secs" "$@" 2>&1)
    rc=$?
    echo "$out"
    line=$(echo "$out" | grep -E ': [0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -z "$line" ]; then
        echo "$name: no result line (exit status $rc)"
        failed=$((failed + 1))
        return
    fi
    read -r p f < <(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
        echo "$name: exit status $rc"
        failed=$((failed + 1))
    fi
}

for prog in hello_server own_buffer tls_server uv_server; do
    if [ ! -x "$build/examples/$prog" ]; then
        echo "missing: $build/examples/$prog (configure with -Dopenssl_example=enabled -Dlibuv_example=enabled)"
        failed=$((failed + 1))
    fi
done
part "server-author examples" 240 python3 "$here/examples_test.py" "$build"
part "man pages" 120 python3 "$here/man_check.py" "$build"
part "ppproxy --user and systemd unit" 60 "$here/service_test.sh" "$build"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
