#!/usr/bin/env bash
# Parser benchmark (issue 6): median ns per header, instructions per header
# (callgrind, stable on a noisy machine), ratios to a floor loop and to
# go-proxyproto measured in the same run. Not part of the test suite.
#   tests/bench/run.sh            gcc -O2, hardware CRC32C where the CPU has it
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for p in gcc valgrind golang-go golang-github-pires-go-proxyproto-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
cc=${CC:-gcc}
$cc -std=c99 -O2 -Iinclude -Ilib tests/bench/bench_parse.c lib/pphdr.c \
    -o "$out/bench_parse"

echo "== time (median of 31 rounds)"
"$out/bench_parse" | tee "$out/time.txt"

echo
echo "== instructions per header (callgrind; pp_parse only, header zeroing subtracted)"
valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out/cg" \
    "$out/bench_parse" --count >/dev/null 2>&1
python3 - "$out" <<'PY'
import glob, re, sys
res = {}
for f in glob.glob(sys.argv[1] + '/cg.*'):
    t = open(f).read()
    m = re.search(r'Client Request: (.*)', t)
    s = re.search(r'^summary: (\d+)', t, re.M)
    if m and s:
        res[m.group(1)] = int(s.group(1))
empty = res.pop('empty') / 1000
rows = {}
for k, v in res.items():
    kind, name, iters = k.split('|')
    rows.setdefault(name, {})[kind] = v / int(iters) - empty
print(f"{'input':24} {'instr':>9} {'floor':>7} {'ratio':>6}")
for name in sorted(rows):
    r = rows[name]
    fl = r.get('floor')
    print(f"{name:24} {r['parse']:9.0f} {fl if fl else 0:7.0f} "
          f"{r['parse'] / fl if fl else 0:6.1f}")
def cost(prefix):
    return next(r['parse'] for n, r in rows.items() if n.startswith(prefix))
print("-- byte by byte against one call (targets: I1 at most 10x, J2 linear):")
for fed, whole in (("I1", "A "), ("I2", "E "), ("J2", "J ")):
    print(f"{fed} / {whole.strip():2} {cost(fed) / cost(whole):6.2f} x")
PY

echo
echo "== go-proxyproto (same inputs, same machine, minutes apart)"
"$out/bench_parse" --dump "$out"
mkdir -p "$out/go"
cp tests/bench/goproxyproto/bench_test.go "$out/go/"
(cd "$out/go" && PP_BENCH_INPUTS="$out" GOPATH=/usr/share/gocode \
    GO111MODULE=off GOFLAGS= GOCACHE="$out/gocache" \
    go test -run '^$' -bench . -benchtime 200000x 2>&1 |
    grep -E '^(Benchmark|\s+bench_test)' || true) | tee "$out/go.txt"
echo "-- pphdr against go-proxyproto (ns per header, same inputs):"
python3 - "$out" <<'PY'
import re, sys
ours, go = {}, {}
for line in open(sys.argv[1] + '/time.txt'):
    m = re.match(r'^([A-H]) .*?\s+\d+\s+([\d.]+)\s+[\d.]+\s+[\d.]+$', line)
    if m:
        ours[m.group(1)] = (line[:24].strip(), float(m.group(2)))
for line in open(sys.argv[1] + '/go.txt'):
    m = re.match(r'^BenchmarkRead/([A-H])\.bin\S*\s+\d+\s+([\d.]+) ns/op', line)
    if m:
        go[m.group(1)] = float(m.group(2))
print(f"{'input':24} {'pphdr':>8} {'go':>8} {'ratio':>7}")
for k in sorted(ours):
    if k in go:
        name, ns = ours[k]
        print(f"{name:24} {ns:8.1f} {go[k]:8.1f} {ns / go[k]:7.3f}")
PY

echo
echo "== writers and CRC32C (hardware path where the CPU has SSE4.2, then portable)"
$cc -std=c99 -O2 -Iinclude tests/bench/bench_write.c lib/pphdr.c -o "$out/bench_write"
$cc -std=c99 -O2 -DPP_NO_HW_CRC32C -Iinclude tests/bench/bench_write.c lib/pphdr.c \
    -o "$out/bench_write_soft"
"$out/bench_write"
echo "-- portable CRC32C build:"
"$out/bench_write_soft" | sed -n '/CRC32C/,$p'
for v in bench_write bench_write_soft; do
    rm -f "$out"/cgw.*
    valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out/cgw" \
        "$out/$v" --count >/dev/null 2>&1
    echo "-- instructions ($v):"
    python3 - "$out" <<'PY'
import glob, re, sys
for f in sorted(glob.glob(sys.argv[1] + '/cgw.*')):
    t = open(f).read()
    m = re.search(r'Client Request: (.*)', t)
    s = re.search(r'^summary: (\d+)', t, re.M)
    if m and s:
        kind, name, n = m.group(1).split('|')
        print(f"{name:28} {int(s.group(1)) / int(n):9.2f}")
PY
done

echo
echo "== trust table"
$cc -std=c99 -O2 -Iinclude tests/bench/bench_trust.c lib/pphdr.c -o "$out/bench_trust"
"$out/bench_trust"
