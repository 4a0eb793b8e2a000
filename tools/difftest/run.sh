#!/usr/bin/env bash
# Differential test of pp_parse against an older commit's parser:
#   tools/difftest/run.sh [COMMIT [INPUTS [SEED]]]   (defaults: 7da5bfd 1000000)
# Builds lib/pphdr.c of COMMIT (with its header) and the working tree's
# lib/pphdr.c side by side: each version with its own copy of wrap.c is
# linked into one relocatable object whose only global symbol is its
# dt_run_* entry, so both sets of pp_* functions coexist. Then runs
# driver.c: every generated input whole, byte by byte and in random
# chunks, status and each result field compared by name.
set -euo pipefail
cd "$(dirname "$0")/../.."
commit=${1:-7da5bfd}
inputs=${2:-1000000}
seed=${3:-1}
cc=${CC:-gcc}
cflags=(-std=c99 -O2 -g -Wall -Wextra)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/old"
git show "$commit:lib/pphdr.c" >"$out/old/pphdr.c"
git show "$commit:include/pphdr.h" >"$out/old/pphdr.h"

side() { # side NAME LIBDIR INCDIR
    $cc "${cflags[@]}" -c "$2/pphdr.c" -I"$3" -o "$out/$1_lib.o"
    $cc "${cflags[@]}" -c tools/difftest/wrap.c -I"$3" -Itools/difftest \
        -DDT_RUN="dt_run_$1" -o "$out/$1_wrap.o"
    ld -r "$out/$1_lib.o" "$out/$1_wrap.o" -o "$out/$1_all.o"
    objcopy -G "dt_run_$1" "$out/$1_all.o" "$out/$1.o"
}
side old "$out/old" "$out/old"
side new lib include
$cc "${cflags[@]}" tools/difftest/driver.c "$out/old.o" "$out/new.o" \
    -Itools/difftest -o "$out/difftest"
echo "== pp_parse at $commit against the working tree"
"$out/difftest" "$inputs" "$seed"
