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
#      cppcheck and the clang static analyzer with no findings; every C file
#      formatted by clang-format
#   4b. portability (tests/portability.sh): s390x, i686, armhf and Windows
#      cross builds; fuzz corpora, ppdump and port_smoke under qemu / wine
#   5. real peers: HAProxy, nginx and curl as senders and receivers
#   6. ppproxy black-box tests against real peers
#   6b. the server-author examples, man pages and ppproxy's service setup
#      (tests/examples/run.sh); the examples again in the ASan+UBSan build
#   7. every libFuzzer target for PP_FUZZ_SECONDS (default 60) each
# Ends with a line "N passed, M failed"; exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

packages=(meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev
          libcmocka-dev valgrind python3 curl openssl haproxy nginx
          libnginx-mod-stream golang-go golang-github-pires-go-proxyproto-dev
          cppcheck clang-tidy clang-format libssl-dev libuv1-dev groff man-db
          systemd
          gcc-s390x-linux-gnu gcc-i686-linux-gnu gcc-arm-linux-gnueabihf
          libc6-dev-s390x-cross libc6-dev-i386-cross libc6-dev-armhf-cross
          qemu-user gcc-mingw-w64-x86-64 wine wine64 libhttp-parser-dev)
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
# The system's own haproxy and nginx services are left alone: every test
# starts its own instances on free loopback ports, with its own config, pid
# file and runtime directory, and stops only the processes it started.

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
    cppcheck --enable=warning,style,performance,portability --std=c99 --inline-suppr \
        --error-exitcode=1 --quiet -Iinclude lib/pphdr.c &&
        clang-tidy --quiet --warnings-as-errors='*' \
            --checks='-*,clang-analyzer-*' lib/pphdr.c -- -std=c99 -Iinclude
}

# Every C file of the library, its header, the tests, the fuzzers and the
# examples is formatted as /.clang-format says.
format_check() {
    find lib include tests fuzz examples -name '*.c' -o -name '*.h' |
        sort | xargs clang-format --dry-run --Werror
}

valgrind_units() {
    meson test -C build/gcc --suite unit --print-errorlogs \
        --wrapper 'valgrind --error-exitcode=99 --leak-check=full --quiet' \
        --timeout-multiplier 10
}

sanitizer_build() { # PP_DEBUG: the library's PP_ASSERT invariants checked
    CC=clang setup build/asan -Dhttp=enabled -Db_sanitize=address,undefined \
        -Db_lundef=false -Dc_args="-fno-sanitize-recover=all -DPP_DEBUG" \
        -Dopenssl_example=enabled -Dlibuv_example=enabled
}

fuzz_all() {
    CC=clang setup build/fuzz -Dfuzzing=true -Dtests=false -Dhttp=enabled &&
        fuzz/run_fuzzers.sh build/fuzz "${PP_FUZZ_SECONDS:-60}"
}

step "build (gcc)" setup build/gcc -Dhttp=enabled -Dopenssl_example=enabled \
    -Dlibuv_example=enabled
step "unit tests (gcc)" unit_tests build/gcc
step "build (clang, ASan+UBSan)" sanitizer_build
step "unit tests (ASan+UBSan)" unit_tests build/asan
step "unit tests under valgrind" valgrind_units
step "vendored pair compiles alone" vendoring
step "static analysis (cppcheck, clang-tidy analyzer)" static_analysis
step "formatting (clang-format)" format_check
step "portability (s390x, i686, armhf, Windows)" tests/portability.sh build/port
step "real peers (haproxy, nginx, curl)" tests/peers/run.sh "$top/build/gcc"
step "ppproxy against real peers" tests/proxy/run.sh "$top/build/gcc"
step "examples, man pages, ppproxy service" tests/examples/run.sh "$top/build/gcc"
step "examples under ASan+UBSan" python3 tests/examples/examples_test.py "$top/build/asan"
step "fuzzers (${PP_FUZZ_SECONDS:-60} s each)" fuzz_all

echo
if [ $failed -gt 0 ]; then
    echo "failed steps: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
