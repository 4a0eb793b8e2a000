#!/usr/bin/env bash
# Real-peer tests of pphdr, both directions.
#
#   tests/peers/run.sh BUILD_DIR [--save-captures]
#
# 1. Peers as senders: capture.sh has curl, HAProxy 2.6 and nginx 1.22 send
#    PROXY headers to a capture listener (into BUILD_DIR/peers-captures,
#    kept for inspection), and check_captures.py checks what
#    BUILD_DIR/examples/ppdump makes of each capture.
# 2. The saved captures in tests/captures are replayed against
#    tests/captures/expected.json (what CI checks even without peers).
# 3. pphdr's writer as sender: receivers.sh has ppsend talk to HAProxy
#    (accept-proxy), nginx (proxy_protocol) and go-proxyproto.
# --save-captures replaces tests/captures with this run's captures when
# every live capture passed.
#
# Ends with "N passed, M failed" (all parts together); exit status 1 on any
# failure. Each part has a time limit; the whole run stays under 3 minutes.
set -u

BUILD=${1:?usage: run.sh BUILD_DIR [--save-captures]}
SAVE=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd) || exit 1
CAPDIR=$BUILD/peers-captures
LOGDIR=$(mktemp -d /tmp/pphdr-peers-run.XXXXXX)
CHILD=

cleanup() {
    if [ -n "$CHILD" ]; then
        kill "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0
PART=0

# part NAME SECONDS PREFIX COMMAND...: run one part with a time limit, show
# its output, add the counts of its "PREFIX: N passed, M failed" line.
part() {
    local name=$1 secs=$2 prefix=$3 log line p f
    PART=$((PART + 1))
    log=$LOGDIR/part$PART.log
    shift 3
    echo "--- $name"
    timeout -k 5 "$secs" "$@" > "$log" 2>&1 &
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=
    cat "$log"
    line=$(grep -E "^${prefix}: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "$name: no result line (exit status $rc$([ $rc = 124 ] && echo ", timed out after ${secs}s"))"
        FAILED=$((FAILED + 1))
        return
    fi
    read -r p f < <(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$f" -eq 0 ] && [ $rc -ne 0 ]; then
        echo "$name: exit status $rc"
        FAILED=$((FAILED + 1))
    fi
}

rm -rf "$CAPDIR"
mkdir -p "$CAPDIR"
# The capture part's own failures show up in check_captures (cases.list).
echo "--- capture (real senders)"
timeout -k 5 70 "$HERE/capture.sh" "$CAPDIR" > "$LOGDIR/capture.log" 2>&1 &
CHILD=$!
wait "$CHILD"
CHILD=
cat "$LOGDIR/capture.log"

save_args=()
if [ "$SAVE" = --save-captures ]; then
    save_args=(--save "$LOGDIR/saved")
fi
part "check live captures" 40 captures \
    python3 "$HERE/check_captures.py" "$BUILD" "$CAPDIR" "${save_args[@]}"
live_failed=$FAILED
part "replay tests/captures" 30 captures \
    python3 "$HERE/check_captures.py" "$BUILD" "$TOP/tests/captures"
part "receivers (ppsend -> haproxy, nginx, go-proxyproto)" 40 receivers \
    "$HERE/receivers.sh" "$BUILD"

if [ ${#save_args[@]} -gt 0 ]; then
    if [ "$live_failed" -eq 0 ] && [ -e "$LOGDIR/saved/expected.json" ]; then
        rm -f "$TOP"/tests/captures/*.bin
        cp "$LOGDIR"/saved/* "$TOP/tests/captures/"
        echo "tests/captures replaced by this run's captures"
    else
        echo "captures not saved: live captures failed"
    fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
