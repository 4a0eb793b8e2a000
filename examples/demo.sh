#!/usr/bin/env bash
# pphdr in two minutes: build the library and examples, then put ppproxy in
# front of a small upstream on loopback and watch it recover the real client
# address from PROXY protocol headers (v1 from curl, v2 with TLVs from a
# Python sender), turn away an untrusted peer and a malformed header; then
# run ppproxy --mode http in front of a plain HTTP backend that knows
# nothing of PROXY and learns the client from X-Forwarded-For, which a
# client cannot spoof.
#
#   sudo examples/demo.sh        (a fresh Debian machine is fine)
#
# Installs meson ninja-build pkg-config gcc python3 curl libhttp-parser-dev
# with apt-get if one of them is missing, builds into build/demo (with
# -Dhttp=enabled), uses free loopback ports, stops
# everything it started, and exits 0 only if every step behaved.
# Environment: PPHDR_DEMO_BUILD (build directory), PPHDR_DEMO_KEEP=1 (keep
# the scratch directory with the logs).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PPHDR_DEMO_BUILD:-$top/build/demo}

if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' off=$'\033[0m'; else bold='' red='' off=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '   %s\n' "$*"; }
fail() { printf '\n%sDEMO FAILED: %s%s\n' "$red" "$*" "$off"; exit 1; }
show() { sed 's/^/   | /' "$@"; }

# --- 1. tools -------------------------------------------------------------
say "1. Tools"
need=(meson ninja-build pkg-config gcc python3 curl libhttp-parser-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    note "installing: ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || fail "run as root to install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    note "all present: ${need[*]}"
fi

# --- 2. build -------------------------------------------------------------
say "2. Build with meson into ${build#$top/}"
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "$top" -Dhttp=enabled >/dev/null
else
    meson setup "$build" "$top" -Dhttp=enabled >/dev/null
fi
ninja -C "$build" >/dev/null || fail "build failed (run: ninja -C $build)"
ppproxy=$build/examples/ppproxy/ppproxy
[ -x "$ppproxy" ] || fail "no $ppproxy"
note "built libpphdr, examples/ppdump and examples/ppproxy (with its http mode)"

# --- scratch space, ports, cleanup ------------------------------------------
work=$(mktemp -d /tmp/pphdr-demo.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${PPHDR_DEMO_KEEP:-0}" = 1 ]; then
        echo "   (logs kept in $work)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # wait_port PORT: until something listens there (5 s at most)
    python3 - "$1" <<'PY'
import sys, time
port = int(sys.argv[1])
def listening():
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(name).readlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False
for _ in range(100):
    if listening():
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}
wait_lines() { # wait_lines FILE N: until FILE has N lines (5 s at most)
    local i
    for i in $(seq 1 100); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
up_port=$(free_port)
proxy_port=$(free_port)

# --- 3. upstream ------------------------------------------------------------
say "3. Upstream: a small Python server on 127.0.0.1:$up_port"
note "It prints the PROXY header it gets from ppproxy and the first request"
note "line, and answers with the client address it learned."
cat >"$work/upstream.py" <<'EOF'
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
def serve(conn):
    with conn:
        f = conn.makefile("rb")
        line = f.readline(108).decode("latin-1").rstrip("\r\n")  # PROXY v1 line
        first = f.readline(200).decode("latin-1").rstrip("\r\n")
        while f.readline(8192) not in (b"\r\n", b"\n", b""):  # rest of the request
            pass
        print("upstream got header [%s] then [%s]" % (line, first), flush=True)
        client = line.split(" ")[2] + ":" + line.split(" ")[4] if line.startswith("PROXY TCP") else "?"
        body = "hello %s\n" % client
        conn.sendall(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
python3 -u "$work/upstream.py" "$up_port" >"$work/upstream.out" 2>&1 &
pids+=($!)
wait_port "$up_port" || fail "the upstream did not start"
note "listening"

# --- 4. ppproxy -------------------------------------------------------------
say "4. ppproxy on 127.0.0.1:$proxy_port, trusting only 127.0.0.1/32"
cmd=("$ppproxy" --listen "127.0.0.1:$proxy_port" --upstream "127.0.0.1:$up_port"
     --trusted 127.0.0.1/32 --send-proxy v1 --timeout 500 --workers 1
     --log "$work/ppproxy.log")
note "${cmd[*]/#$build\//}"
"${cmd[@]}" 2>"$work/ppproxy.err" &
pids+=($!)
ppproxy_pid=$!
wait_port "$proxy_port" || fail "ppproxy did not start: $(cat "$work/ppproxy.err")"
note "running (pid $ppproxy_pid); one log line per connection goes to ppproxy.log"

# --- 5. curl with a v1 header ----------------------------------------------
say "5. curl --haproxy-protocol (PROXY v1 header, curl's own address)"
reply=$(curl -sS --max-time 5 --haproxy-protocol "http://127.0.0.1:$proxy_port/demo") ||
    fail "curl failed"
note "curl got: $reply"
wait_lines "$work/ppproxy.log" 1 || fail "no log line for the curl request"
note "ppproxy logged:"
show <(tail -n 1 "$work/ppproxy.log")
grep -q 'version=1 command=PROXY .*outcome=ok' "$work/ppproxy.log" ||
    fail "expected a v1 connection logged ok"
[[ $reply == "hello 127.0.0.1:"* ]] || fail "the upstream did not learn curl's address"

# --- 6. a v2 header with TLVs -----------------------------------------------
say "6. A PROXY v2 header with TLVs (AUTHORITY, ALPN, CRC32C) for client 203.0.113.7:51234"
note "A load balancer would send this; here a few lines of Python build it."
cat >"$work/send_v2.py" <<'EOF'
import socket, struct, sys
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF
def tlv(t, v):
    return struct.pack("!BH", t, len(v)) + v
addrs = socket.inet_aton("203.0.113.7") + socket.inet_aton("198.51.100.80") + struct.pack("!HH", 51234, 443)
tlvs = tlv(0x03, b"\0\0\0\0") + tlv(0x01, b"h2") + tlv(0x02, b"shop.example.com")
body = addrs + tlvs
hdr = bytearray(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", len(body)) + body)
hdr[16 + 12 + 3:16 + 12 + 7] = struct.pack("!I", crc32c(bytes(hdr)))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(bytes(hdr) + b"GET /v2 HTTP/1.0\r\n\r\n")
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.decode().split("\r\n\r\n", 1)[-1].strip())
EOF
reply=$(python3 "$work/send_v2.py" "$proxy_port") || fail "the v2 sender failed"
note "client got: $reply"
wait_lines "$work/ppproxy.log" 2 || fail "no log line for the v2 connection"
note "ppproxy logged:"
show <(tail -n 1 "$work/ppproxy.log")
tail -n 1 "$work/ppproxy.log" | grep -q 'client=203.0.113.7:51234 .*version=2 .*authority="shop.example.com" alpn="h2" .*outcome=ok' ||
    fail "expected client 203.0.113.7:51234 with authority and ALPN in the log"
[ "$reply" = "hello 203.0.113.7:51234" ] || fail "the upstream did not learn 203.0.113.7:51234"
note "the upstream printed:"
show "$work/upstream.out"
grep -q 'PROXY TCP4 203.0.113.7 198.51.100.80 51234 443' "$work/upstream.out" ||
    fail "the upstream did not get the v1 header for 203.0.113.7"

# --- 7. an untrusted peer ------------------------------------------------------
say "7. An untrusted peer: 127.0.0.2 is loopback too, but not in 127.0.0.1/32"
python3 - "$proxy_port" <<'EOF' || fail "the untrusted peer was not closed at once"
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.settimeout(2)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 192.0.2.66 192.0.2.1 1234 80\r\nGET / HTTP/1.0\r\n\r\n")
t = time.monotonic()
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
print("   the connection was closed after %.0f ms, %d bytes of reply" % ((time.monotonic() - t) * 1000, len(data)))
sys.exit(0 if data == b"" else 1)
EOF
wait_lines "$work/ppproxy.log" 3 || fail "no log line for the untrusted peer"
show <(tail -n 1 "$work/ppproxy.log")
tail -n 1 "$work/ppproxy.log" | grep -q 'peer=127.0.0.2:.*outcome=untrusted' ||
    fail "expected outcome=untrusted for 127.0.0.2"

# --- 8. a malformed header -----------------------------------------------------
say "8. A malformed header: PROXY TCP4 with address 192.0.2.999"
python3 - "$proxy_port" <<'EOF' || fail "the malformed header was not refused"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.sendall(b"PROXY TCP4 192.0.2.999 192.0.2.1 1234 80\r\nGET / HTTP/1.0\r\n\r\n")
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
print("   closed without a reply" if data == b"" else "   got a reply?!")
sys.exit(0 if data == b"" else 1)
EOF
wait_lines "$work/ppproxy.log" 4 || fail "no log line for the malformed header"
show <(tail -n 1 "$work/ppproxy.log")
tail -n 1 "$work/ppproxy.log" | grep -q 'outcome=v1_address' ||
    fail "expected outcome=v1_address"
lines=$(grep -c 'upstream got header' "$work/upstream.out")
[ "$lines" -eq 2 ] || fail "the upstream saw $lines connections, expected 2"
note "the upstream still saw only the 2 good connections"

# --- 9. http mode ---------------------------------------------------------------
say "9. ppproxy --mode http in front of a plain HTTP backend that knows nothing of PROXY"
backend_port=$(free_port)
http_port=$(free_port)
note "The backend (Python's http.server on 127.0.0.1:$backend_port) prints the"
note "X-Forwarded-For it gets and answers with it."
cat >"$work/backend.py" <<'EOF'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        xff = self.headers.get_all("X-Forwarded-For") or []
        print("backend got %s X-Forwarded-For: %s" % (self.path, ", ".join(xff) or "-"),
              flush=True)
        body = ("you are %s\n" % ", ".join(xff)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 -u "$work/backend.py" "$backend_port" >"$work/backend.out" 2>&1 &
pids+=($!)
wait_port "$backend_port" || fail "the HTTP backend did not start"
cmd=("$ppproxy" --mode http --listen "127.0.0.1:$http_port"
     --upstream "127.0.0.1:$backend_port" --trusted 127.0.0.1/32 --workers 1
     --log "$work/ppproxy-http.log")
note "${cmd[*]/#$build\//}"
"${cmd[@]}" 2>"$work/ppproxy-http.err" &
pids+=($!)
wait_port "$http_port" || fail "ppproxy --mode http did not start: $(cat "$work/ppproxy-http.err")"
note "A balancer's PROXY v1 header for client 203.0.113.7, then a request whose"
note "client tries to pass itself off as 6.6.6.6 with its own X-Forwarded-For:"
cat >"$work/send_http.py" <<'EOF'
import socket, sys
req = (b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 80\r\n"
       b"GET /whoami HTTP/1.1\r\nHost: demo.example\r\n"
       b"X-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n")
for line in req.decode().split("\r\n")[:4]:
    print("> " + line)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(req)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.decode("latin-1").split("\r\n\r\n", 1)[-1].strip())
EOF
out=$(python3 "$work/send_http.py" "$http_port") || fail "the http client failed"
show <(grep '^> ' <<<"$out")
reply=$(grep -v '^> ' <<<"$out" || true)
note "client got: $reply"
wait_lines "$work/backend.out" 1 || fail "the backend printed nothing"
note "the backend printed:"
show "$work/backend.out"
grep -qx 'backend got /whoami X-Forwarded-For: 203.0.113.7' "$work/backend.out" ||
    fail "the backend did not get X-Forwarded-For: 203.0.113.7 alone"
[ "$reply" = "you are 203.0.113.7" ] || fail "the spoofed 6.6.6.6 got through: $reply"
wait_lines "$work/ppproxy-http.log" 2 || fail "no request and connection log lines in http mode"
note "ppproxy logged (one line per request, then the connection's line):"
show "$work/ppproxy-http.log"
grep -q 'client=203.0.113.7 .*method="GET" .*status=200 .*outcome=ok' "$work/ppproxy-http.log" ||
    fail "expected a request log line for client 203.0.113.7, GET, status 200"
note "the spoofed X-Forwarded-For: 6.6.6.6 was dropped; the backend saw 203.0.113.7"

# --- 10. stop -------------------------------------------------------------------
say "10. Stop: SIGTERM, ppproxy drains and exits 0"
kill -TERM "$ppproxy_pid"
rc=0
wait "$ppproxy_pid" || rc=$?
[ $rc -eq 0 ] || fail "ppproxy exited with $rc"
note "ppproxy exited 0"

say "Demo OK: ppproxy recovered 127.0.0.1 (curl, v1) and 203.0.113.7 (v2 with TLVs),"
note "turned away an untrusted peer and a malformed header, and in http mode"
note "gave a plain HTTP backend X-Forwarded-For: 203.0.113.7, not the spoofed 6.6.6.6."
note "Next: $ppproxy --help, tests/proxy/run.sh $build"
