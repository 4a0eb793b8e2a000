#!/usr/bin/env python3
"""Black-box tests of the server-author examples (examples/*_server.c,
examples/own_buffer.c) against real clients.

    examples_test.py BUILD_DIR

Each server is started on a free loopback port with its own arguments;
clients are curl, HAProxy 2.6 in TCP mode (send-proxy-v2, and
proxy-v2-options authority for TLS), tests/peers/ppsend (a header written by
pp_write_v1/pp_write_v2) and raw Python sockets (headers split byte by byte,
header and request in one write, partial headers, garbage). Each case
asserts both what the client got and the line the server printed.
Every process started here is stopped by its PID at the end.
Ends with "examples: N passed, M failed".
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
import pptool  # noqa: E402  (the header encoder written from the spec)

BUILD = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="pphdr-examples.")
PROCS = []
SERVERS = []
PASSED = 0
FAILED = 0


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   " + name)
    else:
        FAILED += 1
        print("FAIL " + name + (": " + detail if detail else ""))


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, secs=5.0):
    """Wait until something listens on port, without connecting to it (a
    probe through HAProxy would reach the server under test)."""
    want = ":%04X" % port
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(name) as f:
                for row in f.readlines()[1:]:
                    r = row.split()
                    if r[1].endswith(want) and r[3] == "0A":
                        return True
        time.sleep(0.05)
    return False


class Server:
    """A program under test; its standard output is kept in a file."""

    def __init__(self, name, argv):
        self.log = os.path.join(TMP, name + ".out")
        self.out = open(self.log, "w")
        self.proc = subprocess.Popen(argv, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        SERVERS.append((name, self))
        self.seen = 0

    def text(self):
        with open(self.log) as f:
            return f.read()

    def wait_listening(self):
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if "listening on" in self.text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def expect(self, pattern, secs=3.0):
        """The next printed line (after those already matched) that
        matches pattern; None when none came within secs."""
        end = time.monotonic() + secs
        while True:
            lines = self.text().splitlines()
            for i in range(self.seen, len(lines)):
                if re.search(pattern, lines[i]):
                    self.seen = i + 1
                    return lines[i]
            if time.monotonic() > end:
                return None
            time.sleep(0.02)

    def skip_all(self):
        self.seen = len(self.text().splitlines())


def talk(port, chunks, host="127.0.0.1", pause=0.0, timeout=5.0):
    """Connect, send each chunk in its own write (pause between them),
    read until the server closes. Returns (bytes, local port)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    lport = s.getsockname()[1]
    got = b""
    try:
        for c in chunks:
            s.sendall(c)
            if pause:
                time.sleep(pause)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError as e:
        got += ("<%s>" % type(e).__name__).encode()
    finally:
        s.close()
    return got, lport


def haproxy(name, server_port, extra="", host="127.0.0.1", bind_extra=""):
    """HAProxy 2.6 in TCP mode in front of server_port; returns its port."""
    port = free_port(host)
    bind = ("[%s]" % host) if ":" in host else host
    cfg = os.path.join(TMP, name + ".cfg")
    with open(cfg, "w") as f:
        f.write("""global
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s:%d %s
    default_backend be
backend be
    server s 127.0.0.1:%d send-proxy-v2 %s
""" % (bind, port, bind_extra, server_port, extra))
    log = open(os.path.join(TMP, name + ".log"), "w")
    p = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=log,
                         stderr=subprocess.STDOUT)
    PROCS.append(p)
    if not wait_port(port):
        check("start haproxy " + name, False, open(log.name).read())
    return port


