#!/usr/bin/env python3
"""Capture listener for the real-peer tests.

Listens on one loopback address, accepts connections one after another and
saves every byte received on each connection, unmodified, to a file:

    PREFIX.bin          bytes of the first connection
    PREFIX.peer.json    {"peer": [host, port], "local": [host, port],
                         "bytes": N, "end": "eof" | "idle" | "limit"}
    PREFIX.2.bin, PREFIX.2.peer.json, ...   for later connections

The sidecar is written last, so its presence means the capture is complete.

So that an HTTP client sending through a proxy (or with --haproxy-protocol)
finishes normally, the listener answers a short HTTP/1.1 200 response as
soon as the bytes contain an HTTP/1.x request line followed by an empty
line, then closes. Any other connection is kept until the peer closes or
stays silent for --idle seconds. The listener itself never parses PROXY
headers: what it saves is exactly what the peer sent.

It exits after --max-conns connections or --timeout seconds, whichever
comes first. With --port 0 it binds a free port and writes the number to
--port-file once listening (written atomically).
"""
import argparse
import json
import os
import re
import select
import socket
import sys
import time

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
            b"Content-Type: text/plain\r\nConnection: close\r\n\r\ncaptured\n")
# An HTTP/1.x request line, then the end of its header block.
HTTP_REQUEST_END = re.compile(rb"[A-Z]+ \S+ HTTP/1\.[01]\r\n(?:.*?\r\n)?\r\n",
                              re.S)
MAX_BYTES = 1 << 20


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def receive(conn, idle, deadline):
    """Read until EOF, idle timeout, answered HTTP request or deadline."""
    data = bytearray()
    answered = False
    end = "eof"
    while True:
        wait = min(idle, deadline - time.monotonic())
        if wait <= 0:
            end = "limit"
            break
        ready, _, _ = select.select([conn], [], [], wait)
        if not ready:
            end = "idle"
            break
        try:
            chunk = conn.recv(65536)
        except OSError:
            end = "eof"
            break
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_BYTES:
            end = "limit"
            break
        if not answered and HTTP_REQUEST_END.search(data):
            conn.sendall(RESPONSE)
            answered = True
            # Let the client read the answer; keep what else it sends.
            idle = min(idle, 0.3)
    return bytes(data), end


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--max-conns", type=int, default=1)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(16)
    port = srv.getsockname()[1]
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % port)

    deadline = time.monotonic() + args.timeout
    count = 0
    while count < args.max_conns:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([srv], [], [], left)
        if not ready:
            break
        conn, peer = srv.accept()
        local = conn.getsockname()
        with conn:
            data, end = receive(conn, args.idle, deadline)
        count += 1
        base = args.prefix if count == 1 else "%s.%d" % (args.prefix, count)
        write_atomic(base + ".bin", data)
        meta = {"peer": [peer[0], peer[1]], "local": [local[0], local[1]],
                "bytes": len(data), "end": end}
        write_atomic(base + ".peer.json",
                     (json.dumps(meta, sort_keys=True) + "\n").encode())
    srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
