# shellcheck shell=bash
# Shell helpers shared by capture.sh and receivers.sh (sourced).

# A free TCP port on loopback HOST (bound, then released).
free_port() {
    python3 -c 'import socket,sys
h=sys.argv[1]
s=socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
s.bind((h,0)); print(s.getsockname()[1]); s.close()' "$1"
}

# Wait (at most 5 s) until a TCP socket listens on port $1, without
# connecting to it (a test connection would reach the capture listener):
# reads /proc/net/tcp and /proc/net/tcp6 (state 0A is LISTEN).
wait_listen() {
    python3 -c 'import sys,time
port = "%04X" % int(sys.argv[1])
def listening():
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = [l.split() for l in f.readlines()[1:]]
        except OSError:
            continue
        if any(r[1].rsplit(":", 1)[1] == port and r[3] == "0A" for r in rows):
            return True
    return False
end = time.monotonic() + 5
while not listening():
    if time.monotonic() > end:
        sys.exit(1)
    time.sleep(0.05)' "$1"
}

# Stop every process in PIDS and remove TMP: the EXIT trap of the scripts.
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
