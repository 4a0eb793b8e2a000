#!/usr/bin/env python3
"""Black-box tests of ppproxy --mode http (issue 12), written from the
issue's text alone: every flag, header spelling, status line and behaviour
is checked byte for byte from outside.

    httptest.py BUILD_DIR            the whole http suite
    httptest.py bigup PORT FILE      (internal) the checksum-verifying
                                     upstream of the 1 000-connection test

The main tool is a recording upstream (class Upstream): it keeps every raw
byte it receives on each connection, frames requests itself (Content-Length,
chunked with trailers, 100-continue) and answers each from a script, so a
test can compare the whole rewritten byte stream with the expected text and
prove that nothing after a point of rejection reached it (or that it was
never dialled at all). Real peers: HAProxy in front (send-proxy-v2), nginx
behind (logging the forwarding headers), curl (also --http2), a WebSocket
upgrade, and 1 000 concurrent keep-alive connections x 20 requests.

Prints one line per check and ends with "N passed, M failed"; exit status 0
only when nothing failed. Every wait is bounded; every process started here
is stopped, by its PID, on exit.
"""
import asyncio
import base64
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pptool import tlv, v1_header, v2_header, V2_SIG  # noqa: E402
from proxytest import (Log, Procs, Results, free_port, wait_listening,  # noqa: E402
                       wait_until)

R = Results()
HERE = os.path.dirname(os.path.abspath(__file__))

REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 501: "Not Implemented",
           502: "Bad Gateway", 504: "Gateway Timeout",
           505: "HTTP Version Not Supported"}


