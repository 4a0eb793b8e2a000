#!/usr/bin/env bash
# tests/portability.sh [OUT_DIR] - the pair where vendored code goes.
#
# Debian's cross compilers build lib/pphdr.c + include/pphdr.h with
# -std=c99 -Wall -Wextra -Wpedantic -Werror (and the vendoring step's
# -Wshadow -Wvla -Wconversion), with and without PP_NO_SOCKETS, for:
#   s390x  big-endian 64-bit  s390x-linux-gnu-gcc, run under qemu-s390x
#   i686   32-bit x86         i686-linux-gnu-gcc, run natively
#   armhf  32-bit ARM         arm-linux-gnueabihf-gcc, run under qemu-arm
#   win64  Windows x86-64     x86_64-w64-mingw32-gcc, run under wine
# For the three Linux targets, static builds of
#   - the five fuzz targets with fuzz/replay_main.c replay their corpus
#     (fuzz/corpus/T) and regressions (fuzz/regressions/T-*) without a
#     finding;
#   - ppdump passes tests/ppdump_test.sh (valid and invalid headers,
#     expected output) and decodes every file of fuzz/corpus,
#     fuzz/regressions and tests/captures with output and exit status
#     identical to a native x86-64 ppdump;
#   - tests/port_smoke.c (parser, writers, sockaddr helpers, trust table)
#     passes.
# For Windows, tests/port_smoke.c and ppdump are cross-compiled and run
# under wine in a fresh WINEPREFIX (a temp dir, removed at the end with its
# wineserver): port_smoke passes, ppdump as on the Linux targets.
#
# OUT_DIR (default build/port) holds the binaries and logs; it is made
# anew. PP_PORT_TARGETS (default "s390x i686 armhf win64") picks targets.
# Exit status 0 only when every check passed. Needs the packages
# tests/run.sh installs (gcc-*-linux-gnu*, libc6-dev-*-cross, qemu-user,
# gcc-mingw-w64-x86-64, wine, wine64). The four targets run in parallel:
# about 80 s on 2 busy cores (load 4.5), most of it wine's first start and
# ppdump_test.sh (python around each ppdump run).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
out=${1:-build/port}
case $out in /*) ;; *) out=$top/$out ;; esac
rm -rf "$out"
mkdir -p "$out"

targets=${PP_PORT_TARGETS:-s390x i686 armhf win64}
warn=(-std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wvla
      -Wconversion)
fuzz_targets=(parse incremental roundtrip trust sock)

failures=()
fail() { # fail WHAT: record one failed check
    echo "FAIL: $1"
    failures+=("$1")
}

# The inputs ppdump decodes on every target, in a fixed order.
mapfile -t decode_inputs < <(find fuzz/corpus fuzz/regressions tests/captures \
    -type f ! -name '.*' ! -name '*.json' ! -name '*.md' | LC_ALL=C sort)

# decode_all RUNNER...: one block per input: its name, ppdump's exit status
# and everything it wrote (stdout and stderr).
decode_all() {
    local f rc
    for f in "${decode_inputs[@]}"; do
        rc=0
        printf '== %s\n' "$f"
        "$@" "$f" 2>&1 </dev/null || rc=$?
        printf '\n-- exit %s\n' "$rc"
    done
}

# The pair alone, as a vendor compiles it: TARGET CC.
compile_pair() {
    local target=$1 cc=$2 d
    for d in "" -DPP_NO_SOCKETS; do
        if ! "$cc" "${warn[@]}" $d -Iinclude -c lib/pphdr.c \
            -o "$out/$target/pair$d.o" 2>"$out/$target/pair$d.log"; then
            cat "$out/$target/pair$d.log"
            fail "$target: the pair does not compile warning-free (${d:-with sockets})"
        fi
    done
}

# Static builds of ppdump, the fuzz replay programs and port_smoke: TARGET CC.
build_linux() {
    local cc=$2 dir=$out/$1 t extra
    local flags=("${warn[@]}" -static -Iinclude -Iexamples)
    # The harnesses are test code, not the vendored pair: no -Wconversion.
    local hflags=(-std=c99 -O2 -Wall -Wextra -Werror -static -Iinclude
                  -Iexamples)
    "$cc" "${flags[@]}" -c lib/pphdr.c -o "$dir/pphdr.o" &&
        "$cc" "${flags[@]}" -c examples/ppdump_render.c -o "$dir/render.o" &&
        "$cc" "${flags[@]}" -o "$dir/ppdump" examples/ppdump.c \
            "$dir/render.o" "$dir/pphdr.o" &&
        "$cc" "${flags[@]}" -o "$dir/port_smoke" tests/port_smoke.c \
            "$dir/pphdr.o" &&
        "$cc" "${hflags[@]}" -c fuzz/ref.c -o "$dir/ref.o" &&
        "$cc" "${hflags[@]}" -c fuzz/replay_main.c -o "$dir/replay.o" ||
        return 1
    for t in "${fuzz_targets[@]}"; do
        extra=()
        [ "$t" = parse ] && extra=("$dir/render.o")
        "$cc" "${hflags[@]}" -o "$dir/${t}_fuzzer" "fuzz/${t}_fuzzer.c" \
            "$dir/ref.o" "$dir/replay.o" "${extra[@]}" "$dir/pphdr.o" ||
            return 1
    done
}

# Run the Linux target's programs: TARGET RUNNER... (RUNNER may be empty).
run_linux() {
    local target=$1 dir=$out/$1 t regs
    shift
    local run=("$@")

    if ! "${run[@]}" "$dir/port_smoke" >"$dir/port_smoke.log" 2>&1; then
        cat "$dir/port_smoke.log"
        fail "$target: port_smoke"
    else
        echo "$target $(tail -n 1 "$dir/port_smoke.log")"
    fi
    for t in "${fuzz_targets[@]}"; do
        mapfile -t regs < <(find fuzz/regressions -type f -name "$t-*")
        if "${run[@]}" "$dir/${t}_fuzzer" "fuzz/corpus/$t" "${regs[@]}" \
            >"$dir/fuzz-$t.log" 2>&1; then
            echo "$target ${t}_fuzzer: $(tail -n 1 "$dir/fuzz-$t.log")"
        else
            tail -n 20 "$dir/fuzz-$t.log"
            fail "$target: ${t}_fuzzer replay"
        fi
    done
    # ppdump_test.sh wants one executable: a wrapper that runs ppdump.
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${run[*]}" "$dir/ppdump" \
        >"$dir/ppdump-run"
    chmod +x "$dir/ppdump-run"
    if ! bash tests/ppdump_test.sh "$dir/ppdump-run" >"$dir/ppdump_test.log" 2>&1; then
        cat "$dir/ppdump_test.log"
        fail "$target: tests/ppdump_test.sh"
    else
        echo "$target ppdump_test.sh: $(tail -n 1 "$dir/ppdump_test.log")"
    fi
    decode_all "${run[@]}" "$dir/ppdump" >"$dir/decode.txt"
    if ! diff -u "$out/native/decode.txt" "$dir/decode.txt" \
        >"$dir/decode.diff"; then
        head -n 40 "$dir/decode.diff"
        fail "$target: ppdump output differs from x86-64 (see $dir/decode.diff)"
    else
        echo "$target ppdump: ${#decode_inputs[@]} inputs decoded as on x86-64"
    fi
}

linux_target() { # TARGET CC RUNNER...
    local target=$1 cc=$2
    shift 2
    mkdir -p "$out/$target"
    if ! command -v "$cc" >/dev/null; then
        fail "$target: $cc not installed"
        return
    fi
    compile_pair "$target" "$cc"
    if ! build_linux "$target" "$cc" >"$out/$target/build.log" 2>&1; then
        cat "$out/$target/build.log"
        fail "$target: static build of ppdump / fuzz replay / port_smoke"
        return
    fi
    run_linux "$target" "$@"
}

windows_ppdump() { # DIR: ppdump.exe under wine, as run_linux does
    local dir=$1
    # Wine's own lines ("wine: ..."; once seen: a page fault in one of its
    # helper processes, ppdump's output and status unharmed) are not
    # ppdump's: the wrapper drops them from standard error. A crash of
    # ppdump itself still shows in its exit status.
    cat >"$dir/ppdump-run" <<WRAPPER
#!/bin/bash
err=\$(mktemp) || exit 125
rc=0
wine "$dir/ppdump.exe" "\$@" 2>"\$err" || rc=\$?
grep -v '^wine: ' "\$err" >&2
rm -f "\$err"
exit \$rc
WRAPPER
    chmod +x "$dir/ppdump-run"
    if ! bash tests/ppdump_test.sh "$dir/ppdump-run" >"$dir/ppdump_test.log" 2>&1; then
        cat "$dir/ppdump_test.log"
        fail "win64: tests/ppdump_test.sh"
    else
        echo "win64 ppdump_test.sh: $(tail -n 1 "$dir/ppdump_test.log")"
    fi
    decode_all "$dir/ppdump-run" >"$dir/decode.txt"
    if ! diff -u "$out/native/decode.txt" "$dir/decode.txt" \
        >"$dir/decode.diff"; then
        head -n 40 "$dir/decode.diff"
        fail "win64: ppdump output differs from x86-64 (see $dir/decode.diff)"
    else
        echo "win64 ppdump: ${#decode_inputs[@]} inputs decoded as on x86-64"
    fi
}

windows_target() {
    local dir=$out/win64 cc=x86_64-w64-mingw32-gcc rc prefix
    mkdir -p "$dir"
    if ! command -v "$cc" >/dev/null; then
        fail "win64: $cc not installed"
        return
    fi
    compile_pair win64 "$cc"
    if ! { "$cc" "${warn[@]}" -Iinclude -o "$dir/port_smoke.exe" \
        tests/port_smoke.c lib/pphdr.c &&
        "$cc" "${warn[@]}" -Iinclude -Iexamples -o "$dir/ppdump.exe" \
            examples/ppdump.c examples/ppdump_render.c lib/pphdr.c; } \
        2>"$dir/build.log"; then
        cat "$dir/build.log"
        fail "win64: port_smoke.exe or ppdump.exe does not build"
        return
    fi
    if ! command -v wine >/dev/null; then
        fail "win64: wine not installed"
        return
    fi
    prefix=$(mktemp -d "${TMPDIR:-/tmp}/pphdr-wine.XXXXXX")
    # No Mono or Gecko prompts, no debug chatter; this prefix only.
    # shellcheck disable=SC2064 # $prefix now: this subshell's own prefix
    trap "WINEPREFIX='$prefix' wineserver -k 2>/dev/null; rm -rf '$prefix'" EXIT
    export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
    # First start: wine builds the prefix (slow). A failure here is wine's,
    # not the program's. The server stays up until the end (-p): one that
    # exits after its idle delay while the next short ppdump run connects
    # made that run fail ("wine client error ... Connection reset").
    rc=0
    { wineserver -p && timeout 300 wineboot -i; } >"$dir/wineboot.log" 2>&1 ||
        rc=$?
    if [ $rc -ne 0 ]; then
        tail -n 20 "$dir/wineboot.log"
        fail "win64: wine itself cannot start (wineserver -p / wineboot -i exit $rc; see $dir/wineboot.log)"
    else
        rc=0
        timeout 120 wine "$dir/port_smoke.exe" >"$dir/port_smoke.log" 2>&1 ||
            rc=$?
        if [ $rc -ne 0 ]; then
            cat "$dir/port_smoke.log"
            if grep -q '^port_smoke: ' "$dir/port_smoke.log"; then
                fail "win64: port_smoke.exe failed under wine (exit $rc)"
            else
                fail "win64: port_smoke.exe did not run under wine (exit $rc)"
            fi
        elif ! grep -q '^port_smoke: all [0-9]* checks passed' \
            "$dir/port_smoke.log"; then
            cat "$dir/port_smoke.log"
            fail "win64: port_smoke.exe exited 0 without its success line"
        else
            echo "win64 $(grep '^port_smoke: ' "$dir/port_smoke.log" | tr -d '\r')"
        fi
        windows_ppdump "$dir"
    fi
    # The EXIT trap stops this prefix's wineserver (only it) and removes
    # the prefix: windows_target runs in its own background subshell.
}

# The reference: a native x86-64 ppdump's answers.
mkdir -p "$out/native"
if ! gcc "${warn[@]}" -Iinclude -Iexamples -o "$out/native/ppdump" \
    examples/ppdump.c examples/ppdump_render.c lib/pphdr.c; then
    echo "FAIL: the native ppdump does not build"
    exit 1
fi
decode_all "$out/native/ppdump" >"$out/native/decode.txt"

# i686 runs natively on an x86-64 kernel with 32-bit support, else qemu.
i686_run=()
if [ "$(uname -m)" != x86_64 ]; then
    i686_run=(qemu-i386)
fi

wanted() { [[ " $targets " == *" $1 "* ]]; }
# Each target in its own background job with its own log (wine mostly
# waits, qemu and python use a core each); the FAIL lines are collected.
pids=()
logs=()
start() { # start TARGET FUNCTION ARGS...
    local target=$1
    shift
    wanted "$target" || return 0
    "$@" >"$out/$target.log" 2>&1 &
    pids+=($!)
    logs+=("$out/$target.log")
}
start win64 windows_target
start s390x linux_target s390x s390x-linux-gnu-gcc qemu-s390x
start i686 linux_target i686 i686-linux-gnu-gcc "${i686_run[@]}"
start armhf linux_target armhf arm-linux-gnueabihf-gcc qemu-arm
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    cat "${logs[$i]}"
    while IFS= read -r line; do
        case $line in FAIL:*) failures+=("${line#FAIL: }") ;; esac
    done <"${logs[$i]}"
done

if [ ${#failures[@]} -gt 0 ]; then
    echo "portability: ${#failures[@]} failed:"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
echo "portability: all targets passed"