def ppsend_header(*args):
    """The bytes of a header written by the library's writer (ppsend),
    taken from its 'ppsend: header N bytes HEX' line; ppsend talks to a
    throwaway listener that answers one byte."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def answer():
        c, _ = ls.accept()
        c.recv(65536)
        c.sendall(b"x")
        c.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    r = subprocess.run([PPSEND] + list(args) +
                       ["127.0.0.1", str(ls.getsockname()[1])],
                       capture_output=True, text=True, timeout=10)
    ls.close()
    m = re.search(r"ppsend: header \d+ bytes ([0-9a-fA-F]+)", r.stderr)
    return bytes.fromhex(m.group(1)) if m else b""


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "5"] + list(args),
                       capture_output=True, text=True, timeout=15)
    return r.stdout + r.stderr


EX = os.path.join(BUILD, "examples")
PPSEND = os.path.join(BUILD, "tests", "ppsend")
V1 = pptool.v1_header(("203.0.113.7", 4242), ("192.0.2.1", 80))
V2 = pptool.v2_header(("203.0.113.7", 4242), ("192.0.2.1", 80))
V2_6 = pptool.v2_header(("2001:db8::7", 4343), ("2001:db8::1", 443))
RESET = b"<ConnectionResetError>"
LOCAL = pptool.v2_header(command=0)


def start(prog, timeout_ms, *rest, trust=("127.0.0.1/32", "::1")):
    port = free_port()
    srv = Server(prog + str(port), [os.path.join(EX, prog), "127.0.0.1",
                                    str(port), str(timeout_ms)] +
                 list(rest) + list(trust))
    check(prog + " starts", srv.wait_listening(), srv.text())
    return srv, port


def test_hello():
    srv, port = start("hello_server", 400)
    hp = haproxy("hello-ha", port)
    got, lp = talk(hp, [b"hi\n"])
    got = got.replace(RESET, b"")
    check("hello: through HAProxy send-proxy-v2, client is the HAProxy "
          "client", got == b"client 127.0.0.1:%d\n" % lp, repr(got))
    check("hello: prints it", srv.expect(r"^client 127\.0\.0\.1:%d v2$" % lp)
          is not None, srv.text())
    for v, hdr in (("v1", V1), ("v2", V2)):
        got, _ = talk(port, [hdr + b"GET / HTTP/1.0\r\n\r\n"])
        got = got.replace(RESET, b"")  # the GET is left unread
        check("hello: %s header and data in one write" % v,
              got == b"client 203.0.113.7:4242\n", repr(got))
    got, _ = talk(port, [V2_6])
    check("hello: v2 TCP6", got == b"client [2001:db8::7]:4343\n", repr(got))
    got, _ = talk(port, [bytes([b]) for b in V1], pause=0.005)
    check("hello: v1 header byte by byte is not an error",
          got == b"client 203.0.113.7:4242\n", repr(got))
    r = subprocess.run([PPSEND, "-2", "--src", "198.51.100.9", "--sport",
                        "5555", "127.0.0.1", str(port)],
                       capture_output=True, text=True, timeout=10)
    check("hello: header from ppsend (pp_write_v2)",
          r.stdout == "client 198.51.100.9:5555\n", r.stdout + r.stderr)
    got, lp = talk(port, [LOCAL])
    check("hello: LOCAL uses the socket peer",
          got == b"client 127.0.0.1:%d\n" % lp, repr(got))
    got, _ = talk(port, [b"PROXY TCP4 203.0.113.999 192.0.2.1 1 2\r\n"])
    got = got.replace(RESET, b"")
    check("hello: bad address", got == b"error v1_address\n", repr(got))
    got, _ = talk(port, [b"GET / HTTP/1.1\r\n\r\n"])
    got = got.replace(RESET, b"")  # not read: not proven to be a header
    check("hello: no header", got == b"error not_proxy\n", repr(got))
    t0 = time.monotonic()
    got, _ = talk(port, [V1[:20]])
    el = time.monotonic() - t0
    check("hello: partial header times out after 400 ms",
          got == b"error timeout\n" and 0.3 < el < 4, "%r %.2f" % (got, el))
    srv.skip_all()
    srv2, port2 = start("hello_server", 400, trust=("10.0.0.0/8",))
    got, _ = talk(port2, [V1])
    check("hello: untrusted peer closed unanswered",
          got in (b"", b"<ConnectionResetError>"), repr(got))
    check("hello: untrusted printed", srv2.expect(r"^untrusted 127\.0\.0\.1:")
          is not None, srv2.text())


def test_app_server(prog):
    """own_buffer and uv_server: the same behaviour, two event models."""
    srv, port = start(prog, 400)
    hp = haproxy(prog + "-ha", port)
    out = curl("-w", "%{local_port}", "http://127.0.0.1:%d/through/ha" % hp)
    lines = out.splitlines()
    want = "client 127.0.0.1:%s sent: GET /through/ha HTTP/1.1" % (
        lines[-1] if lines else "?")
    check(prog + ": curl through HAProxy send-proxy-v2",
          len(lines) == 2 and lines[0] == want, out)
    check(prog + ": prints it", srv.expect(r"^answered 127\.0\.0\.1:")
          is not None, srv.text())
    hp6 = haproxy(prog + "-ha6", port, host="::1")
    out = curl("-w", "%{local_port}", "http://[::1]:%d/six" % hp6)
    lines = out.splitlines()
    want = "client [::1]:%s sent: GET /six HTTP/1.1" % (
        lines[-1] if lines else "?")
    check(prog + ": curl over IPv6 through HAProxy (TCP6 header)",
          len(lines) == 2 and lines[0] == want, out)
    body = b"\r\n\r\nclient 203.0.113.7:4242 sent: GET /x HTTP/1.0\n"
    for v, hdr in (("v1", V1), ("v2", V2)):
        got, _ = talk(port, [hdr + b"GET /x HTTP/1.0\r\n\r\n"])
        check(prog + ": %s header and request in ONE write (the bytes after "
              "the header reach the application)" % v,
              got.endswith(body), repr(got))
        got, _ = talk(port, [bytes([b]) for b in hdr + b"GET /x HTTP/1.0\n"],
                      pause=0.002)
        check(prog + ": %s header and request byte by byte" % v,
              got.endswith(body), repr(got))
    got, _ = talk(port, [V2 + V1 + b"GET /\r\n"])
    check(prog + ": a second header is application data",
          got.endswith(b"client 203.0.113.7:4242 sent: PROXY TCP4 "
                       b"203.0.113.7 192.0.2.1 4242 80\n"), repr(got))
    r = subprocess.run([PPSEND, "-1", "--src", "2001:db8::5", "--sport", "7",
                        "--path", "/pp", "127.0.0.1", str(port)],
                       capture_output=True, text=True, timeout=10)
    check(prog + ": ppsend v1 TCP6 header, request in a second write",
          r.stdout.endswith("client [2001:db8::5]:7 sent: GET /pp HTTP/1.1\n"),
          r.stdout + r.stderr)
    got, lp = talk(port, [LOCAL, b"GET /health HTTP/1.0\r\n\r\n"])
    check(prog + ": LOCAL uses the socket peer", got.endswith(
        b"client 127.0.0.1:%d sent: GET /health HTTP/1.0\n" % lp), repr(got))
    srv.skip_all()
    got, _ = talk(port, [b"PROXY TCP4 203.0.113.7 192.0.2.1 042 80\r\nGET /\n"])
    check(prog + ": bad header closed unanswered", got == b"", repr(got))
    check(prog + ": bad header printed",
          srv.expect(r"^error v1_port from 127\.0\.0\.1:") is not None,
          srv.text())
    t0 = time.monotonic()
    got, _ = talk(port, [V2[:10]])
    el = time.monotonic() - t0
    check(prog + ": partial header closed after the 400 ms deadline",
          got == b"" and 0.3 < el < 4, "%r %.2f" % (got, el))
    check(prog + ": timeout printed",
          srv.expect(r"^error timeout from") is not None, srv.text())
    t0 = time.monotonic()
    got, _ = talk(port, [V1])
    el = time.monotonic() - t0
    check(prog + ": a header without a request line is closed at the same "
          "deadline", got == b"" and 0.3 < el < 4, "%r %.2f" % (got, el))
    check(prog + ": that timeout names the header's client",
          srv.expect(r"^error timeout from 203\.0\.113\.7:4242$") is not None,
          srv.text())
    got, _ = talk(port, [V2 + b"x" * 9000])
    check(prog + ": a request line longer than the buffer is refused",
          got in (b"", RESET), repr(got))
    check(prog + ": line_too_long printed",
          srv.expect(r"^error line_too_long from 203\.0\.113\.7:4242$")
          is not None, srv.text())
    # One event loop, many connections: a peer that stalls inside its
    # header must not hold up the others (a 5 s deadline for this one).
    srv3, port3 = start(prog, 5000)
    stall = socket.create_connection(("127.0.0.1", port3), timeout=5)
    stall.sendall(V2[:10])
    t0 = time.monotonic()
    got, _ = talk(port3, [V1 + b"GET /meanwhile\n"])
    el = time.monotonic() - t0
    stall.setblocking(False)
    try:
        still_open = stall.recv(1) is None
    except BlockingIOError:
        still_open = True
    stall.close()
    check(prog + ": answers another connection while one stalls in its "
          "header", got.endswith(b"sent: GET /meanwhile\n") and el < 3 and
          still_open, "%r %.2f open=%s" % (got, el, still_open))
    srv2, port2 = start(prog, 400, trust=("10.0.0.0/8", "2001:db8::/32"))
    got, _ = talk(port2, [V1 + b"GET /\n"])
    check(prog + ": untrusted peer closed unanswered",
          got in (b"", b"<ConnectionResetError>"), repr(got))
    check(prog + ": untrusted printed",
          srv2.expect(r"^untrusted 127\.0\.0\.1:") is not None, srv2.text())


def tls_client(port, header, sni, cafile, split=False):
    """Header and ClientHello in ONE write (split=False), through a memory
    BIO, then an HTTP request; returns the response text."""
    ctx = ssl.create_default_context(cafile=cafile)
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname=sni)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    first = True
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                data = outg.read()
                if first and split:
                    s.sendall(header)
                    time.sleep(0.05)
                    s.sendall(data)
                elif first:
                    s.sendall(header + data)
                else:
                    s.sendall(data)
                first = False
                d = s.recv(65536)
                if not d:
                    return "<closed in handshake>"
                inc.write(d)
        obj.write(b"GET / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\n\r\n")
        s.sendall(outg.read())
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            inc.write(d)
            try:
                got += obj.read(65536)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
        return got.decode(errors="replace")
    except (OSError, ssl.SSLError) as e:
        return "<%s>" % e
    finally:
        s.close()


def test_tls():
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=tls.example", "-addext",
                        "subjectAltName=DNS:tls.example,DNS:sni.example"],
                       capture_output=True, text=True)
    check("tls: certificate made with openssl req", r.returncode == 0,
          r.stderr)
    srv, port = start("tls_server", 1000, cert, key)
    hp = haproxy("tls-ha", port, "proxy-v2-options authority")
    out = curl("--cacert", cert, "--resolve", "tls.example:%d:127.0.0.1" % hp,
               "-w", "%{local_port}", "https://tls.example:%d/" % hp)
    lines = out.splitlines()
    want = "client 127.0.0.1:%s sni tls.example authority -" % (
        lines[-1] if lines else "?")
    check("tls: curl --resolve over HTTPS through HAProxy TCP mode: curl's "
          "address and the SNI", len(lines) == 2 and lines[0] == want, out)
    check("tls: prints it", srv.expect("^" + re.escape(want) + "$")
          is not None, srv.text())
    hp2 = haproxy("tls-ha-relay", port, "proxy-v2-options authority",
                  bind_extra="accept-proxy")
    hdr = ppsend_header("-2", "--src", "198.51.100.20", "--sport", "2020",
                        "--authority", "relayed.example")
    got = tls_client(hp2, hdr, "sni.example", cert)
    check("tls: HAProxy accept-proxy + proxy-v2-options authority relays "
          "the AUTHORITY TLV", got.endswith(
              "client 198.51.100.20:2020 sni sni.example authority "
              "relayed.example\n"), got)
    hdr = ppsend_header("-2", "--src", "203.0.113.7", "--sport", "4242",
                        "--authority", "auth.example", "--crc32c")
    check("tls: ppsend wrote a header", len(hdr) > 16, repr(hdr))
    for split in (False, True):
        got = tls_client(port, hdr, "sni.example", cert, split=split)
        check("tls: pp_write_v2 header with AUTHORITY %s the ClientHello" %
              ("before" if split else "in one write with"),
              got.endswith("client 203.0.113.7:4242 sni sni.example "
                           "authority auth.example\n"), got)
    got = tls_client(port, pptool.v1_header(("192.0.2.5", 1), ("192.0.2.6", 2)),
                     "tls.example", cert)
    check("tls: v1 header then TLS",
          got.endswith("client 192.0.2.5:1 sni tls.example authority -\n"), got)
    srv.skip_all()
    got, _ = talk(port, [V1 + b"GET / HTTP/1.0\r\n\r\n"])
    check("tls: plain text after the header fails the handshake",
          got in (b"", RESET), repr(got))
    check("tls: handshake failure printed",
          srv.expect(r"^error tls_handshake from 203\.0\.113\.7:4242")
          is not None, srv.text())
    got, _ = talk(port, [b"\x16\x03\x01\x02\x00\x01"])
    check("tls: TLS without a header refused",
          srv.expect(r"^error not_proxy from 127\.0\.0\.1") is not None,
          srv.text())
    got, _ = talk(port, [V2[:5]])
    check("tls: partial header times out",
          srv.expect(r"^error timeout from") is not None, srv.text())


def test_usage():
    """A TIMEOUT_MS that is not a positive number is a usage error, not a
    server that times out at once or never."""
    for prog in ("hello_server", "own_buffer", "uv_server", "tls_server"):
        extra = ["c.pem", "k.pem"] if prog == "tls_server" else []
        for bad in ("abc", "0", "-5", "10x"):
            try:  # a server that starts anyway is killed by run's timeout
                r = subprocess.run([os.path.join(EX, prog), "127.0.0.1",
                                    str(free_port()), bad] + extra +
                                   ["127.0.0.1"], capture_output=True,
                                   text=True, timeout=5)
                rc, err = r.returncode, r.stderr
            except subprocess.TimeoutExpired:
                rc, err = None, "still running after 5 s"
            check("%s: TIMEOUT_MS %r refused" % (prog, bad),
                  rc == 2 and "usage" in err, "%r %r" % (rc, err))


def main():
    try:
        test_usage()
        test_hello()
        for prog in ("own_buffer", "uv_server"):
            test_app_server(prog)
        test_tls()
        for name, srv in SERVERS:  # a crash (or a sanitizer report) ends one
            check("%s still running after its tests" % name,
                  srv.proc.poll() is None, srv.text()[-2000:])
    finally:
        for p in PROCS:
            p.terminate()
        for p in PROCS:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    print("examples: %d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