def err(code):
    """The exact bytes of a rejection, as the issue spells them."""
    return ("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            % (code, REASONS[code])).encode()


def ok_resp(tag):
    body = tag.encode() if isinstance(tag, str) else tag
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def node(ip):
    return ('"[%s]"' % ip) if ":" in ip else ip


def fwd(client, port, proto="http", chain=None, real=None, fchain=None,
        xproto=None, xport=None):
    """The five lines ppproxy adds at the end of each head, in order."""
    own = "for=%s;proto=%s" % (node(client), proto)
    return ("X-Forwarded-For: %s\r\nX-Real-IP: %s\r\nX-Forwarded-Proto: %s\r\n"
            "X-Forwarded-Port: %s\r\nForwarded: %s\r\n" % (
                chain if chain is not None else client,
                real if real is not None else client,
                xproto if xproto is not None else proto,
                xport if xport is not None else port,
                (fchain + ", " + own) if fchain else own)).encode()


def req(first, *lines):
    """A request line and header lines (str or bytes), each ending in CRLF;
    the blank line that ends the head is left to the caller."""
    out = first.encode() if isinstance(first, str) else first
    out += b"\r\n"
    for l in lines:
        out += (l.encode() if isinstance(l, str) else l) + b"\r\n"
    return out


def show_diff(want, got):
    if want == got:
        return ""
    if want is None or got is None:
        return "expected %r, got %r" % (want, got)
    i = 0
    while i < min(len(want), len(got)) and want[i] == got[i]:
        i += 1
    lo = max(0, i - 80)
    return ("first difference at byte %d of %d/%d: expected %r ... got %r ... "
            "(whole: expected %r; got %r)" % (
                i, len(want), len(got), want[lo:i + 120], got[lo:i + 120],
                want[:1500], got[:1500]))


# ----------------------------------------------------------------------
# The recording, scripted upstream

CLOSE = "close"
RST = "rst"


def frame_request(buf):
    """(length, head, body) of the first request in buf, or None if it is
    incomplete. Leading empty lines are tolerated here (the test compares the
    raw bytes anyway)."""
    i = 0
    while buf.startswith(b"\r\n", i):
        i += 2
    end = buf.find(b"\r\n\r\n", i)
    if end < 0:
        return None
    head_ = buf[i:end + 4]
    cl, chunked = 0, False
    for line in head_.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                cl = int(value.strip())
            except ValueError:
                cl = 0
        elif name == b"transfer-encoding" and value.strip().lower().endswith(b"chunked"):
            chunked = True
    p = end + 4
    if chunked:
        while True:
            e = buf.find(b"\r\n", p)
            if e < 0:
                return None
            try:
                size = int(buf[p:e].split(b";")[0].strip(), 16)
            except ValueError:
                return len(buf), head_, buf[end + 4:]  # garbage: take it all
            p = e + 2
            if size == 0:
                while True:
                    e = buf.find(b"\r\n", p)
                    if e < 0:
                        return None
                    line = buf[p:e]
                    p = e + 2
                    if line == b"":
                        break
                break
            if len(buf) < p + size + 2:
                return None
            p += size + 2
    else:
        if len(buf) < p + cl:
            return None
        p += cl
    return p, head_, buf[end + 4:p]


class UpConn:
    def __init__(self, sock):
        self.sock = sock
        self.data = bytearray()
        self.pp = b""
        self.heads = []
        self.eof = threading.Event()
        self.tunnel = False
        self.end = None  # how ppproxy left: "eof" (FIN) or "reset"


def default_script(conn, i, head_, body):
    return ok_resp("r%d" % i)


class Upstream:
    """Threaded TCP server on loopback recording raw bytes per connection.
    script(conn, index, head, body) returns bytes to send, None (stay
    silent), CLOSE, or a list of steps (bytes to send, float seconds to
    sleep, CLOSE). A response starting "HTTP/1.1 101" turns the connection
    into an echo tunnel. pp=True: a PROXY header comes first (kept apart)."""

    def __init__(self, script=None, pp=False, host="127.0.0.1", backlog=128):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.script = script or default_script
        self.pp = pp
        self.expect_continue = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            c = UpConn(s)
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _take_pp(self, c, buf):
        if buf.startswith(b"PROXY "):
            e = buf.find(b"\r\n")
            if e < 0:
                return buf, False
            c.pp = buf[:e + 2]
            return buf[e + 2:], True
        if buf.startswith(V2_SIG[:len(buf)]) and len(buf) < 16:
            return buf, False
        if buf.startswith(V2_SIG):
            n = 16 + int.from_bytes(buf[14:16], "big")
            if len(buf) < n:
                return buf, False
            c.pp = buf[:n]
            return buf[n:], True
        return buf, True  # no header: leave the bytes

    def _act(self, c, action):
        steps = action if isinstance(action, list) else [action]
        for st in steps:
            if st is None:
                continue
            if st in (CLOSE, RST):
                return st
            if isinstance(st, float):
                time.sleep(st)
                continue
            c.sock.sendall(st)
            if st.startswith(b"HTTP/1.1 101"):
                c.tunnel = True
        return None

    def _serve(self, c):
        s = c.sock
        buf = b""
        got_pp = not self.pp
        idx = 0
        continued = -1
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    c.end = "eof"
                    break
                c.data += d
                if c.tunnel:
                    s.sendall(d)
                    continue
                buf += d
                if not got_pp:
                    buf, got_pp = self._take_pp(c, buf)
                    if not got_pp:
                        continue
                while not c.tunnel:
                    r = frame_request(buf)
                    if r is None:
                        hd = buf.find(b"\r\n\r\n")
                        if (self.expect_continue and hd >= 0 and continued != idx
                                and b"\r\nexpect: 100-continue\r\n" in buf[:hd + 2].lower()):
                            continued = idx
                            s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                        break
                    n, h, body = r
                    buf = buf[n:]
                    c.heads.append(h)
                    if (self.expect_continue and continued != idx
                            and b"\r\nexpect: 100-continue\r\n" in h.lower()):
                        s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    continued = -1
                    action = self.script(c, idx, h, body)
                    idx += 1
                    end = self._act(c, action)
                    if end == RST:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        return
                    if end == CLOSE:
                        s.shutdown(socket.SHUT_RDWR)
                        return
                if c.tunnel and buf:
                    s.sendall(buf)
                    buf = b""
        except ConnectionResetError:
            c.end = "reset"
        except OSError:
            pass
        finally:
            c.eof.set()
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ----------------------------------------------------------------------
# Clients


def open_conn(port, host="127.0.0.1", timeout=5):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def read_for(s, want_len=None, timeout=3.0):
    """Read until EOF, or until want_len bytes (then a short grace for any
    extra byte), or timeout. Returns (data, eof)."""
    data = b""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if want_len is not None and len(data) >= want_len:
            left = min(left, 0.15)
        if left <= 0:
            return data, False
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not d:
            return data, True
        data += d


def talk(port, steps, want_len=None, timeout=3.0, host="127.0.0.1", eof_wait=True):
    """Send the steps (bytes, or float seconds to sleep), then read the
    answer. Returns (data, eof, seconds from connect to the end)."""
    s = open_conn(port, host)
    t0 = time.monotonic()
    try:
        for st in steps:
            if isinstance(st, float):
                time.sleep(st)
            else:
                try:
                    s.sendall(st)
                except (BrokenPipeError, ConnectionResetError):
                    break
        data, eof = read_for(s, None if eof_wait else want_len, timeout)
        return data, eof, time.monotonic() - t0
    finally:
        s.close()


# ----------------------------------------------------------------------
# The suite

V1 = v1_header(("203.0.113.7", 40000), ("192.0.2.1", 443))
F1 = fwd("203.0.113.7", 443)
SPOOF_NAMES = (b"x-forwarded-for", b"x-real-ip", b"forwarded", b"x-forwarded-proto",
               b"x-forwarded-port")


class PP:
    """One ppproxy --mode http instance on 127.0.0.1:port and [::1]:port."""

    def __init__(self, suite, name, upstream_port, args, json_log=False, v6=True):
        self.port = free_port()
        self.log = Log(suite.path(name + ".log"), json_log)
        argv = [suite.bin, "--mode", "http", "--listen", "127.0.0.1:%d" % self.port]
        if v6:
            argv += ["--listen", "[::1]:%d" % self.port]
        argv += ["--upstream", "127.0.0.1:%d" % upstream_port, "--log", self.log.path,
                 "--workers", "1"] + (["--log-format", "json"] if json_log else []) + args
        self.argv = argv
        self.proc = suite.procs.start(name, argv)
        if not wait_listening(self.port, self.proc):
            raise RuntimeError("%s did not start: %s" % (
                name, open(suite.path(name + ".err")).read()))


class Suite:
    def __init__(self, build, tmp):
        self.tmp = tmp
        self.bin = os.path.join(build, "examples", "ppproxy", "ppproxy")
        self.procs = Procs(tmp)
        self.ups = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def upstream(self, script=None, pp=False, **kw):
        u = Upstream(script, pp, **kw)
        self.ups.append(u)
        return u

    # -- the core check ------------------------------------------------
    def case(self, name, pp, up, steps, want_client, want_up, eof=True,
             timeout=3.0, host="127.0.0.1", want_pp=None, took=None):
        """Send steps through pp; the client must get exactly want_client
        (and EOF when eof), the upstream exactly want_up on one new
        connection (None: never dialled). took=(lo, hi) bounds the time to
        the end. Returns the upstream connection or None."""
        n0 = len(up.conns)
        alts = want_client if isinstance(want_client, list) else [want_client]
        data, got_eof, t = talk(pp.port, steps, len(alts[0]), timeout, host,
                                eof_wait=eof)
        problems = []
        if data not in alts:
            problems.append("client: " + show_diff(alts[0], data) +
                            (" (or %r)" % alts[1:] if len(alts) > 1 else ""))
        if eof and not got_eof:
            problems.append("client: connection not closed within %.1f s" % timeout)
        if took is not None and not (took[0] <= t <= took[1]):
            problems.append("took %.3f s, expected %.2f-%.2f s" % (t, took[0], took[1]))
        c = None
        if want_up is None:
            time.sleep(0.2)
            if len(up.conns) != n0:
                problems.append("upstream was dialled (got %r)" % bytes(up.conns[n0].data)[:300])
        else:
            wait_until(lambda: len(up.conns) > n0, 3)
            if len(up.conns) <= n0:
                problems.append("upstream never dialled")
            else:
                c = up.conns[n0]
                if not c.eof.wait(3):
                    problems.append("upstream connection not closed by ppproxy "
                                    "after the client left")
                got = bytes(c.data)
                if want_pp is not None:
                    if not got.startswith(want_pp):
                        problems.append("upstream PROXY header: " + show_diff(
                            want_pp, got[:len(want_pp)]))
                    got = got[len(want_pp):]
                ups = want_up if isinstance(want_up, list) else [want_up]
                if got not in ups:
                    problems.append("upstream: " + show_diff(ups[0], got) +
                                    (" (or %r)" % ups[1:] if len(ups) > 1 else ""))
                if len(up.conns) > n0 + 1:
                    problems.append("more than one upstream connection")
        R.check(name, not problems, "; ".join(problems))
        return c

    # -- instances -----------------------------------------------------
    def start_main(self):
        """The instance most tests use, and its upstream."""
        def script(c, i, h, body):
            first = h.split(b"\r\n")[0]
            path = first.split(b" ")[1] if b" " in first else b""
            if path.startswith(b"/slow"):
                return [0.5, ok_resp("slow")]
            if path.startswith(b"/silent"):
                return None
            if path.startswith(b"/close"):
                return CLOSE
            if path.startswith(b"/raw/"):
                return self.raw_responses[path[5:].decode()]
            if path.startswith(b"/ws"):
                if b"refuse" in path:
                    return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n"
                r101 = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\n\r\n")
                return r101 + b"SERVER-FIRST" if b"eager" in path else r101
            if path.startswith(b"/once"):
                return [ok_resp("r%d" % i), CLOSE]
            if path.startswith(b"/reset"):
                return RST
            return ok_resp("r%d" % i)
        self.raw_responses = {}
        self.up = self.upstream(script)
        self.pp = PP(self, "main", self.up.port,
                     ["--trusted", "127.0.0.1", "--trusted", "::1", "--timeout", "2000",
                      "--max-request-head", "4096", "--request-timeout", "3000",
                      "--response-timeout", "3000", "--idle-timeout", "4000"])

    # -- tests ---------------------------------------------------------
    def test_cli(self):
        def run(args):
            return subprocess.run([self.bin] + args, capture_output=True, text=True,
                                  timeout=10)
        h = run(["--help"])
        opts = ["--mode", "--forwarded-from", "--request-timeout", "--response-timeout",
                "--connect-timeout", "--idle-timeout", "--max-request-head"]
        R.check("http cli: --help documents the new options",
                h.returncode == 0 and all(o in h.stdout for o in opts),
                [o for o in opts if o not in h.stdout])
        R.check("http cli: --help gives the issue's defaults (10000, 60000, 3000, 65536, "
                "1048576)", all(d in h.stdout for d in ("default 10000", "default 60000",
                                                      "default 3000", "default 65536",
                                                      "1048576")), h.stdout)
        base = ["--listen", "127.0.0.1:%d" % free_port(), "--upstream", "127.0.0.1:9",
                "--trusted", "127.0.0.1"]
        bad = [("--mode udp", ["--mode", "udp"], "udp"),
               ("--forwarded-from bad CIDR", ["--mode", "http", "--forwarded-from", "10.0.0.0/33"],
                "10.0.0.0/33"),
               ("--max-request-head above 1048576", ["--mode", "http",
                                                     "--max-request-head", "1048577"], "1048577"),
               ("--request-timeout -1", ["--mode", "http", "--request-timeout", "-1"], "-1"),
               ("--connect-timeout x", ["--connect-timeout", "x"], "x"),
               ("--idle-timeout -5", ["--idle-timeout", "-5"], "-5"),
               ("--response-timeout 1.5", ["--mode", "http", "--response-timeout", "1.5"], "1.5")]
        for name, args, value in bad:
            r = run(base + args)
            opt = args[-2]
            R.check("http cli: %s -> exit 2, the message names the option and value" % name,
                    r.returncode == 2 and opt in r.stderr and value in r.stderr
                    and "unrecognized" not in r.stderr, (r.returncode, r.stderr))
        # and the largest values are accepted: ppproxy starts
        port = free_port()
        p = self.procs.start("cli_ok", [self.bin, "--mode", "http", "--listen",
                                        "127.0.0.1:%d" % port, "--upstream", "127.0.0.1:9",
                                        "--trusted", "127.0.0.1", "--max-request-head", "1048576",
                                        "--forwarded-from", "10.0.0.0/8", "--forwarded-from",
                                        "2001:db8::/32", "--request-timeout", "1",
                                        "--response-timeout", "1", "--connect-timeout", "1",
                                        "--idle-timeout", "0", "--log", "/dev/null"])
        R.check("http cli: every new option with a valid value: ppproxy starts",
                wait_listening(port, p), open(self.path("cli_ok.err")).read())
        self.procs.stop(p)
        port = free_port()
        p = self.procs.start("cli_tcp", [self.bin, "--mode", "tcp", "--listen",
                                         "127.0.0.1:%d" % port, "--upstream", "127.0.0.1:9",
                                         "--trusted", "127.0.0.1", "--connect-timeout", "500",
                                         "--idle-timeout", "1000", "--log", "/dev/null"])
        R.check("http cli: --mode tcp with --connect-timeout and --idle-timeout starts",
                wait_listening(port, p), open(self.path("cli_tcp.err")).read())
        self.procs.stop(p)

    def test_clients(self):
        """<client>, <port>, <node>, <proto> from every kind of header."""
        pp, up = self.pp, self.up
        lp = self.pp.port
        get = req("GET /c HTTP/1.1", "Host: c.example", "User-Agent: t")
        close = req("GET /c HTTP/1.1", "Host: c.example", "Connection: close")
        cases = [
            ("v1 TCP4", V1, "203.0.113.7", 443, "http"),
            ("v1 TCP6", v1_header(("2001:db8::17", 1), ("2001:db8::1", 8443)),
             "2001:db8::17", 8443, "http"),
            ("v1 TCP6 IPv4-mapped", v1_header(("::ffff:192.0.2.10", 1), ("::ffff:192.0.2.1", 81)),
             "192.0.2.10", 81, "http"),
            ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n", "127.0.0.1", lp, "http"),
            ("v1 UNKNOWN with addresses",
             b"PROXY UNKNOWN 192.0.2.9 192.0.2.1 1 2\r\n", "127.0.0.1", lp, "http"),
            ("v2 TCP4", v2_header(("192.0.2.5", 5000), ("192.0.2.1", 8080)),
             "192.0.2.5", 8080, "http"),
            ("v2 TCP6 (RFC 5952 text)",
             v2_header(("2001:0db8:0:0:1:0:0:1", 5000), ("2001:db8::2", 443)),
             "2001:db8::1:0:0:1", 443, "http"),
            ("v2 TCP6 single zero field not compressed",
             v2_header(("2001:db8:0:1:1:1:1:1", 5000), ("2001:db8::2", 443)),
             "2001:db8:0:1:1:1:1:1", 443, "http"),
            ("v2 TCP6 IPv4-mapped", v2_header(("::ffff:192.0.2.9", 5000), ("::ffff:192.0.2.1", 444)),
             "192.0.2.9", 444, "http"),
            ("v2 LOCAL", v2_header(("192.0.2.5", 5000), ("192.0.2.1", 8080), command=0),
             "127.0.0.1", lp, "http"),
            ("v2 UNSPEC", v2_header(None, None), "127.0.0.1", lp, "http"),
            ("v2 UNIX", v2_header(b"/run/a.sock", b"/run/b.sock"), "127.0.0.1", lp, "http"),
            ("v2 SSL TLV with PP2_CLIENT_SSL",
             v2_header(("192.0.2.5", 5000), ("192.0.2.1", 443),
                       tlvs=tlv(0x20, b"\x01\0\0\0\0" + tlv(0x21, b"TLSv1.3"))),
             "192.0.2.5", 443, "https"),
            ("v2 SSL TLV with CLIENT_SSL and CERT bits, CRC32C",
             v2_header(("192.0.2.5", 5000), ("192.0.2.1", 443),
                       tlvs=tlv(0x20, b"\x07\0\0\0\0"), crc=True),
             "192.0.2.5", 443, "https"),
            ("v2 SSL TLV without PP2_CLIENT_SSL",
             v2_header(("192.0.2.5", 5000), ("192.0.2.1", 443),
                       tlvs=tlv(0x20, b"\x06\0\0\0\0")),
             "192.0.2.5", 443, "http"),
            ("v2 other TLVs only (ALPN, authority)",
             v2_header(("192.0.2.5", 5000), ("192.0.2.1", 443),
                       tlvs=tlv(0x01, b"h2") + tlv(0x02, b"a.example")),
             "192.0.2.5", 443, "http"),
        ]
        for name, hdr, client, port, proto in cases:
            f = fwd(client, port, proto)
            self.case("client %s: %s, port %s, %s" % (name, client, port, proto), pp, up,
                      [hdr + get + b"\r\n" + close + b"\r\n"],
                      ok_resp("r0") + ok_resp("r1"),
                      get + f + b"\r\n" + close + f + b"\r\n")
        # socket peer over IPv6 with LOCAL
        f = fwd("::1", lp)
        self.case("client v2 LOCAL over [::1]: socket peer ::1, for=\"[::1]\"", pp, up,
                  [v2_header(command=0) + close + b"\r\n"], ok_resp("r0"),
                  close + f + b"\r\n", host="::1")
        # v2 PROXY command with UNSPEC over IPv6
        self.case("client v1 UNKNOWN over [::1]", pp, up,
                  [b"PROXY UNKNOWN\r\n" + close + b"\r\n"], ok_resp("r0"),
                  close + f + b"\r\n", host="::1")
        # a literal, whole expected request, not built by fwd()
        self.case("literal: v1 TCP4 GET, exact upstream bytes", pp, up,
                  [V1 + b"GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"],
                  ok_resp("r0"),
                  b"GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                  b"X-Forwarded-For: 203.0.113.7\r\nX-Real-IP: 203.0.113.7\r\n"
                  b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: 443\r\n"
                  b"Forwarded: for=203.0.113.7;proto=http\r\n\r\n")
        self.case("literal: v1 TCP6 exact upstream bytes", pp, up,
                  [v1_header(("2001:db8::17", 1), ("2001:db8::1", 8443)) +
                   b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"],
                  ok_resp("r0"),
                  b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                  b"X-Forwarded-For: 2001:db8::17\r\nX-Real-IP: 2001:db8::17\r\n"
                  b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: 8443\r\n"
                  b"Forwarded: for=\"[2001:db8::17]\";proto=http\r\n\r\n")

    def test_untrusted(self):
        up = self.upstream()
        pp = PP(self, "untrusted", up.port, ["--trusted", "10.0.0.0/8"], v6=False)
        self.case("untrusted peer in http mode: closed, no response, upstream never dialled",
                  pp, up, [V1 + req("GET / HTTP/1.1", "Host: a") + b"\r\n"], b"", None)
        self.case("trusted peer without a PROXY header: closed, upstream never dialled",
                  self.pp, self.up, [req("GET / HTTP/1.1", "Host: a") + b"\r\n"], b"", None)

    def test_spoofed(self):
        pp, up = self.pp, self.up
        lines = ["x-forwarded-for: 6.6.6.6", "Host: a", "X-FORWARDED-FOR: 7.7.7.7, 8.8.8.8",
                 "X-Real-Ip: 6.6.6.6", "x-real-ip:6.6.6.6", "X-REAL-IP:\t6.6.6.6",
                 "FORWARDED: for=6.6.6.6", "forwarded: for=\"[2001:db8::6]\";proto=https",
                 "X-Forwarded-Proto: https", "x-forwarded-proto:   https   ",
                 "X-Forwarded-Port: 443", "x-FORWARDED-port: 8443",
                 "X-Forwarded-Host: keep.example", "X-Forwarded-For-Not: keep",
                 "X-Forwarded: keep", "Forwarded-For: keep", "X-Forwarded-For:",
                 "X-Note: X-Forwarded-For: 6.6.6.6", "X-Forwarded-Forwarded: keep",
                 "User-Agent: t", "X-Forwarded-For: 9.9.9.9"]
        kept = [l for l in lines if l.split(":")[0].strip().lower().encode() not in SPOOF_NAMES]
        first = "GET /spoof HTTP/1.1"
        self.case("spoofed forwarding fields: every case, count and place removed", pp, up,
                  [V1 + req(first, *lines, "Connection: close") + b"\r\n"], ok_resp("r0"),
                  req(first, *kept, "Connection: close") + F1 + b"\r\n")
        self.case("spoofed field as the only header line (HTTP/1.0)", pp, up,
                  [V1 + b"GET / HTTP/1.0\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"], ok_resp("r0"),
                  b"GET / HTTP/1.0\r\n" + F1 + b"\r\n")
        # trailers of a chunked request
        body_in = (b"5\r\nhello\r\n0\r\nX-Forwarded-For: 6.6.6.6\r\nX-Trailer: t\r\n"
                   b"x-real-ip: 6.6.6.6\r\nFORWARDED: for=6.6.6.6\r\n"
                   b"X-Forwarded-Proto: https\r\nx-forwarded-port: 1\r\n\r\n")
        body_out = b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
        h = req("POST /t HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")
        cl = req("GET /after HTTP/1.1", "Host: a", "Connection: close")
        self.case("chunked trailers: forwarding fields removed, others kept", pp, up,
                  [V1 + h + b"\r\n" + body_in + cl + b"\r\n"], ok_resp("r0") + ok_resp("r1"),
                  h + F1 + b"\r\n" + body_out + cl + F1 + b"\r\n")
        body_in = b"3\r\nabc\r\n0\r\nx-forwarded-for: 6.6.6.6\r\n\r\n"
        self.case("chunked trailers: only spoofed fields -> empty trailer section", pp, up,
                  [V1 + h + b"\r\n" + body_in + cl + b"\r\n"], ok_resp("r0") + ok_resp("r1"),
                  h + F1 + b"\r\n" + b"3\r\nabc\r\n0\r\n\r\n" + cl + F1 + b"\r\n")
        # same request fed byte by byte
        data = V1 + req(first, *lines, "Connection: close") + b"\r\n"
        self.case("spoofed fields, request sent in 1-byte writes", pp, up,
                  [bytes([b]) for b in data], ok_resp("r0"),
                  req(first, *kept, "Connection: close") + F1 + b"\r\n", timeout=5)

    def test_chains(self):
        up = self.upstream()
        pp = PP(self, "chain", up.port,
                ["--trusted", "127.0.0.1", "--forwarded-from", "198.51.100.0/24",
                 "--forwarded-from", "2001:db8:cdf::/48"], v6=False)
        hop = v1_header(("198.51.100.7", 40000), ("192.0.2.1", 8443))
        hop_ssl = v2_header(("198.51.100.7", 40000), ("192.0.2.1", 8443),
                            tlvs=tlv(0x20, b"\x01\0\0\0\0"))
        cl = "Connection: close"

        def one(name, hdr, lines, client, port, proto, keep, **kw):
            first = "GET /chain HTTP/1.1"
            self.case("--forwarded-from: " + name, pp, up,
                      [hdr + req(first, "Host: a", *lines, cl) + b"\r\n"], ok_resp("r0"),
                      req(first, "Host: a", *keep, cl) + fwd(client, port, proto, **kw) + b"\r\n")
        one("spoofed leftmost elements kept, trusted hop appended, <real> from the right",
            hop, ["X-Forwarded-For: 6.6.6.6, 203.0.113.9", "Forwarded: for=6.6.6.6;proto=https",
                  "x-forwarded-for:  198.51.100.20 ,,\t", "User-Agent: u",
                  "forwarded: for=\"[2001:db8::9]\"", "X-Real-IP: 6.6.6.6"],
            "198.51.100.7", 8443, "http", ["User-Agent: u"],
            chain="6.6.6.6, 203.0.113.9, 198.51.100.20, 198.51.100.7", real="203.0.113.9",
            fchain='for=6.6.6.6;proto=https, for="[2001:db8::9]"')
        one("trusted hop's X-Forwarded-Proto/Port (last line, trimmed) replace ppproxy's",
            hop, ["X-Forwarded-Proto: http", "X-Forwarded-Proto:  https ",
                  "X-Forwarded-Port: 80", "x-forwarded-port:\t443\t"],
            "198.51.100.7", 8443, "http", [], xproto="https", xport="443")
        one("SSL TLV: Forwarded keeps proto=https while the hop's X-Forwarded-Proto: http wins",
            hop_ssl, ["X-Forwarded-Proto: http"], "198.51.100.7", 8443, "https", [],
            xproto="http")
        one("no incoming chain: <chain> and <real> are the client", hop, [],
            "198.51.100.7", 8443, "http", [])
        one("untrusted element not an address -> <real> is the client", hop,
            ["X-Forwarded-For: 203.0.113.9, unknown"], "198.51.100.7", 8443, "http", [],
            chain="203.0.113.9, unknown, 198.51.100.7", real="198.51.100.7")
        one("element with a port is not a plain address -> <real> is the client", hop,
            ["X-Forwarded-For: 203.0.113.9:1234"], "198.51.100.7", 8443, "http", [],
            chain="203.0.113.9:1234, 198.51.100.7", real="198.51.100.7")
        one("IPv6 element as <real>", hop, ["X-Forwarded-For: 2001:db8::5"],
            "198.51.100.7", 8443, "http", [],
            chain="2001:db8::5, 198.51.100.7", real="2001:db8::5")
        one("every element trusted -> <real> is the client", hop,
            ["X-Forwarded-For: 198.51.100.99"], "198.51.100.7", 8443, "http", [],
            chain="198.51.100.99, 198.51.100.7", real="198.51.100.7")
        one("IPv6 trusted hop", v1_header(("2001:db8:cdf::1", 1), ("2001:db8::1", 443)),
            ["X-Forwarded-For: 203.0.113.9"], "2001:db8:cdf::1", 443, "http", [],
            chain="203.0.113.9, 2001:db8:cdf::1", real="203.0.113.9")
        one("IPv4-mapped trusted hop (v2 INET6 ::ffff:198.51.100.7) matches the IPv4 CIDR",
            v2_header(("::ffff:198.51.100.7", 1), ("::ffff:192.0.2.1", 8443)),
            ["X-Forwarded-For: 203.0.113.9"], "198.51.100.7", 8443, "http", [],
            chain="203.0.113.9, 198.51.100.7", real="203.0.113.9")
        one("trusted IPv6 element skipped from the right", hop,
            ["X-Forwarded-For: 203.0.113.9, 2001:db8:cdf::9"], "198.51.100.7", 8443, "http", [],
            chain="203.0.113.9, 2001:db8:cdf::9, 198.51.100.7", real="203.0.113.9")
        one("bracketed IPv6 element is not a plain address -> <real> is the client", hop,
            ["X-Forwarded-For: [2001:db8::5]"], "198.51.100.7", 8443, "http", [],
            chain="[2001:db8::5], 198.51.100.7", real="198.51.100.7")
        one("IPv4 element with leading zeros (010.1.1.1) is not a plain address", hop,
            ["X-Forwarded-For: 010.1.1.1"], "198.51.100.7", 8443, "http", [],
            chain="010.1.1.1, 198.51.100.7", real="198.51.100.7")
        one("client outside --forwarded-from: its chain and proto/port are dropped",
            v1_header(("203.0.113.50", 1), ("192.0.2.1", 443)),
            ["X-Forwarded-For: 6.6.6.6", "Forwarded: for=6.6.6.6", "X-Forwarded-Proto: https",
             "X-Forwarded-Port: 1", "X-Real-IP: 6.6.6.6"],
            "203.0.113.50", 443, "http", [])
        reals = wait_until(lambda: [e.get("client") for e in pp.log.entries() if "method" in e],
                           3) or []
        R.check("--forwarded-from: the request log's client is <real> (203.0.113.9, "
                "2001:db8::5), the hop otherwise", "203.0.113.9" in reals and "2001:db8::5" in reals
                and "198.51.100.7" in reals and "6.6.6.6" not in reals, reals)
        # the CIDR match and the socket-peer rule: LOCAL from 127.0.0.1 (not in the list)
        one("LOCAL header: socket peer 127.0.0.1 is not a trusted hop",
            v2_header(command=0), ["X-Forwarded-For: 6.6.6.6"], "127.0.0.1", pp.port, "http", [])

    def test_keepalive(self):
        pp, up = self.pp, self.up
        r1 = req("GET /1 HTTP/1.1", "Host: a", "X-Forwarded-For: 6.6.6.6")
        r2 = req("POST /2 HTTP/1.1", "Host: a", "Content-Length: 10")
        b2 = b"0123456789"
        r3 = req("POST /3 HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")
        b3 = b"4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
        r4 = req("PUT /4 HTTP/1.1", "Host: a", "Content-Length: 30")
        b4 = b"GET /smuggle HTTP/1.1\r\nX: y\r\n\r\n"[:30]
        r5 = req("GET /5 HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked")
        b5 = b"3\r\nxyz\r\n0\r\n\r\n"
        r6 = req("GET /6 HTTP/1.1", "Host: a", "Connection: close")
        stream = r1 + b"\r\n" + r2 + b"\r\n" + b2 + r3 + b"\r\n" + b3 + r4 + b"\r\n" + b4 + \
            r5 + b"\r\n" + b5 + r6 + b"\r\n"
        want_up = b"GET /1 HTTP/1.1\r\nHost: a\r\n" + F1 + b"\r\n" + r2 + F1 + b"\r\n" + b2 + \
            r3 + F1 + b"\r\n" + b3 + r4 + F1 + b"\r\n" + b4 + r5 + F1 + b"\r\n" + b5 + \
            r6 + F1 + b"\r\n"
        want_client = b"".join(ok_resp("r%d" % i) for i in range(6))
        self.case("pipelined: GET, Content-Length, chunked (ext), CL body that looks like a "
                  "request, gzip+chunked, close", pp, up, [V1 + stream], want_client, want_up)
        many = [req("GET /p%d HTTP/1.1" % i, "Host: a", "X-Real-IP: 6.6.6.6") for i in range(300)]
        many_out = [req("GET /p%d HTTP/1.1" % i, "Host: a") for i in range(300)]
        self.case("300 pipelined requests in one write, answered in order", pp, up,
                  [V1 + b"".join(r + b"\r\n" for r in many) + r6 + b"\r\n"],
                  b"".join(ok_resp("r%d" % i) for i in range(301)),
                  b"".join(r + F1 + b"\r\n" for r in many_out) + r6 + F1 + b"\r\n", timeout=8)
        # keep-alive: one request at a time, waiting for each response
        steps = [V1]
        for part in (r1 + b"\r\n", r2 + b"\r\n" + b2, r3 + b"\r\n" + b3, r6 + b"\r\n"):
            steps += [part, 0.15]
        self.case("keep-alive: requests one by one on one connection", pp, up, steps,
                  ok_resp("r0") + ok_resp("r1") + ok_resp("r2") + ok_resp("r3"),
                  b"GET /1 HTTP/1.1\r\nHost: a\r\n" + F1 + b"\r\n" + r2 + F1 + b"\r\n" + b2 +
                  r3 + F1 + b"\r\n" + b3 + r6 + F1 + b"\r\n")
        # the whole pipelined stream split at every 7th byte with pauses
        data = V1 + stream
        steps = []
        for i in range(0, len(data), 7):
            steps += [data[i:i + 7], 0.002]
        self.case("pipelined stream in 7-byte pieces", pp, up, steps, want_client, want_up,
                  timeout=6)
        # empty lines before request lines
        a = req("GET /e1 HTTP/1.1", "Host: a")
        b = req("POST /e2 HTTP/1.1", "Host: a", "Content-Length: 3")
        c = req("GET /e3 HTTP/1.1", "Host: a", "Connection: close")
        self.case("empty lines before a request line are dropped (start and after a body)",
                  pp, up, [V1 + b"\r\n\r\n" + a + b"\r\n\r\n" + b + b"\r\nabc\r\n\r\n" + c + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1") + ok_resp("r2"),
                  a + F1 + b"\r\n" + b + F1 + b"\r\nabc" + c + F1 + b"\r\n")
        # HTTP/1.0
        g = b"GET /10 HTTP/1.0\r\nUser-Agent: old\r\n"
        self.case("HTTP/1.0 without keep-alive: last request, bytes after it not forwarded",
                  pp, up, [V1 + g + b"\r\nGET /never HTTP/1.0\r\n\r\n"], ok_resp("r0"),
                  g + F1 + b"\r\n")
        g2 = b"GET /10 HTTP/1.0\r\nConnection: keep-alive\r\n"
        self.case("HTTP/1.0 with Connection: keep-alive: next request forwarded", pp, up,
                  [V1 + g2 + b"\r\n" + g + b"\r\nGET /never HTTP/1.0\r\n\r\n"],
                  ok_resp("r0") + ok_resp("r1"), g2 + F1 + b"\r\n" + g + F1 + b"\r\n")
        c1 = req("GET /c HTTP/1.1", "Host: a", "Connection: Close")
        self.case("Connection: close: nothing after it forwarded, closed after the response",
                  pp, up, [V1 + c1 + b"\r\n" + r1 + b"\r\n" + b"garbage\r\n\r\n"], ok_resp("r0"),
                  c1 + F1 + b"\r\n")
        c2 = req("GET /c HTTP/1.1", "Host: a", "Connection: keep-alive, close")
        self.case("Connection: keep-alive, close is a close", pp, up,
                  [V1 + c2 + b"\r\n" + r1 + b"\r\n"], ok_resp("r0"), c2 + F1 + b"\r\n")
        # "close" however the list is spelled (RFC 9110 5.6.1: OWS is SP or
        # HTAB, empty elements allowed, tokens case-insensitive)
        for v in ("CLOSE", "Keep-Alive,\tclose", "close\t", "keep-alive,,close", "te , close",
                  "keep-alive, , close"):
            cv = req("GET /c HTTP/1.1", "Host: a", "Connection: " + v)
            self.case("Connection: %r is a close: nothing after it forwarded" % v, pp, up,
                      [V1 + cv + b"\r\n" + r1 + b"\r\n"], ok_resp("r0"), cv + F1 + b"\r\n")
        # tab before a chunked value is valid OWS: framing must follow chunked
        t = req("POST /tab HTTP/1.1", "Host: a", "Transfer-Encoding:\tchunked")
        self.case("Transfer-Encoding:<TAB>chunked is chunked (framing follows it)", pp, up,
                  [V1 + t + b"\r\n" + b"0\r\n\r\n" + r6 + b"\r\n"], ok_resp("r0") + ok_resp("r1"),
                  t + F1 + b"\r\n0\r\n\r\n" + r6 + F1 + b"\r\n")
        t = req("POST /uc HTTP/1.1", "Host: a", "Transfer-Encoding: Chunked")
        self.case("Transfer-Encoding: Chunked (coding names are case-insensitive) is chunked",
                  pp, up, [V1 + t + b"\r\n" + b"0\r\n\r\n" + r6 + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1"), t + F1 + b"\r\n0\r\n\r\n" + r6 + F1 + b"\r\n")

    def test_upstream_close(self):
        """An upstream sent a request that ends the connection, and that
        answered it, is closed with a reset (no FIN exchange, no TIME_WAIT);
        one kept alive when the client leaves gets a FIN."""
        pp, up = self.pp, self.up
        r = req("GET /c HTTP/1.1", "Host: a", "Connection: close")
        c = self.case("Connection: close, answered: relayed whole", pp, up, [V1 + r + b"\r\n"],
                      ok_resp("r0"), r + F1 + b"\r\n")
        R.check("Connection: close, answered: the upstream is closed with a reset",
                c is not None and c.end == "reset", "upstream saw %r" % (c and c.end))
        r = req("GET /k HTTP/1.1", "Host: a")
        c = self.case("keep-alive, the client leaves after the answer: relayed whole", pp, up,
                      [V1 + r + b"\r\n"], ok_resp("r0"), r + F1 + b"\r\n", eof=False)
        R.check("keep-alive, the client leaves: the upstream gets a FIN, not a reset",
                c is not None and c.end == "eof", "upstream saw %r" % (c and c.end))

    def test_forms(self):
        """Request forms that must pass byte for byte; bodies in later reads;
        large bodies both ways."""
        pp, up = self.pp, self.up
        H = "Host: a"
        c = "Connection: close"
        forms = [
            ("absolute-form target", req("GET http://a.example/x?y HTTP/1.1", "Host: a.example", c)),
            ("OPTIONS *", req("OPTIONS * HTTP/1.1", H, c)),
            ("obs-text (UTF-8) in a value", req("GET / HTTP/1.1", H, b"X-Name: caf\xc3\xa9", c)),
            ("trailing spaces and tabs in values, no space after the colon",
             req("GET / HTTP/1.1", "Host:a   ", "X-A:\tv \t", c)),
            ("100 header lines", req("GET / HTTP/1.1", H, *["X-H%d: %d" % (i, i) for i in range(100)],
                                     c)),
            ("lower-case transfer-encoding: chunked with upper-case hex sizes",
             req("POST / HTTP/1.1", H, "transfer-encoding: chunked", c) + b"\r\nA\r\n0123456789\r\n"
             b"0\r\n"),
            ("chunk size with leading zeros", req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked", c) +
             b"\r\n0003\r\nabc\r\n0\r\n"),
            ("Content-Length: 0", req("POST / HTTP/1.1", H, "Content-Length: 0", c)),
            ("empty Host value", req("GET / HTTP/1.1", "Host:", c)),
            ("Transfer-Encoding split over two lines: gzip, then chunked",
             req("POST / HTTP/1.1", H, "Transfer-Encoding: gzip", "Transfer-Encoding: chunked", c) +
             b"\r\n1\r\nz\r\n0\r\n"),
            ("Content-Length with trailing space, no space before", req(
                "POST / HTTP/1.1", H, "Content-Length:3 ", c) + b"\r\nabc"),
            ("Transfer-Encoding: chunked with trailing space",
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked ", c) + b"\r\n1\r\nz\r\n0\r\n"),
            ("Content-Length with leading zeros", req("POST / HTTP/1.1", H, "Content-Length: 003", c) +
             b"\r\nabc"),
        ]
        # RFC 9110 5.6.1 lists: OWS (SP or HTAB) around commas, empty elements
        # ignored; a field value's trailing HTAB is OWS too
        forms.append(("Content-Length: 3<TAB>", req("POST / HTTP/1.1", H, "Content-Length: 3\t", c)
                      + b"\r\nabc"))
        for te in ("deflate, chunked", "compress, chunked", "x-gzip, chunked",
                   "x-compress, chunked", "GZIP, chunked", "gzip, deflate, chunked",
                   "gzip,chunked", "gzip ,\tchunked", "gzip,\tchunked", "gzip, chunked\t",
                   "gzip,,chunked", "gzip, , chunked", "chunked\t"):
            forms.append(("Transfer-Encoding: %s" % te,
                          req("POST / HTTP/1.1", H, "Transfer-Encoding: %s" % te, c) +
                          b"\r\n1\r\nz\r\n0\r\n"))
        for name, data in forms:
            if b"\r\n\r\n" in data or data.endswith(b"0\r\n"):
                # a body follows the head: split where the head ends
                h, _, rest = data.partition(b"\r\n\r\n")
                h += b"\r\n"
                rest = rest + (b"\r\n" if data.endswith(b"0\r\n") else b"")
            else:
                h, rest = data, b""
            self.case("passes byte for byte: " + name, pp, up,
                      [V1 + h + b"\r\n" + rest], ok_resp("r0"), h + F1 + b"\r\n" + rest)
        # a body that comes in a later read than its head
        p1 = req("POST /late HTTP/1.1", H, "Content-Length: 5")
        last = req("GET /end HTTP/1.1", H, c)
        self.case("Content-Length body arriving 0.3 s after its head", pp, up,
                  [V1 + p1 + b"\r\n", 0.3, b"hel", 0.1, b"lo" + last + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1"), p1 + F1 + b"\r\nhello" + last + F1 + b"\r\n")
        p2 = req("POST /late HTTP/1.1", H, "Transfer-Encoding: chunked")
        self.case("chunked body arriving in pieces after its head", pp, up,
                  [V1 + p2 + b"\r\n", 0.2, b"5\r\nhel", 0.1, b"lo\r\n0\r", 0.1,
                   b"\n\r\n" + last + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1"),
                  p2 + F1 + b"\r\n5\r\nhello\r\n0\r\n\r\n" + last + F1 + b"\r\n")
        # large bodies: 2 MiB up (Content-Length and chunked), 3 MiB down
        blob = random.Random(7).randbytes(2 << 20)
        p3 = req("PUT /big HTTP/1.1", H, "Content-Length: %d" % len(blob))
        enc = b"".join(b"%x\r\n%s\r\n" % (len(blob[i:i + 100000]), blob[i:i + 100000])
                       for i in range(0, len(blob), 100000)) + b"0\r\n\r\n"
        p4 = req("PUT /big HTTP/1.1", H, "Transfer-Encoding: chunked")
        self.case("2 MiB Content-Length body and 2 MiB chunked body, pipelined", pp, up,
                  [V1 + p3 + b"\r\n" + blob + p4 + b"\r\n" + enc + last + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1") + ok_resp("r2"),
                  p3 + F1 + b"\r\n" + blob + p4 + F1 + b"\r\n" + enc + last + F1 + b"\r\n",
                  timeout=15)
        down = random.Random(8).randbytes(3 << 20)
        self.raw_responses["big"] = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(down)
                                     + down)
        self.raw_responses["bigchunked"] = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(
                b"%x\r\n%s\r\n" % (len(down[i:i + 65536]), down[i:i + 65536])
                for i in range(0, len(down), 65536)) + b"0\r\n\r\n")
        g1 = req("GET /raw/big HTTP/1.1", H)
        g2 = req("GET /raw/bigchunked HTTP/1.1", H)
        self.case("3 MiB response bodies (Content-Length, chunked) relayed whole, then the "
                  "next request", pp, up, [V1 + g1 + b"\r\n" + g2 + b"\r\n" + last + b"\r\n"],
                  self.raw_responses["big"] + self.raw_responses["bigchunked"] + ok_resp("r2"),
                  g1 + F1 + b"\r\n" + g2 + F1 + b"\r\n" + last + F1 + b"\r\n", timeout=15)

    def test_random(self):
        """Random valid pipelines (fixed seed): methods, spoofed fields in
        random case and place, Content-Length and chunked bodies with
        trailers, empty lines, sent in random pieces; the upstream must get
        exactly the model's bytes."""
        pp, up = self.pp, self.up
        rnd = random.Random(12)
        names = ["X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Proto",
                 "X-Forwarded-Port"]

        def spoof():
            n = rnd.choice(names)
            n = "".join(ch.upper() if rnd.random() < 0.5 else ch.lower() for ch in n)
            return "%s:%s6.6.6.6" % (n, rnd.choice(["", " ", "\t", "  "]))
        for k in range(40):
            sent, want, nreq = b"", b"", rnd.randint(1, 6)
            for i in range(nreq):
                method = rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
                keep = ["Host: r%d" % k] + ["X-K%d: %s" % (j, "v" * rnd.randint(0, 40))
                                            for j in range(rnd.randint(0, 5))]
                kind = rnd.choice(["none", "cl", "chunked"])
                body_in = body_out = b""
                if kind == "cl":
                    body_in = body_out = rnd.randbytes(rnd.randint(0, 3000))
                    keep.append("Content-Length: %d" % len(body_in))
                elif kind == "chunked":
                    keep.append("Transfer-Encoding: chunked")
                    for _ in range(rnd.randint(0, 4)):
                        d = rnd.randbytes(rnd.randint(1, 700))
                        body_in += b"%x\r\n%s\r\n" % (len(d), d)
                    tr = ["X-T: %d" % rnd.randint(0, 9) for _ in range(rnd.randint(0, 2))]
                    sp = [spoof() for _ in range(rnd.randint(0, 2))]
                    mixed = tr + sp
                    rnd.shuffle(mixed)
                    body_out = body_in + b"0\r\n" + b"".join(
                        t.encode() + b"\r\n" for t in mixed if t in tr) + b"\r\n"
                    body_in += b"0\r\n" + b"".join(t.encode() + b"\r\n" for t in mixed) + b"\r\n"
                if i == nreq - 1:
                    keep.append("Connection: close")
                lines = list(keep)
                for _ in range(rnd.randint(0, 4)):
                    lines.insert(rnd.randint(1, len(lines)), spoof())
                first = "%s /r/%d/%d HTTP/1.1" % (method, k, i)
                kept = [l for l in lines if l in keep]
                sent += b"\r\n" * rnd.choice([0, 0, 0, 1]) + req(first, *lines) + b"\r\n" + body_in
                want += req(first, *kept) + F1 + b"\r\n" + body_out
            data = V1 + sent
            steps, at = [], 0
            while at < len(data):
                n = rnd.choice([1, 3, 17, 100, 1000, 5000])
                steps += [data[at:at + n], 0.001] if rnd.random() < 0.3 else [data[at:at + n]]
                at += n
            self.case("random pipeline %d: %d requests in %d pieces" % (k, nreq, len(steps)),
                      pp, up, steps, b"".join(ok_resp("r%d" % i) for i in range(nreq)), want,
                      timeout=8)

    def test_responses(self):
        """Responses come back unchanged; framing of 1xx, 204, 304, HEAD,
        chunked and close-delimited responses."""
        pp, up = self.pp, self.up
        rr = self.raw_responses
        rr["chunked"] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        rr["204"] = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
        rr["304"] = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nETag: \"x\"\r\n\r\n"
        rr["head"] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        rr["headte"] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        rr["103"] = (b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        drip = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n")
        rr["drip"] = sum(([drip[i:i + 5], 0.01] for i in range(0, len(drip), 5)), [])
        rr["eof"] = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", CLOSE]
        rr["conn-close"] = [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
                            CLOSE]
        reqs = [req("GET /raw/chunked HTTP/1.1", "Host: a"),
                req("GET /raw/204 HTTP/1.1", "Host: a"),
                req("GET /raw/304 HTTP/1.1", "Host: a"),
                req("HEAD /raw/head HTTP/1.1", "Host: a"),
                req("HEAD /raw/headte HTTP/1.1", "Host: a"),
                req("GET /raw/103 HTTP/1.1", "Host: a"),
                req("GET /raw/drip HTTP/1.1", "Host: a"),
                req("GET /last HTTP/1.1", "Host: a", "Connection: close")]
        want = (rr["chunked"] + rr["204"] + rr["304"] + rr["head"] + rr["headte"] + rr["103"] +
                drip + ok_resp("r7"))
        self.case("responses unchanged, in order: chunked+trailer, 204 and 304 with "
                  "Content-Length, HEAD (Content-Length, chunked), 103 interim, chunked in 5-byte "
                  "writes; then closed after the last", pp, up,
                  [V1 + b"".join(r + b"\r\n" for r in reqs)], want,
                  b"".join(r + F1 + b"\r\n" for r in reqs))
        e = req("GET /raw/eof HTTP/1.1", "Host: a")
        self.case("close-delimited response relayed to its end, not a 502", pp, up,
                  [V1 + e + b"\r\n"], rr["eof"][0], e + F1 + b"\r\n")
        e = req("GET /raw/conn-close HTTP/1.1", "Host: a")
        self.case("upstream answering Connection: close then closing: relayed, then closed",
                  pp, up, [V1 + e + b"\r\n", 0.3, req("GET /x HTTP/1.1", "Host: a") + b"\r\n"],
                  rr["conn-close"][0], e + F1 + b"\r\n")

    def test_upgrades(self):
        pp, up = self.pp, self.up
        h2 = req("GET /h2 HTTP/1.1", "Host: a", "Connection: Upgrade, HTTP2-Settings",
                 "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", "Accept: */*")
        h2_out = req("GET /h2 HTTP/1.1", "Host: a", "Connection: Upgrade, HTTP2-Settings",
                     "Accept: */*")
        c = req("GET /last HTTP/1.1", "Host: a", "Connection: close")
        self.case("h2c Upgrade and HTTP2-Settings removed, Connection kept, plain HTTP/1.1 on",
                  pp, up, [V1 + h2 + b"\r\n" + c + b"\r\n"], ok_resp("r0") + ok_resp("r1"),
                  h2_out + F1 + b"\r\n" + c + F1 + b"\r\n")
        o = req("GET /h2 HTTP/1.1", "Host: a", "upgrade: TLS/1.2", "connection: upgrade")
        self.case("other Upgrade (TLS/1.2) removed too", pp, up, [V1 + o + b"\r\n" + c + b"\r\n"],
                  ok_resp("r0") + ok_resp("r1"),
                  req("GET /h2 HTTP/1.1", "Host: a", "connection: upgrade") + F1 + b"\r\n" +
                  c + F1 + b"\r\n")
        ws = req("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: websocket",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                 "X-Forwarded-For: 6.6.6.6")
        ws_out = req("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: websocket",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")
        r101 = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\n")
        raw = b"\x81\x05hello GET / HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"
        self.case("websocket: 101 then a raw tunnel both ways (bytes unchanged)", pp, up,
                  [V1 + ws + b"\r\n", 0.3, raw], r101 + raw, ws_out + F1 + b"\r\n" + raw,
                  eof=False)
        self.case("websocket: bytes sent right after the upgrade head belong to the tunnel",
                  pp, up, [V1 + ws + b"\r\n" + raw], r101 + raw, ws_out + F1 + b"\r\n" + raw,
                  eof=False)
        we = ws.replace(b"/ws", b"/ws-eager")
        self.case("websocket: server bytes in the same write as its 101 reach the client", pp, up,
                  [V1 + we + b"\r\n", 0.3, raw], r101 + b"SERVER-FIRST" + raw,
                  ws_out.replace(b"/ws", b"/ws-eager") + F1 + b"\r\n" + raw, eof=False)
        wsc = ws.replace(b"Upgrade: websocket", b"Upgrade: WebSocket")
        self.case("websocket: Upgrade: WebSocket (tokens are case-insensitive) is kept and "
                  "tunnelled", pp, up, [V1 + wsc + b"\r\n", 0.3, raw], r101 + raw,
                  ws_out.replace(b"Upgrade: websocket", b"Upgrade: WebSocket") + F1 + b"\r\n"
                  + raw, eof=False)
        wr = ws.replace(b"/ws", b"/ws-refuse")
        wr_out = ws_out.replace(b"/ws", b"/ws-refuse")
        nxt = req("GET /next HTTP/1.1", "Host: a", "X-Forwarded-For: 6.6.6.6", "Connection: close")
        nxt_out = req("GET /next HTTP/1.1", "Host: a", "Connection: close")
        refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n"
        self.case("refused upgrade then a request (after the response): parsed and rewritten",
                  pp, up, [V1 + wr + b"\r\n", 0.3, nxt + b"\r\n"], refused + ok_resp("r1"),
                  wr_out + F1 + b"\r\n" + nxt_out + F1 + b"\r\n")
        self.case("refused upgrade with a request pipelined behind it: still rewritten",
                  pp, up, [V1 + wr + b"\r\n" + nxt + b"\r\n"], refused + ok_resp("r1"),
                  wr_out + F1 + b"\r\n" + nxt_out + F1 + b"\r\n")
        # Expect: 100-continue, the client waiting for the 100
        e = req("POST /e HTTP/1.1", "Host: a", "Expect: 100-continue", "Content-Length: 5",
                "Connection: close")
        s = open_conn(pp.port)
        n0 = len(up.conns)
        try:
            s.sendall(V1 + e + b"\r\n")
            first, _ = read_for(s, len(b"HTTP/1.1 100 Continue\r\n\r\n"), 3)
            s.sendall(b"hello")
            rest, eof = read_for(s, None, 3)
        finally:
            s.close()
        wait_until(lambda: len(up.conns) > n0 and up.conns[n0].eof.is_set(), 3)
        got_up = bytes(up.conns[n0].data) if len(up.conns) > n0 else None
        R.check("Expect: 100-continue: interim 100 relayed, body then final response",
                first == b"HTTP/1.1 100 Continue\r\n\r\n" and rest == ok_resp("r0") and eof
                and got_up == e + F1 + b"\r\nhello",
                (first, rest, eof, show_diff(e + F1 + b"\r\nhello", got_up)))
        self.case("Expect: 100-continue with the body sent early", pp, up,
                  [V1 + e + b"\r\nhello"], b"HTTP/1.1 100 Continue\r\n\r\n" + ok_resp("r0"),
                  e + F1 + b"\r\nhello")

    def test_rejections(self):
        """Every rejection, on a first request: exact response, upstream
        never dialled; and after a forwarded request: nothing after the
        point of rejection reached the upstream."""
        pp, up = self.pp, self.up
        H = "Host: a"
        long_line = "GET /" + "a" * 5000 + " HTTP/1.1"
        big_head = [H] + ["X-Pad-%d: %s" % (i, "p" * 90) for i in range(50)]
        cases = [
            # (name, code, head bytes incl. blank line and anything after)
            ("CL.TE: Content-Length then Transfer-Encoding", 400,
             req("POST / HTTP/1.1", H, "Content-Length: 6", "Transfer-Encoding: chunked") +
             b"\r\n0\r\n\r\nG"),
            ("TE.CL: Transfer-Encoding then Content-Length", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked", "Content-Length: 3") +
             b"\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
            ("duplicate Content-Length, different values", 400,
             req("POST / HTTP/1.1", H, "Content-Length: 5", "Content-Length: 6") + b"\r\nhello!"),
            ("duplicate Content-Length, same value", 400,
             req("POST / HTTP/1.1", H, "Content-Length: 5", "content-length: 5") + b"\r\nhello"),
            ("Content-Length: 5, 5 (list)", 400,
             req("POST / HTTP/1.1", H, "Content-Length: 5, 5") + b"\r\nhello"),
            ("Content-Length: +5", 400, req("POST / HTTP/1.1", H, "Content-Length: +5") + b"\r\nhello"),
            ("Content-Length: -1", 400, req("POST / HTTP/1.1", H, "Content-Length: -1") + b"\r\n"),
            ("Content-Length: 0x5", 400, req("POST / HTTP/1.1", H, "Content-Length: 0x5") + b"\r\nhello"),
            ("Content-Length empty", 400, req("POST / HTTP/1.1", H, "Content-Length:") + b"\r\n"),
            ("Content-Length: 1 2", 400, req("POST / HTTP/1.1", H, "Content-Length: 1 2") + b"\r\n"),
            ("Content-Length overflowing", 400,
             req("POST / HTTP/1.1", H, "Content-Length: 184467440737095516160") + b"\r\n"),
            ("TE.TE: Transfer-Encoding: xchunked", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: xchunked") + b"\r\n0\r\n\r\n"),
            ("TE.TE: Transfer-Encoding: chunked, identity", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked, identity") + b"\r\n0\r\n\r\n"),
            ("TE.TE: chunked then a second Transfer-Encoding: x", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked", "Transfer-Encoding: x") +
             b"\r\n0\r\n\r\n"),
            ("TE.TE: Transfer-Encoding: identity", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: identity") + b"\r\n"),
            ("TE.TE: Transfer-Encoding: gzip (final coding not chunked)", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: gzip") + b"\r\n"),
            ("TE.TE: chunked named twice (one line)", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked, chunked") + b"\r\n0\r\n\r\n"),
            ("TE.TE: chunked named twice (two lines)", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked", "transfer-encoding: chunked") +
             b"\r\n0\r\n\r\n"),
            ("TE.TE: chunked, gzip, chunked", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked, gzip, chunked") + b"\r\n0\r\n\r\n"),
            ("TE.TE: chunked, gzip", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked, gzip") + b"\r\n0\r\n\r\n"),
            ("TE.TE: Transfer-Encoding : chunked (space before colon)", 400,
             req("POST / HTTP/1.1", H, "Transfer-Encoding : chunked") + b"\r\n0\r\n\r\n"),
            ("TE.TE: obs-fold ' Transfer-Encoding: chunked' line", 400,
             req("POST / HTTP/1.1", H, "X-A: a", " Transfer-Encoding: chunked") + b"\r\n0\r\n\r\n"),
            ("Transfer-Encoding in HTTP/1.0", 400,
             req("POST / HTTP/1.0", "Transfer-Encoding: chunked") + b"\r\n0\r\n\r\n"),
            ("obs-fold (value continued on SP line)", 400,
             req("GET / HTTP/1.1", H, "X-A: a", " b") + b"\r\n"),
            ("obs-fold (HTAB line)", 400, req("GET / HTTP/1.1", H, "X-A: a", "\tb") + b"\r\n"),
            ("first header line starting with SP", 400, req("GET / HTTP/1.1", " Host: a") + b"\r\n"),
            ("bare LF line endings", 400, b"GET / HTTP/1.1\nHost: a\n\n"),
            ("bare LF after one header (mixed)", 400, b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"),
            ("bare LF ending the head", 400, b"GET / HTTP/1.1\r\nHost: a\r\n\n"),
            ("bare CR inside a value", 400, req("GET / HTTP/1.1", H, "X-A: a\rb") + b"\r\n"),
            ("bare CR in the request line", 400, b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("NUL in a value", 400, req("GET / HTTP/1.1", H, b"X-A: a\x00b") + b"\r\n"),
            ("header name not a token (space)", 400, req("GET / HTTP/1.1", H, "X A: b") + b"\r\n"),
            ("header name not a token (parenthesis)", 400, req("GET / HTTP/1.1", H, "X(A): b") + b"\r\n"),
            ("header name not a token (@)", 400, req("GET / HTTP/1.1", H, "X@A: b") + b"\r\n"),
            ("empty header name", 400, req("GET / HTTP/1.1", H, ": b") + b"\r\n"),
            ("header line without a colon", 400, req("GET / HTTP/1.1", H, "NoColon") + b"\r\n"),
            ("space between name and colon (Host : a)", 400, req("GET / HTTP/1.1", "Host : a") + b"\r\n"),
            ("tab between name and colon", 400, req("GET / HTTP/1.1", H, "X-A\t: b") + b"\r\n"),
            ("HTTP/1.1 without Host", 400, req("GET / HTTP/1.1", "User-Agent: x") + b"\r\n"),
            ("HTTP/1.1 with two Host lines", 400, req("GET / HTTP/1.1", H, "host: b") + b"\r\n"),
            ("request line with two spaces", 400, b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("request line with a trailing word", 400, b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"),
            ("HTTP/0.9 request line (400 or 505)", (400, 505), b"GET /\r\n\r\n"),
            ("bad protocol name", 400, b"GET / HTTX/1.1\r\nHost: a\r\n\r\n"),
            ("NUL in the request target", 400, b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("request line with a trailing space", 400, b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
            ("NUL in a header name", 400, req("GET / HTTP/1.1", H, b"X\x00A: b") + b"\r\n"),
            ("lower-case method (unknown to http_parser)", 501,
             b"get / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("Connection: X-Forwarded-For", 400,
             req("GET / HTTP/1.1", H, "Connection: X-Forwarded-For") + b"\r\n"),
            ("Connection: keep-alive, x-real-ip", 400,
             req("GET / HTTP/1.1", H, "Connection: keep-alive, x-real-ip") + b"\r\n"),
            ("Connection: Forwarded", 400, req("GET / HTTP/1.1", H, "Connection: Forwarded") + b"\r\n"),
            ("Connection: x-forwarded-proto (second Connection line)", 400,
             req("GET / HTTP/1.1", H, "Connection: keep-alive", "Connection: x-forwarded-proto") + b"\r\n"),
            ("Connection: X-Forwarded-Port", 400,
             req("GET / HTTP/1.1", H, "Connection: X-Forwarded-Port") + b"\r\n"),
            ("unknown method QUERY", 501, req("QUERY / HTTP/1.1", H) + b"\r\n"),
            ("unknown method FOO", 501, req("FOO / HTTP/1.1", H) + b"\r\n"),
            ("CONNECT", 501, req("CONNECT a.example:443 HTTP/1.1", "Host: a.example:443") + b"\r\n"),
            ("Transfer-Encoding: br, chunked", 501,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: br, chunked") + b"\r\n0\r\n\r\n"),
            ("Transfer-Encoding: identity, chunked", 501,
             req("POST / HTTP/1.1", H, "Transfer-Encoding: identity, chunked") + b"\r\n0\r\n\r\n"),
            ("HTTP/1.2", 505, req("GET / HTTP/1.2", H) + b"\r\n"),
            ("HTTP/2.0 request line", 505, req("GET / HTTP/2.0", H) + b"\r\n"),
            ("HTTP/3.0", 505, req("GET / HTTP/3.0", H) + b"\r\n"),
            ("HTTP/2 prior-knowledge preface", 505,
             b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"),
            ("request line longer than --max-request-head (no end sent)", 414,
             long_line.encode()),
            ("request line longer than --max-request-head", 414, req(long_line, H) + b"\r\n"),
            ("head longer than --max-request-head", 431, req("GET / HTTP/1.1", *big_head) + b"\r\n"),
        ]
        self.rejection_cases = cases
        def errs(code):
            return [err(c) for c in code] if isinstance(code, tuple) else err(code)

        def codes(code):
            return "/".join(map(str, code)) if isinstance(code, tuple) else str(code)
        for name, code, data in cases:
            self.case("reject %s, first request: %s" % (codes(code), name), pp, up,
                      [V1 + data], errs(code), None)
        # after one good request, waiting for its response: the rejection's
        # response follows, the upstream has only the first request
        g = req("GET /ok HTTP/1.1", H, "X-Forwarded-For: 6.6.6.6")
        g_out = req("GET /ok HTTP/1.1", H) + F1 + b"\r\n"
        for name, code, data in cases:
            if code in (414, 431) and b"\r\n\r\n" not in data:
                continue
            want = [ok_resp("r0") + e for e in errs(code)] if isinstance(code, tuple) \
                else ok_resp("r0") + err(code)
            self.case("reject %s, second request: %s" % (codes(code), name), pp, up,
                      [V1 + g + b"\r\n", 0.2, data + b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"],
                      want, g_out)
        # pipelined behind a slow request: no error response, the pending one finishes
        s = req("GET /slow HTTP/1.1", H)
        for name, code, data in [cases[0], cases[1], cases[11], ("HTTP/1.2", 505,
                                 req("GET / HTTP/1.2", H) + b"\r\n")]:
            self.case("pending response finished, then closed without %d: %s" % (code, name),
                      pp, up, [V1 + s + b"\r\n" + data], ok_resp("slow"),
                      s + F1 + b"\r\n")
        # a head that fits exactly is accepted (the limit is not off by much)
        pad = "X-P: " + "q" * (4096 - len(req("GET / HTTP/1.1", H, "Connection: close")) - 2 - 200)
        fit = req("GET / HTTP/1.1", H, pad, "Connection: close")
        self.case("head of %d bytes under --max-request-head 4096 accepted" % (len(fit) + 2),
                  pp, up, [V1 + fit + b"\r\n"], ok_resp("r0"), fit + F1 + b"\r\n")

    def test_bodies_and_upstream(self):
        pp, up = self.pp, self.up
        H = "Host: a"
        c = req("POST /c HTTP/1.1", H, "Transfer-Encoding: chunked")
        # bad chunk size mid-body: both sides closed, no response
        n0 = len(up.conns)
        data, eof, _ = talk(pp.port, [V1 + c + b"\r\n5\r\nhello\r\n", 0.3,
                                      b"zz\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"],
                            timeout=3)
        wait_until(lambda: len(up.conns) > n0 and up.conns[n0].eof.is_set(), 3)
        got = bytes(up.conns[n0].data) if len(up.conns) > n0 else b""
        full = c + F1 + b"\r\n5\r\nhello\r\n"
        R.check("bad chunk size mid-body: no response, both sides closed, nothing after it "
                "forwarded", data == b"" and eof and len(up.conns) > n0 and
                up.conns[n0].eof.is_set() and full.startswith(got) and len(got) >= len(c),
                (data, eof, got))
        n0 = len(up.conns)
        data, eof, _ = talk(pp.port, [V1 + c + b"\r\n5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n"],
                            timeout=3)
        wait_until(lambda: len(up.conns) > n0 and up.conns[n0].eof.is_set(), 3)
        got = bytes(up.conns[n0].data) if len(up.conns) > n0 else b""
        R.check("chunk data not followed by CRLF: no response, both sides closed",
                data == b"" and eof and b"XX" not in got and b"abc" not in got, (data, eof, got))
        n0 = len(up.conns)
        data, eof, _ = talk(pp.port, [V1 + c + b"\r\n", 0.3,
                                      b"fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"], timeout=3)
        wait_until(lambda: len(up.conns) > n0 and up.conns[n0].eof.is_set(), 3)
        got = bytes(up.conns[n0].data) if len(up.conns) > n0 else b""
        R.check("chunk size overflowing 64 bits: no response, both sides closed, the size "
                "not forwarded", data == b"" and eof and b"fffff" not in got, (data, eof, got))
        # upstream closing early
        cl = req("GET /close HTTP/1.1", H)
        self.case("upstream closes without a response -> 502", pp, up,
                  [V1 + cl + b"\r\n"], err(502), cl + F1 + b"\r\n")
        g = req("GET /ok HTTP/1.1", H)
        self.case("upstream closes without answering the second request -> response 1, then 502",
                  pp, up, [V1 + g + b"\r\n", 0.2, cl + b"\r\n"], ok_resp("r0") + err(502),
                  g + F1 + b"\r\n" + cl + F1 + b"\r\n")
        o = req("GET /once HTTP/1.1", H)
        self.case("upstream closes after a complete response, a pipelined request pending "
                  "-> its answer, then 502", pp, up, [V1 + o + b"\r\n" + g + b"\r\n"],
                  ok_resp("r0") + err(502),
                  [o + F1 + b"\r\n", o + F1 + b"\r\n" + g + F1 + b"\r\n"])
        rs = req("GET /reset HTTP/1.1", H)
        self.case("upstream resets the connection (RST) before a response -> 502", pp, up,
                  [V1 + rs + b"\r\n"], err(502), rs + F1 + b"\r\n")
        s_ = open_conn(pp.port)
        n0 = len(up.conns)
        try:
            s_.sendall(V1 + g + b"\r\n" + g + b"\r\n")
            s_.shutdown(socket.SHUT_WR)
            data, eof = read_for(s_, None, 3)
        finally:
            s_.close()
        R.check("client half-close after two complete requests: both answered, then closed",
                data == ok_resp("r0") + ok_resp("r1") and eof, (data, eof))
        self.raw_responses["malformed"] = [b"HTTP/1.1 2x0 Nope\r\n\r\n", CLOSE]
        self.raw_responses["garbage"] = [b"SSH-2.0-OpenSSH\r\n", CLOSE]
        rr = self.raw_responses
        rr["dupcl"] = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
                       CLOSE]
        rr["clte"] = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n0\r\n\r\n", CLOSE]
        rr["partialhead"] = [b"HTTP/1.1 200 OK\r\nContent-Le", CLOSE]
        for kind in ("malformed", "garbage", "dupcl", "clte", "partialhead"):
            m = req("GET /raw/%s HTTP/1.1" % kind, H)
            self.case("upstream sends a %s response -> 502" % kind, pp, up,
                      [V1 + m + b"\r\n"], err(502), m + F1 + b"\r\n")
        # the upstream closing inside a response whose head was relayed: the
        # client must see the cut (EOF), not a 502 spliced into the body
        rr["partialbody"] = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", CLOSE]
        rr["partialchunk"] = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                              CLOSE]
        for kind in ("partialbody", "partialchunk"):
            m = req("GET /raw/%s HTTP/1.1" % kind, H)
            self.case("upstream closes in the middle of a relayed response (%s): the client "
                      "gets the cut response and EOF, no 502 inside the body" % kind, pp, up,
                      [V1 + m + b"\r\n"], rr[kind][0], m + F1 + b"\r\n")
        rr["badchunk"] = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 2.0]
        m = req("GET /raw/badchunk HTTP/1.1", H)
        data, eof, _ = talk(pp.port, [V1 + m + b"\r\n"], timeout=1.5)
        R.check("upstream sends a bad chunk size inside a relayed response: the client gets "
                "at most the bytes before it, then EOF, no 502", eof and
                rr["badchunk"][0].startswith(data) and b"abc" not in data, (data, eof))
        # upstream down
        dead = free_port()
        pd = PP(self, "dead", dead, ["--trusted", "127.0.0.1"], v6=False)
        data, eof, t = talk(pd.port, [V1 + g + b"\r\n"], timeout=5)
        R.check("upstream unreachable -> 502 at once", data == err(502) and eof and t < 2,
                (data, eof, t))
        data, eof, t = talk(pd.port, [V1 + b"GET / HT"], timeout=1.0)
        R.check("upstream unreachable: an incomplete head gets no 502 (upstream dialled only "
                "after a complete head)", data == b"" and not eof, (data, eof))

    def test_timeouts(self):
        up = self.upstream(lambda c, i, h, b: (
            None if b"/silent" in h.split(b"\r\n")[0] else
            [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 2.5]
            if b"/stall" in h.split(b"\r\n")[0] else
            [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab", 0.6, b"cd", 0.6, b"ef"]
            if b"/drip" in h.split(b"\r\n")[0] else ok_resp("r%d" % i)))
        pt = PP(self, "timeouts", up.port,
                ["--trusted", "127.0.0.1", "--timeout", "1000", "--request-timeout", "600",
                 "--response-timeout", "800", "--idle-timeout", "1000"], v6=False)
        H = "Host: a"
        self.case("408: head not complete within --request-timeout 600", pt, up,
                  [V1 + b"GET / HTTP/1.1\r\nHo"], err(408), None, timeout=4, took=(0.5, 1.5))
        drip = req("GET /slowloris HTTP/1.1", H, "X-A: 1", "X-B: 2", "X-C: 3", "X-D: 4") + b"\r\n"
        steps = [V1]
        for i in range(0, len(drip), 8):
            steps += [drip[i:i + 8], 0.1]
        self.case("408: a head trickled byte groups every 100 ms still ends at 600 ms from its "
                  "first byte", pt, up, steps, err(408), None, timeout=4, took=(0.5, 1.6))
        self.case("504: upstream silent past --response-timeout 800", pt, up,
                  [V1 + req("GET /silent HTTP/1.1", H) + b"\r\n"], err(504),
                  req("GET /silent HTTP/1.1", H) + F1 + b"\r\n", timeout=4, took=(0.7, 1.8))
        g = req("GET /ok HTTP/1.1", H)
        self.case("idle: keep-alive connection closed after --idle-timeout 1000, no bytes", pt, up,
                  [V1 + g + b"\r\n"], ok_resp("r0"), g + F1 + b"\r\n", timeout=4,
                  took=(0.9, 2.0))
        self.case("idle: PROXY header then silence -> closed after the idle timeout", pt, up,
                  [V1], b"", None, timeout=4, took=(0.9, 2.0))
        b = req("POST /body HTTP/1.1", H, "Content-Length: 6", "Connection: close")
        self.case("a body trickling over 1.8 s (past request and idle timeouts) still "
                  "goes through", pt, up,
                  [V1 + b + b"\r\n", 0.3, b"a", 0.3, b"b", 0.3, b"c", 0.3, b"d", 0.3, b"e",
                   0.3, b"f"], ok_resp("r0"), b + F1 + b"\r\nabcdef", timeout=5)
        d = req("GET /drip HTTP/1.1", H, "Connection: close")
        self.case("a response body dripping over 1.2 s (past the response timeout) relayed "
                  "whole", pt, up, [V1 + d + b"\r\n"],
                  b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef", d + F1 + b"\r\n",
                  timeout=5)
        d2 = req("GET /drip HTTP/1.1", H)
        self.case("--request-timeout on a pipelined head that never ends does not cut the "
                  "response still owed: it finishes, then the connection closes, no 408",
                  pt, up, [V1 + d2 + b"\r\nGET /next HTTP/1.1\r\nHo"],
                  b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef", d2 + F1 + b"\r\n",
                  timeout=5, took=(1.0, 2.5))
        st = req("GET /stall HTTP/1.1", H)
        self.case("upstream silent in the middle of a response for --response-timeout: "
                  "closed, no 504 spliced into the body", pt, up, [V1 + st + b"\r\n"],
                  b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", st + F1 + b"\r\n",
                  timeout=5, took=(0.7, 2.5))
        pb = req("POST /stalled HTTP/1.1", H, "Content-Length: 10")
        self.case("client silent in the middle of a body for --response-timeout: both sides "
                  "closed without a response", pt, up, [V1 + pb + b"\r\nabc"], b"",
                  pb + F1 + b"\r\nabc", timeout=5, took=(0.7, 2.5))
        # connect timeout: a listener whose backlog is full never completes a connect
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fport = full.getsockname()[1]
        fillers = []
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", fport))
            except BlockingIOError:
                pass
            fillers.append(f)
        time.sleep(0.2)
        pc = PP(self, "conntimeout", fport, ["--trusted", "127.0.0.1",
                                             "--connect-timeout", "700"], v6=False)
        data, eof, t = talk(pc.port, [V1 + g + b"\r\n"], timeout=5)
        R.check("504: upstream connect past --connect-timeout 700 (%.2f s)" % t,
                data == err(504) and eof and 0.6 <= t <= 2.0, (data, eof, t))
        for f in fillers:
            f.close()
        full.close()

    def test_logs(self):
        up = self.upstream()
        for fmt in ("text", "json"):
            pl = PP(self, "log" + fmt, up.port, ["--trusted", "127.0.0.1"],
                    json_log=(fmt == "json"), v6=False)
            long_target = "/" + "t" * 400
            s = [V1 + req("POST /a?q=1 HTTP/1.1", "Host: a", "Content-Length: 5") + b"\r\nhello" +
                 req("GET %s HTTP/1.1" % long_target, "Host: a") + b"\r\n" +
                 req("GET / HTTP/1.2", "Host: a") + b"\r\n"]
            data, eof, _ = talk(pl.port, s, timeout=3)
            keys = ["time", "client", "peer", "method", "target", "version", "status",
                    "req_body_bytes", "resp_body_bytes", "duration_ms", "outcome"]

            def reqs():
                return [e for e in pl.log.entries() if "method" in e]
            wait_until(lambda: len(reqs()) >= 3, 3)
            es = reqs()
            R.check("log %s: one line per request (3), each with every key" % fmt,
                    len(es) == 3 and all(all(k in e for k in keys) for e in es),
                    (es, pl.log.raw_lines()))
            if len(es) < 3:
                continue
            # the order of the lines is not the order of the requests: a
            # rejection is logged when it happens, answered ones when answered
            a = [e for e in es if e["method"] == "POST"]
            b = [e for e in es if e["target"].startswith("/t")]
            c = [e for e in es if "1.2" in str(e["version"])]
            if not R.check("log %s: the three requests told apart (POST, long target, "
                           "HTTP/1.2)" % fmt, len(a) == len(b) == len(c) == 1, es):
                continue
            a, b, c = a[0], b[0], c[0]
            R.check("log %s: first request's values" % fmt,
                    a["client"] == "203.0.113.7" and a["peer"].startswith("127.0.0.1:")
                    and a["target"] == "/a?q=1"
                    and a["version"] == "HTTP/1.1" and str(a["status"]) == "200"
                    and str(a["req_body_bytes"]) == "5" and str(a["resp_body_bytes"]) == "2"
                    and str(a["duration_ms"]).isdigit() and a["outcome"] == "ok"
                    and a["time"][:2] == "20", a)
            R.check("log %s: target cut at 256 bytes" % fmt,
                    len(b["target"]) == 256 and long_target.startswith(b["target"]),
                    (len(b["target"]), b["target"]))
            R.check("log %s: rejected request logged with its status and reason" % fmt,
                    str(c["status"]) == "505" and c["outcome"] not in ("ok", "", "-"), c)
            conn = wait_until(lambda: [e for e in pl.log.entries() if "method" not in e
                                       and e.get("bytes_up") is not None], 3)
            R.check("log %s: the connection's own closing line stays" % fmt, bool(conn),
                    pl.log.raw_lines())
            R.check("log %s: 3 responses (pending ones finished), no error response after "
                    "them" % fmt, data == ok_resp("r0") + ok_resp("r1") and eof, (data, eof))
        # escaping of a target with bytes a log must not carry raw
        pl = PP(self, "logesc", up.port, ["--trusted", "127.0.0.1"], v6=False)
        talk(pl.port, [V1 + b"GET /a%22b\"c\\d\x7f\xff HTTP/1.1\r\nHost: a\r\n"
                       b"Connection: close\r\n\r\n"], timeout=3)
        e = wait_until(lambda: [e for e in pl.log.entries() if "method" in e], 3)
        raw = pl.log.raw_lines()
        R.check("log text: a target with a quote, a backslash and non-ASCII bytes is escaped "
                "and read back whole", bool(e) and all(l.isprintable() for l in raw)
                and e[0].get("target") in ('/a%22b"c\\d\x7f\xff', "-"), (e, raw))

    def test_defaults(self):
        """--max-request-head default 65536; tcp mode keeps working and takes
        --connect-timeout and --idle-timeout."""
        up = self.upstream()
        pd = PP(self, "defaults", up.port, ["--trusted", "127.0.0.1", "--timeout", "2000"],
                v6=False)
        H = "Host: a"

        def big(n):
            line = "X-Big: " + "b" * (n - len(req("GET / HTTP/1.1", H, "Connection: close")) - 9)
            return req("GET / HTTP/1.1", H, line, "Connection: close")
        h = big(64000)
        self.case("default --max-request-head: a %d-byte head is forwarded" % (len(h) + 2), pd, up,
                  [V1 + h + b"\r\n"], ok_resp("r0"), h + F1 + b"\r\n")
        h = big(67000)
        self.case("default --max-request-head: a %d-byte head gets 431" % (len(h) + 2), pd, up,
                  [V1 + h + b"\r\n"], err(431), None)
        self.case("default --max-request-head: a 67000-byte request line gets 414", pd, up,
                  [V1 + req("GET /" + "l" * 67000 + " HTTP/1.1", H) + b"\r\n"], err(414), None)
        # the limit counts the whole head as received, its blank line included
        pl = PP(self, "limit200", up.port, ["--trusted", "127.0.0.1", "--timeout", "2000",
                                            "--max-request-head", "200"], v6=False)
        base = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX: "
        at = base + b"x" * (200 - len(base) - 4) + b"\r\n\r\n"
        self.case("--max-request-head 200: a head of exactly 200 bytes is forwarded", pl, up,
                  [V1 + at], ok_resp("r0"), at[:-2] + F1 + b"\r\n")
        over = base + b"x" * (201 - len(base) - 4) + b"\r\n\r\n"
        self.case("--max-request-head 200: a head of 201 bytes gets 431", pl, up,
                  [V1 + over], err(431), None)
        # tcp mode with the new timeouts
        pt = PP(self, "tcpidle", up.port, ["--mode", "tcp", "--trusted", "127.0.0.1",
                                            "--idle-timeout", "800"], v6=False)
        g = req("GET /tcp HTTP/1.1", H, "X-Forwarded-For: 6.6.6.6") + b"\r\n"
        self.case("tcp mode: bytes relayed unchanged (no rewriting), --idle-timeout 800 closes",
                  pt, up, [V1 + g], ok_resp("r0"), g, timeout=4, took=(0.7, 2.0))
        pt = PP(self, "tcpnoidle", up.port, ["--mode", "tcp", "--trusted", "127.0.0.1"],
                v6=False)
        self.case("tcp mode: idle timeout 0 (never) by default: still open after 1.5 s",
                  pt, up, [V1 + g], ok_resp("r0"), g, eof=False, timeout=1.5)
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(full.getsockname())
            except BlockingIOError:
                pass
            fillers.append(f)
        time.sleep(0.2)
        pc = PP(self, "tcpconnect", full.getsockname()[1],
                ["--mode", "tcp", "--trusted", "127.0.0.1", "--connect-timeout", "600"], v6=False)
        data, eof, t = talk(pc.port, [V1 + g], timeout=5)
        R.check("tcp mode: --connect-timeout 600 closes the client (%.2f s)" % t,
                data == b"" and eof and 0.5 <= t <= 1.8, (data, eof, t))
        e = pc.log.find(lambda e: e.get("outcome") not in (None, "ok"), 3)
        R.check("tcp mode: the connect timeout is logged", e is not None, pc.log.raw_lines())
        for f in fillers:
            f.close()
        full.close()

    def test_sigterm(self):
        """SIGTERM in http mode: a response in progress still arrives, then
        ppproxy exits 0 (the tcp mode's grace applies)."""
        up = self.upstream(lambda c, i, h, b: [0.6, ok_resp("late")])
        ps = PP(self, "sigterm", up.port, ["--trusted", "127.0.0.1", "--timeout", "2000"],
                v6=False)
        s = open_conn(ps.port)
        try:
            s.sendall(V1 + req("GET /x HTTP/1.1", "Host: a") + b"\r\n")
            time.sleep(0.2)
            ps.proc.send_signal(signal.SIGTERM)
            # the keep-alive connection may be held to the end of the 5 s grace
            data, eof = read_for(s, None, 8)
        finally:
            s.close()
        try:
            rc = ps.proc.wait(8)
        except subprocess.TimeoutExpired:
            rc = None
        R.check("SIGTERM during a request: its response arrives, the connection is closed "
                "within the 5 s grace, exit 0",
                data == ok_resp("late") and eof and rc == 0, (data, eof, rc))

    def test_send_proxy(self):
        for mode in ("v1", "v2"):
            up = self.upstream(pp=True)
            ps = PP(self, "send" + mode, up.port, ["--trusted", "127.0.0.1",
                                                    "--send-proxy", mode], v6=False)
            hdr = v2_header(("192.0.2.5", 5000), ("192.0.2.1", 8080))
            g = req("GET /sp HTTP/1.1", "Host: a", "X-Real-IP: 6.6.6.6")
            c = req("GET /sp2 HTTP/1.1", "Host: a", "Connection: close")
            f = fwd("192.0.2.5", 8080)
            want_pp = (v1_header(("192.0.2.5", 5000), ("192.0.2.1", 8080)) if mode == "v1"
                       else hdr)
            self.case("--send-proxy %s with --mode http: header first, then rewritten requests"
                      % mode, ps, up, [hdr + g + b"\r\n" + c + b"\r\n"],
                      ok_resp("r0") + ok_resp("r1"),
                      req("GET /sp HTTP/1.1", "Host: a") + f + b"\r\n" + c + f + b"\r\n",
                      want_pp=want_pp)

    # -- real peers ----------------------------------------------------
    def test_real_peers(self):
        ng = free_port()
        ncfg = self.path("nginx_http_backend.conf")
        ntmp = self.path("nginx_prefix")
        os.makedirs(os.path.join(ntmp, "logs"), exist_ok=True)
        with open(ncfg, "w") as f:
            f.write("""daemon off;
master_process off;
worker_processes 1;
pid {t}/nginx.pid;
error_log {t}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format fwd 'NGINX xff="$http_x_forwarded_for" xri="$http_x_real_ip" fwd="$http_forwarded" xfp="$http_x_forwarded_proto" xfport="$http_x_forwarded_port" upgrade="$http_upgrade" h2s="$http_http2_settings" req="$request"';
    access_log {t}/access.log fwd;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    keepalive_requests 1000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type text/plain;
            return 200 "xff=$http_x_forwarded_for xri=$http_x_real_ip fwd=$http_forwarded xfp=$http_x_forwarded_proto xfport=$http_x_forwarded_port upgrade=$http_upgrade\\n";
        }}
    }}
}}
""".format(t=ntmp, port=ng))
        np_ = self.procs.start("nginx_backend", ["nginx", "-p", ntmp, "-e", "stderr", "-c", ncfg])
        ws_up = self.upstream(lambda c, i, h, b: (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(
                [l for l in h.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
                .split(b":", 1)[1].strip() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            + b"\r\n\r\n"))
        pn = PP(self, "to_nginx", ng, ["--trusted", "127.0.0.1"], v6=False)
        pw = PP(self, "to_ws", ws_up.port, ["--trusted", "127.0.0.1"], v6=False)
        hp, hw = free_port(), free_port()
        hcfg = self.path("haproxy_front.cfg")
        with open(hcfg, "w") as f:
            f.write("""global
    nbthread 1
    pidfile {t}/haproxy_front.pid
defaults
    mode tcp
    timeout connect 3s
    timeout client 30s
    timeout server 30s
    timeout tunnel 30s
frontend fe_nginx
    bind 127.0.0.1:{hp}
    bind [::1]:{hp}
    default_backend be_nginx
backend be_nginx
    server s 127.0.0.1:{pn} send-proxy-v2
frontend fe_ws
    bind 127.0.0.1:{hw}
    default_backend be_ws
backend be_ws
    server s 127.0.0.1:{pw} send-proxy-v2
""".format(t=self.tmp, hp=hp, hw=hw, pn=pn.port, pw=pw.port))
        hproc = self.procs.start("haproxy_front", ["haproxy", "-db", "-f", hcfg])
        ok = all(wait_listening(p, proc) for p, proc in ((ng, np_), (hp, hproc), (hw, hproc)))
        if not R.check("real peers: nginx backend and haproxy front started", ok,
                       open(self.path("nginx_backend.err")).read() +
                       open(self.path("haproxy_front.err")).read()):
            return
        alog = os.path.join(ntmp, "access.log")

        def curl(*args):
            r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args),
                               capture_output=True, timeout=15)
            return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")
        rc, out, e = curl("--interface", "127.0.0.5", "-H", "X-Forwarded-For: 6.6.6.6",
                          "-H", "X-Real-IP: 6.6.6.6", "-H", "Forwarded: for=6.6.6.6",
                          "-H", "X-Forwarded-Proto: https",
                          "http://127.0.0.1:%d/a" % hp)
        want = ("xff=127.0.0.5 xri=127.0.0.5 fwd=for=127.0.0.5;proto=http xfp=http "
                "xfport=%d upgrade=\n" % hp)
        R.check("curl -> haproxy send-proxy-v2 -> ppproxy http -> nginx: spoofed headers "
                "replaced by the real client", rc == 0 and out == want, (rc, out, want, e))
        rc, out, e = curl("-g", "http://[::1]:%d/b" % hp)
        want = 'xff=::1 xri=::1 fwd=for="[::1]";proto=http xfp=http xfport=%d upgrade=\n' % hp
        R.check("curl over IPv6 through haproxy: nginx sees ::1 and for=\"[::1]\"",
                rc == 0 and out == want, (rc, out, want, e))
        rc, out, e = curl("--http2", "--interface", "127.0.0.6", "-w", "%{http_version}",
                          "http://127.0.0.1:%d/h2c" % hp)
        want = ("xff=127.0.0.6 xri=127.0.0.6 fwd=for=127.0.0.6;proto=http xfp=http "
                "xfport=%d upgrade=\n1.1" % hp)
        R.check("curl --http2 over http: h2c upgrade stripped, answered as HTTP/1.1",
                rc == 0 and out == want, (rc, out, want, e))
        line = wait_until(lambda: [l for l in open(alog).read().splitlines()
                                   if "/h2c" in l], 3)
        R.check("nginx log: the h2c request arrived without Upgrade and HTTP2-Settings",
                bool(line) and 'upgrade="-"' in line[0] and 'h2s="-"' in line[0]
                and 'xff="127.0.0.6"' in line[0], line)
        rc, out, e = curl("--interface", "127.0.0.7", "http://127.0.0.1:%d/k1" % hp,
                          "http://127.0.0.1:%d/k2" % hp, "http://127.0.0.1:%d/k3" % hp)
        lines = wait_until(lambda: [l for l in open(alog).read().splitlines()
                                    if "/k" in l and 'xff="127.0.0.7"' in l
                                    and 'xri="127.0.0.7"' in l
                                    and 'fwd="for=127.0.0.7;proto=http"' in l], 3)
        R.check("curl keep-alive, 3 requests on one connection: nginx logged the client "
                "on each", rc == 0 and out.count("xff=127.0.0.7 ") == 3 and len(lines or []) == 3,
                (rc, out, lines))
        # WebSocket through haproxy -> ppproxy -> a Python server answering 101 then echoing
        key = base64.b64encode(os.urandom(16))
        s = open_conn(hw)
        try:
            s.sendall(b"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
                      b"\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
            d = b""
            end = time.monotonic() + 5
            while b"\r\n\r\n" not in d and time.monotonic() < end:
                d += s.recv(4096)
            accept = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            mask = os.urandom(4)
            payload = b"hello through ppproxy"
            frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
                b ^ mask[i % 4] for i, b in enumerate(payload))
            s.sendall(frame)
            echo, _ = read_for(s, len(frame), 3)
            s.sendall(b"\x88\x80" + mask)
        finally:
            s.close()
        heads = ws_up.conns[-1].heads if ws_up.conns else []
        R.check("WebSocket through haproxy and ppproxy: 101 with the right accept, frames "
                "echoed, server saw the real client",
                d.startswith(b"HTTP/1.1 101 ") and (b"Sec-WebSocket-Accept: " + accept) in d
                and echo == frame and bool(heads) and b"\r\nX-Forwarded-For: 127.0.0.1\r\n"
                in heads[0] and b"6.6.6.6" not in heads[0], (d, echo, heads))
        self.procs.stop(hproc)
        self.procs.stop(np_)

    def test_many(self):
        """1 000 concurrent keep-alive connections x 20 requests, random
        bodies whose SHA-256 the upstream checks."""
        recfile = self.path("bigup.json")
        port = free_port()
        p = self.procs.start("bigup", [sys.executable, os.path.abspath(__file__), "bigup",
                                       str(port), recfile])
        if not wait_listening(port, p):
            R.check("1000 connections: upstream started", False)
            return
        pm = PP(self, "many", port, ["--trusted", "127.0.0.1", "--max-conns", "5000",
                                     "--timeout", "10000"], v6=False)
        # two workers here: the connections are spread over threads
        pm.argv[pm.argv.index("--workers") + 1] = "2"
        self.procs.stop(pm.proc)
        pm.proc = self.procs.start("many2", pm.argv)
        if not wait_listening(pm.port, pm.proc):
            R.check("1000 connections: ppproxy --workers 2 started", False)
            return
        N, K = 1000, 20
        t0 = time.monotonic()
        results = asyncio.run(many_clients(pm.port, N, K))
        took = time.monotonic() - t0
        good = sum(1 for r in results if r is True)
        errors = [r for r in results if r is not True][:5]
        R.check("1000 concurrent keep-alive connections x 20 requests, random bodies: all "
                "20000 answered with the checksum the upstream computed (%.1f s)" % took,
                good == N, errors)
        self.procs.stop(p, signal.SIGINT)
        try:
            with open(recfile) as f:
                st = json.load(f)
        except (OSError, ValueError):
            st = {}
        R.check("1000 connections: the upstream verified 20000 bodies and clients, no mismatch, "
                "1000 upstream connections open at once",
                st.get("ok") == N * K and st.get("bad") == 0 and st.get("conns") == N
                and st.get("max_open") == N, st)

    # -- driver --------------------------------------------------------
    def run(self):
        steps = [self.test_cli, self.start_main, self.test_clients, self.test_untrusted,
                 self.test_spoofed, self.test_chains, self.test_keepalive,
                 self.test_upstream_close, self.test_forms,
                 self.test_random,
                 self.test_responses, self.test_upgrades, self.test_rejections,
                 self.test_bodies_and_upstream, self.test_defaults, self.test_sigterm,
                 self.test_send_proxy,
                 self.test_logs,
                 self.test_timeouts, self.test_real_peers, self.test_many]
        only = os.environ.get("PPHTTP_ONLY")
        for step in steps:
            if only and step.__name__ not in only.split(",") and step != self.start_main:
                continue
            t0 = time.monotonic()
            try:
                step()
            except Exception as e:  # noqa: BLE001 - one failed step, go on
                R.check("%s completes" % step.__name__, False, repr(e))
            print("     (%s: %.1f s)" % (step.__name__, time.monotonic() - t0), flush=True)


# ----------------------------------------------------------------------
# The 1 000-connection test: clients (asyncio, in the test process) and the
# checksum-verifying upstream (its own process, so both cores are used)


class Gate:
    """All clients hold after their first request until every one has done
    it, so that the connections are really open at the same time."""

    def __init__(self, n):
        self.n = n
        self.event = asyncio.Event()

    async def arrive(self):
        self.n -= 1
        if self.n <= 0:
            self.event.set()
        try:
            await asyncio.wait_for(self.event.wait(), 60)
        except asyncio.TimeoutError:
            pass


async def one_client(port, i, k, gate):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 20), 30)
    except (OSError, asyncio.TimeoutError) as e:
        return "connect %d: %r" % (i, e)
    ip = "10.%d.%d.1" % (i >> 8, i & 255)
    try:
        writer.write(v2_header((ip, 1000 + i), ("192.0.2.1", 443)))
        rnd = random.Random(i)
        for j in range(k):
            body = rnd.randbytes(rnd.randrange(0, 3000))
            sumh = hashlib.sha256(body).hexdigest()
            if j % 3 == 2:  # chunked
                mid = len(body) // 2
                parts = [body[:mid], body[mid:]]
                enc = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
                writer.write(b"POST /m/%d/%d HTTP/1.1\r\nHost: m\r\nX-Sum: %s\r\n"
                             b"X-Forwarded-For: 6.6.6.6\r\nTransfer-Encoding: chunked\r\n\r\n"
                             % (i, j, sumh.encode()) + enc)
            else:
                writer.write(b"POST /m/%d/%d HTTP/1.1\r\nHost: m\r\nX-Sum: %s\r\n"
                             b"Content-Length: %d\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"
                             % (i, j, sumh.encode(), len(body)) + body)
            await writer.drain()
            h = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            n = int(h.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            b = await asyncio.wait_for(reader.readexactly(n), 60)
            want = ("%s %s" % (ip, sumh)).encode()
            if not h.startswith(b"HTTP/1.1 200 ") or b != want:
                return "conn %d req %d: %r %r" % (i, j, h[:40], b)
            if j == 0:
                await gate.arrive()
        return True
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
            IndexError) as e:
        return "conn %d: %r" % (i, e)
    finally:
        writer.close()


async def many_clients(port, n, k):
    gate = Gate(n)

    async def run(i):
        r = await one_client(port, i, k, gate)
        if r is not True and not gate.event.is_set():
            await gate.arrive()  # a failed client does not hold the others
        return r
    # all n are opened concurrently; connecting is spread a little
    tasks = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(run(i)))
        if i % 100 == 99:
            await asyncio.sleep(0.01)
    return await asyncio.gather(*tasks)


def bigup_main(port, recfile):
    stats = {"ok": 0, "bad": 0, "conns": 0, "open": 0, "max_open": 0, "bad_examples": []}

    async def handle(reader, writer):
        stats["conns"] += 1
        stats["open"] += 1
        stats["max_open"] = max(stats["max_open"], stats["open"])
        try:
            while True:
                try:
                    h = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                fields = {}
                for line in h.split(b"\r\n")[1:]:
                    if b":" in line:
                        k, v = line.split(b":", 1)
                        fields.setdefault(k.strip().lower(), []).append(v.strip())
                if b"content-length" in fields:
                    body = await reader.readexactly(int(fields[b"content-length"][0]))
                else:
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        if size == 0:
                            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                                pass
                            break
                        body += (await reader.readexactly(size + 2))[:-2]
                sumh = hashlib.sha256(body).hexdigest().encode()
                xff = fields.get(b"x-forwarded-for", [b""])
                if fields.get(b"x-sum") == [sumh] and len(xff) == 1 and xff[0].startswith(b"10."):
                    stats["ok"] += 1
                else:
                    stats["bad"] += 1
                    if len(stats["bad_examples"]) < 3:
                        stats["bad_examples"].append(h.decode("latin-1"))
                out = xff[0] + b" " + sumh
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            stats["open"] -= 1
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096,
                                            limit=1 << 20)
        async with server:
            await server.serve_forever()

    def dump(*_):
        with open(recfile, "w") as f:
            json.dump(stats, f)
        os._exit(0)
    signal.signal(signal.SIGINT, dump)
    signal.signal(signal.SIGTERM, dump)
    asyncio.run(serve())


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "bigup":
        bigup_main(int(sys.argv[2]), sys.argv[3])
        return 0
    if len(sys.argv) != 2:
        print("usage: httptest.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if not os.access(os.path.join(build, "examples", "ppproxy", "ppproxy"), os.X_OK):
        print("no ppproxy in %s/examples" % build, file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pphttp.")
    suite = Suite(build, tmp)

    def on_signal(signum, frame):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.run()
    finally:
        suite.procs.stop_all()
        for u in suite.ups:
            u.close()
        if R.failed == 0 and not os.environ.get("PPTEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("logs kept in %s" % tmp)
    if R.failures:
        print("failed: " + "; ".join(R.failures))
    print("%d passed, %d failed" % (R.passed, R.failed))
    return 0 if R.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
