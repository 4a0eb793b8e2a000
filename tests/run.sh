#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root:
#   ./tests/run.sh            everything (about 15-25 minutes on 2 cores)
#   PP_FUZZ_SECONDS=10 ./tests/run.sh   shorter fuzzing
# Installs missing Debian packages, then:
#   1. gcc build (with ppproxy's http mode, -Dhttp=enabled): cmocka unit
#      tests (test_http included), fuzz corpus replay, ppdump checks
#   2. clang build with ASan+UBSan (no recovery): the same tests
#   3. the unit tests once under valgrind memcheck (zero errors)
#   4. the vendoring promise: lib/pphdr.c + include/pphdr.h alone, C99/C11,
#      gcc and clang, -Werror; the header as C++; no allocator symbols;
#      cppcheck and the clang static analyzer with no findings
#   5. real peers: HAProxy, nginx and curl as senders and receivers
#   6. ppproxy black-box tests against real peers
#   7. every libFuzzer target for PP_FUZZ_SECONDS (default 60) each
# Ends with a line "N passed, M failed"; exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

packages=(meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev
          libcmocka-dev valgrind python3 curl openssl haproxy nginx
          libnginx-mod-stream golang-go golang-github-pires-go-proxyproto-dev
          cppcheck clang-tidy libhttp-parser-dev)
install_missing() {
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing || { echo "package installation failed"; exit 1; }
# The packaged services must not hold ports or run as daemons during tests.
for svc in haproxy nginx; do
    command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null
    pkill -x "$svc" 2>/dev/null
done
true

passed=0
failed=0
failures=()
step() { # step NAME COMMAND...: run one step, count it
    local name=$1
    shift
    echo
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "=== $name: FAILED"
    fi
}

setup() { # setup DIR [meson options...]
    local dir=$1
    shift
    if [ -d "$dir/meson-private" ]; then
        meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; return 1; }
    else
        rm -rf "$dir" # not a build tree of meson's: made anew
        mkdir -p "$(dirname "$dir")"
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir"
}

unit_tests() { # unit_tests DIR
    meson test -C "$1" --print-errorlogs --num-processes 2
}

vendoring() {
    local tmp cc std ok=0
    tmp=$(mktemp -d)
    cp lib/pphdr.c include/pphdr.h "$tmp/"
    for cc in gcc clang; do
        for std in c99 c11; do
            $cc -std=$std -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow \
                -Wvla -Wconversion -c "$tmp/pphdr.c" -I"$tmp" \
                -o "$tmp/pphdr.o" || ok=1
        done
    done
    if nm -u "$tmp/pphdr.o" | grep -Ew 'malloc|calloc|realloc|free|strdup|aligned_alloc|posix_memalign'; then
        echo "allocator symbols in the library"
        ok=1
    fi
    echo '#include "pphdr.h"' | g++ -x c++ -Wall -Wextra -Werror -I"$tmp" \
        -fsyntax-only - || ok=1
    rm -rf "$tmp"
    return $ok
}

static_analysis() {
    cppcheck --enable=warning,style,performance,portability --std=c99 \
        --error-exitcode=1 --quiet -Iinclude lib/pphdr.c &&
        clang-tidy --quiet --warnings-as-errors='*' \
            --checks='-*,clang-analyzer-*' lib/pphdr.c -- -std=c99 -Iinclude
}

valgrind_units() {
    meson test -C build/gcc --suite unit --print-errorlogs \
        --wrapper 'valgrind --error-exitcode=99 --leak-check=full --quiet' \
        --timeout-multiplier 10
}

sanitizer_build() {
    CC=clang setup build/asan -Dhttp=enabled -Db_sanitize=address,undefined \
        -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
}

fuzz_all() {
    CC=clang setup build/fuzz -Dfuzzing=true -Dtests=false &&
        fuzz/run_fuzzers.sh build/fuzz "${PP_FUZZ_SECONDS:-60}"
}

step "build (gcc)" setup build/gcc -Dhttp=enabled
step "unit tests (gcc)" unit_tests build/gcc
step "build (clang, ASan+UBSan)" sanitizer_build
step "unit tests (ASan+UBSan)" unit_tests build/asan
step "unit tests under valgrind" valgrind_units
step "vendored pair compiles alone" vendoring
step "static analysis (cppcheck, clang-tidy analyzer)" static_analysis
step "real peers (haproxy, nginx, curl)" tests/peers/run.sh "$top/build/gcc"
step "ppproxy against real peers" tests/proxy/run.sh "$top/build/gcc"
step "fuzzers (${PP_FUZZ_SECONDS:-60} s each)" fuzz_all

echo
if [ $failed -gt 0 ]; then
    echo "failed steps: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
