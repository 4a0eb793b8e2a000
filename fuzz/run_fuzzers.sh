#!/bin/sh
# Run every fuzz target built with -Dfuzzing=true for SECONDS each.
#
#   fuzz/run_fuzzers.sh BUILD_DIR SECONDS [TARGET ...]
#
# TARGET is parse, incremental, roundtrip, trust, sock or http; default all.
# Each target starts from a scratch copy of its seed corpus (the tree is
# never written), with the dictionary, a bounded input size and
# -print_final_stats=1. Fails when any target crashes, leaks, reports a
# sanitizer error or a harness check, or times out; the reproducer is kept
# in the scratch directory that is printed. Prints executions and edge
# coverage per target.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [TARGET ...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
targets=${*:-parse incremental roundtrip trust sock http}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pphdr-fuzz.XXXXXX")
status=0
ran=0

max_len_of() {
    case $1 in
        parse|incremental) echo 4096 ;;
        sock) echo 2048 ;;
        roundtrip) echo 2048 ;;
        trust) echo 1024 ;;
        *) echo 4096 ;;
    esac
}

dict_of() {
    case $1 in
        http) echo http.dict ;;
        *) echo pphdr.dict ;;
    esac
}

printf '%-12s %-8s %12s %10s %s\n' target result execs cov_edges log
for name in $targets; do
    exe=$build/fuzz/${name}_fuzzer
    if [ ! -x "$exe" ]; then
        printf '%-12s %-8s\n' "$name" "MISSING"
        status=1 # a target asked for but not built is a failure
        continue
    fi
    ran=$((ran + 1))
    corpus=$scratch/$name/corpus
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    fi
    log=$scratch/$name/log
    "$exe" "$corpus" \
        -dict="$here/$(dict_of "$name")" \
        -max_len="$(max_len_of "$name")" \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$scratch/$name/" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+' "$log" | grep -o 'cov: [0-9]*' | tail -n 1 | cut -d' ' -f2)
    result=ok
    if [ "$rc" -ne 0 ] \
        || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|check failed|_fuzzer: ' "$log"; then
        result=FAIL
        status=1
    fi
    printf '%-12s %-8s %12s %10s %s\n' "$name" "$result" "${execs:-?}" "${cov:-?}" "$log"
    if [ "$result" = FAIL ]; then
        grep -E 'ERROR|runtime error|check failed|_fuzzer: |Test unit written' "$log" | head -n 10 | sed 's/^/    /'
    fi
done
if [ "$ran" -eq 0 ]; then
    echo "no fuzz target found under $build/fuzz (configure with -Dfuzzing=true)" >&2
    exit 1
fi
if [ "$status" -eq 0 ]; then
    echo "all fuzz targets ran $seconds s without a finding (scratch: $scratch)"
fi
exit "$status"
