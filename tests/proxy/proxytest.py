#!/usr/bin/env python3
"""Black-box tests of examples/ppproxy against real peers on loopback.

    proxytest.py BUILD_DIR

Senders in front of ppproxy: HAProxy (send-proxy, send-proxy-v2, and
send-proxy-v2 with crc32c,unique-id,authority,ssl... behind a TLS frontend
using a certificate made here), curl --haproxy-protocol, and headers built
by pptool.py. Receivers behind ppproxy --send-proxy v1|v2: HAProxy with
accept-proxy, nginx stream and http modules with "listen ... proxy_protocol"
(their responses and logs must name the original client), and the pptool
sink, which records the header ppproxy sends and the SHA-256 of every byte.

Prints one line per check and ends with "N passed, M failed"; exit status 0
only when nothing failed. Every wait is bounded; all processes started here
are stopped on exit.
"""
import asyncio
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pptool  # noqa: E402
from pptool import tlv, v1_header, v2_header  # noqa: E402

# ----------------------------------------------------------------------
# Bookkeeping


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, ok, info=""):
        if ok:
            self.passed += 1
            print("ok   - %s" % name, flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print("FAIL - %s%s" % (name, (": " + str(info)) if info else ""),
                  flush=True)
        return ok


R = Results()


class Procs:
    """Processes started by the tests, stopped at exit whatever happens."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, argv, env=None, preexec=None):
        out = open(os.path.join(self.tmp, name + ".out"), "wb")
        err = open(os.path.join(self.tmp, name + ".err"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             env=env, preexec_fn=preexec)
        p.name = name
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=8):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass


_used_ports = set()


def free_port():
    """A port free on both 127.0.0.1 and ::1 right now."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port")


def listening(port):
    """True when something listens on the TCP port (no connection made)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_until(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            return v
        time.sleep(step)


def wait_listening(port, proc=None, timeout=10):
    ok = wait_until(lambda: listening(port) or (proc is not None and proc.poll() is not None),
                    timeout)
    return ok and listening(port)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ----------------------------------------------------------------------
# Logs and records

LOG_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            if s[i + 1] == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(s[i + 1])
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def parse_text_line(line):
    d = {}
    for k, v in LOG_RE.findall(line):
        d[k] = unescape(v[1:-1]) if v.startswith('"') else v
    return d


class Log:
    """A ppproxy log file (text or json), read again on each query."""

    def __init__(self, path, json_format=False):
        self.path = path
        self.json = json_format

    def raw_lines(self):
        try:
            with open(self.path) as f:
                return [l for l in f.read().split("\n") if l]
        except FileNotFoundError:
            return []

    def entries(self):
        if self.json:
            return [json.loads(l) for l in self.raw_lines()]
        return [parse_text_line(l) for l in self.raw_lines()]

    def count(self, pred):
        return sum(1 for e in self.entries() if pred(e))

    def grows(self, pred, before, timeout=5.0):
        """Wait until more than `before` entries match; the last one or None."""
        def look():
            hits = [e for e in self.entries() if pred(e)]
            return hits[-1] if len(hits) > before else None
        return wait_until(look, timeout)

    def find(self, pred, timeout=5.0):
        def look():
            for e in self.entries():
                if pred(e):
                    return e
            return None
        return wait_until(look, timeout)


class Records:
    def __init__(self, path):
        self.path = path

    def all(self):
        try:
            with open(self.path) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def count(self):
        return len(self.all())

    def find(self, pred, timeout=5.0):
        def look():
            for r in self.all():
                if pred(r):
                    return r
            return None
        return wait_until(look, timeout)


def src_is(addr):
    return lambda r: r.get("proxy") and r["proxy"].get("src") == addr


def addr_text(sockname):
    host, port = sockname[0], sockname[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


# ----------------------------------------------------------------------
# Clients


def connect(port, host="127.0.0.1", timeout=10):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def read_all(s, limit=1 << 31):
    chunks, n = [], 0
    while n < limit:
        try:
            d = s.recv(1 << 20)
        except ConnectionResetError:
            break
        if not d:
            break
        chunks.append(d)
        n += len(d)
    return b"".join(chunks)


def exchange(port, data, host="127.0.0.1", half_close=True, timeout=10):
    """Send data, half-close, read to EOF. Returns (reply, local address)."""
    s = connect(port, host, timeout)
    try:
        local = s.getsockname()
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_all(s), local
    finally:
        s.close()


def rejected(port, data, host="127.0.0.1", wait=5.0, pause=None):
    """Send data (optionally with a pause inside), expect the server to close
    without a reply. Returns (closed_without_reply, seconds until closed)."""
    s = connect(port, host, wait)
    t0 = time.monotonic()
    got = b""
    try:
        try:
            if pause is not None:
                s.sendall(data[:pause[0]])
                time.sleep(pause[1])
                s.sendall(data[pause[0]:])
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return True, time.monotonic() - t0
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            return False, wait
        return got == b"", time.monotonic() - t0
    finally:
        s.close()


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ----------------------------------------------------------------------
# Configurations of the real peers


def haproxy_senders_cfg(tmp, ports, pa, sink):
    return """global
    log stdout format raw local0
    nbthread 1
defaults
    mode tcp
    log global
    timeout connect 3s
    timeout client 30s
    timeout server 30s
frontend fe_v1
    bind 127.0.0.1:{h_v1}
    bind [::1]:{h_v1}
    default_backend be_v1
backend be_v1
    server s 127.0.0.1:{pa} send-proxy
frontend fe_v2
    bind 127.0.0.1:{h_v2}
    bind [::1]:{h_v2}
    default_backend be_v2
backend be_v2
    server s 127.0.0.1:{pa} send-proxy-v2
frontend fe_tls
    bind 127.0.0.1:{h_tls} ssl crt {pem} alpn h2,http/1.1
    unique-id-format uid-%cp-%rt
    default_backend be_tls
backend be_tls
    server s 127.0.0.1:{pa} send-proxy-v2 proxy-v2-options crc32c,unique-id,authority,ssl,ssl-cipher,cert-sig,cert-key,cert-cn
frontend fe_tls_direct
    bind 127.0.0.1:{h_tls_direct} ssl crt {pem} alpn h2,http/1.1
    unique-id-format uid-%cp-%rt
    default_backend be_tls_direct
backend be_tls_direct
    server s 127.0.0.1:{sink} send-proxy-v2 proxy-v2-options crc32c,unique-id,authority,ssl,ssl-cipher,cert-sig,cert-key,cert-cn
""".format(pem=os.path.join(tmp, "haproxy.pem"), pa=pa, sink=sink, **ports)


def haproxy_receiver_cfg(port):
    return """global
    log stdout format raw local0
    nbthread 1
defaults
    mode http
    log global
    timeout connect 3s
    timeout client 10s
    timeout server 10s
frontend fe_recv
    bind 127.0.0.1:{port} accept-proxy
    log-format "HAPROXY_RECV client=%ci:%cp dst=%fi:%fp"
    http-request return status 200 content-type text/plain lf-string "haproxy saw %ci:%cp\\n"
""".format(port=port)


def nginx_cfg(tmp, stream_port, http_port):
    return """load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx_error.log info;
events {{ worker_connections 256; }}
stream {{
    log_format pp 'NGINX_STREAM client=$proxy_protocol_addr:$proxy_protocol_port';
    access_log {tmp}/nginx_stream.log pp;
    server {{
        listen 127.0.0.1:{stream_port} proxy_protocol;
        return "nginx stream saw $proxy_protocol_addr:$proxy_protocol_port\\n";
    }}
}}
http {{
    log_format pp 'NGINX_HTTP client=$proxy_protocol_addr:$proxy_protocol_port';
    access_log {tmp}/nginx_http.log pp;
    client_body_temp_path {tmp}/nginx_body;
    proxy_temp_path {tmp}/nginx_proxy;
    fastcgi_temp_path {tmp}/nginx_fastcgi;
    uwsgi_temp_path {tmp}/nginx_uwsgi;
    scgi_temp_path {tmp}/nginx_scgi;
    server {{
        listen 127.0.0.1:{http_port} proxy_protocol;
        location / {{
            default_type text/plain;
            return 200 "nginx http saw $proxy_protocol_addr:$proxy_protocol_port\\n";
        }}
    }}
}}
""".format(tmp=tmp, stream_port=stream_port, http_port=http_port)


# ----------------------------------------------------------------------
# The suite


class Suite:
    def __init__(self, build, tmp):
        self.tmp = tmp
        self.bin = os.path.join(build, "examples", "ppproxy", "ppproxy")
        self.procs = Procs(tmp)

    # -- helpers -------------------------------------------------------
    def path(self, name):
        return os.path.join(self.tmp, name)

    def ppproxy(self, name, args, env=None, preexec=None, json_log=False):
        """Start a ppproxy; returns (process, port, Log)."""
        port = free_port()
        log = self.path(name + ".log")
        argv = [self.bin, "--listen", "127.0.0.1:%d" % port,
                "--log", log] + (["--log-format", "json"] if json_log else []) + args
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = self.procs.start(name, argv, env=full_env, preexec=preexec)
        if not wait_listening(port, p):
            raise RuntimeError("%s did not start: %s" % (
                name, open(self.path(name + ".err")).read()))
        return p, port, Log(log, json_log)

    def start_sink(self, name):
        port = free_port()
        rec = self.path(name + ".jsonl")
        p = self.procs.start(name, [sys.executable, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "pptool.py"),
            "sink", "--port", str(port), "--records", rec])
        if not wait_listening(port, p):
            raise RuntimeError("sink did not start")
        return port, Records(rec)

    # -- tests ---------------------------------------------------------
    def test_cli(self):
        def run(args):
            return subprocess.run([self.bin] + args, capture_output=True,
                                  text=True, timeout=10)
        h = run(["--help"])
        opts = ["--listen", "--upstream", "--trusted", "--timeout", "--send-proxy",
                "--max-conns", "--workers", "--log", "--log-format"]
        R.check("cli: --help exits 0 and documents every option",
                h.returncode == 0 and all(o in h.stdout for o in opts),
                h.returncode)
        R.check("cli: --help gives the defaults",
                all(s in h.stdout for s in ("default 50", "0 means 5000", "default none",
                                            "default 10000", "number of CPUs",
                                            "default -", "default text")), h.stdout)
        base = ["--listen", "127.0.0.1:%d" % free_port(), "--upstream", "127.0.0.1:9"]
        bad = [
            ("missing --trusted", base),
            ("bad CIDR syntax", base + ["--trusted", "10.0.0.0/8x"]),
            ("CIDR prefix out of range", base + ["--trusted", "10.0.0.0/33"]),
            ("empty --trusted", base + ["--trusted", ""]),
            ("unknown option", base + ["--trusted", "127.0.0.1", "--frobnicate"]),
            ("bad --send-proxy", base + ["--trusted", "127.0.0.1", "--send-proxy", "v3"]),
            ("bad --timeout", base + ["--trusted", "127.0.0.1", "--timeout", "-5"]),
            ("bad --listen", ["--listen", "1.2.3:80", "--upstream", "127.0.0.1:9",
                              "--trusted", "127.0.0.1"]),
            ("IPv6 --listen without brackets", ["--listen", "::1:80", "--upstream",
                                                "127.0.0.1:9", "--trusted", "::1"]),
            ("missing --upstream", ["--listen", "127.0.0.1:1", "--trusted", "127.0.0.1"]),
            ("bad --log-format", base + ["--trusted", "127.0.0.1", "--log-format", "xml"]),
            ("bad --workers", base + ["--trusted", "127.0.0.1", "--workers", "0"]),
            ("stray argument", base + ["--trusted", "127.0.0.1", "extra"]),
        ]
        for name, args in bad:
            r = run(args)
            R.check("cli: %s -> exit 2 with a message" % name,
                    r.returncode == 2 and "ppproxy" in r.stderr and r.stderr.strip() != "",
                    (r.returncode, r.stderr.strip()))
        r = run(base + ["--trusted", "10.0.0.0/33"])
        R.check("cli: bad CIDR message names the option and the value",
                "--trusted" in r.stderr and "10.0.0.0/33" in r.stderr, r.stderr)

    def _start_pa(self):
        port = free_port()
        log = self.path("pa.log")
        argv = [self.bin, "--listen", "127.0.0.1:%d" % port, "--listen", "[::1]:%d" % port,
                "--upstream", "127.0.0.1:%d" % self.sink_port,
                "--trusted", "127.0.0.1/32", "--trusted", "::1/128",
                "--send-proxy", "v2", "--timeout", "5000", "--workers", "2",
                "--log", log]
        p = self.procs.start("pa", argv)
        if not wait_listening(port, p):
            raise RuntimeError("pa did not start")
        return p, port, Log(log)

    def test_curl(self):
        for host in ("127.0.0.1", "[::1]"):
            r = subprocess.run(["curl", "-sS", "--max-time", "10", "--haproxy-protocol",
                                "http://%s:%d/curl-test" % (host, self.pa_port)],
                               capture_output=True, timeout=15)
            ok = r.returncode == 0
            rec = json.loads(r.stdout.split(b"\n")[0]) if ok and r.stdout else {}
            proxy = rec.get("proxy") or {}
            # curl's header names curl itself: the sink must see that address,
            # which is also the trusted peer in ppproxy's log.
            entry = self.pa_log.find(lambda e: e.get("client") == proxy.get("src")
                                     and e.get("outcome") == "ok") if proxy else None
            R.check("curl %s --haproxy-protocol: upstream sees the client in a v2 header"
                    % host,
                    ok and proxy.get("version") == 2 and proxy.get("command") == "PROXY"
                    and proxy.get("src", "").startswith(host + ":")
                    and rec.get("head", "").startswith("GET /curl-test"),
                    (r.returncode, r.stderr, rec))
            R.check("curl %s: ppproxy log line names client, peer, v1 header" % host,
                    entry is not None and entry.get("version") == "1"
                    and entry.get("peer") == entry.get("client")
                    and entry.get("command") == "PROXY", entry)

    def start_haproxy_senders(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", self.path("key.pem"),
                        "-out", self.path("cert.pem")], check=True, capture_output=True,
                       timeout=30)
        with open(self.path("haproxy.pem"), "w") as out:
            out.write(open(self.path("cert.pem")).read() + open(self.path("key.pem")).read())
        self.hports = {k: free_port() for k in ("h_v1", "h_v2", "h_tls", "h_tls_direct")}
        cfg = self.path("senders.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_senders_cfg(self.tmp, self.hports, self.pa_port, self.sink_port))
        c = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, timeout=10)
        if c.returncode != 0:
            raise RuntimeError("haproxy config: %s" % c.stderr)
        p = self.procs.start("haproxy_senders", ["haproxy", "-db", "-f", cfg])
        for port in self.hports.values():
            if not wait_listening(port, p):
                raise RuntimeError("haproxy senders did not start")

    def test_haproxy_senders(self):
        for fe, version in (("h_v1", "1"), ("h_v2", "2")):
            for host in ("127.0.0.1", "::1"):
                payload = b"SINK\n" + os.urandom(random.randint(1, 300000))
                reply, local = exchange(self.hports[fe], payload, host=host)
                me = addr_text(local)
                rec = self.rec.find(src_is(me))
                ans = json.loads(reply) if reply.startswith(b"{") else {}
                R.check("haproxy send-proxy%s from %s: upstream sees client %s, every byte"
                        % ("" if version == "1" else "-v2", host, me),
                        rec is not None and rec["sha256"] == sha(payload[0:]) and
                        rec["len"] == len(payload) and ans.get("sha256") == sha(payload),
                        (rec, ans))
                e = self.pa_log.find(lambda e: e.get("client") == me)
                R.check("haproxy send-proxy%s from %s: log has client, haproxy as peer, "
                        "version %s, byte counts" % ("" if version == "1" else "-v2", host,
                                                     version),
                        e is not None and e.get("version") == version
                        and e.get("peer", "").startswith("127.0.0.1:")
                        and e.get("outcome") == "ok"
                        and e.get("bytes_up") == str(len(payload)), e)

    def tls_get(self, port, sni):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = connect(port)
        s = ctx.wrap_socket(raw, server_hostname=sni)
        local = s.getsockname()
        s.sendall(b"GET /tls HTTP/1.0\r\n\r\n")
        data = read_all(s)
        s.close()
        body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b"{}"
        return json.loads(body), addr_text(local)

    def test_haproxy_tls(self):
        via, me = self.tls_get(self.hports["h_tls"], "auth.example.test")
        direct, _ = self.tls_get(self.hports["h_tls_direct"], "auth.example.test")
        pv, pd = via.get("proxy") or {}, direct.get("proxy") or {}
        tv = [t for t in pv.get("tlvs", []) if t[0] != 3]
        td = [t for t in pd.get("tlvs", []) if t[0] != 3]
        types = [t[0] for t in pv.get("tlvs", [])]
        R.check("haproxy TLS + proxy-v2-options: upstream gets v2 from ppproxy with the "
                "client address", pv.get("src") == me and pv.get("version") == 2, pv)
        R.check("haproxy TLS: CRC32C recomputed, first, and valid",
                types[:1] == [3] and pv.get("crc_ok") is True and pd.get("crc_ok") is True,
                pv)
        R.check("haproxy TLS: TLVs relayed as HAProxy sent them (ALPN, AUTHORITY, "
                "UNIQUE_ID, SSL; same order and values but the per-connection unique id)",
                [t[0] for t in tv] == [t[0] for t in td] and
                [t[0] for t in tv] == [1, 2, 5, 32] and
                [t for t in tv if t[0] != 5] == [t for t in td if t[0] != 5], (tv, td))
        e = self.pa_log.find(lambda e: e.get("client") == me)
        R.check("haproxy TLS: log shows authority, ALPN and unique-id",
                e is not None and e.get("authority") == "auth.example.test"
                and e.get("alpn") == "h2" and e.get("unique_id", "").startswith("uid-"), e)

    def test_direct_headers(self):
        """Headers written by pptool straight to ppproxy A (send v2)."""
        cases = [
            ("v1 TCP4", lambda me: v1_header(("192.0.2.10", 40001), ("198.51.100.1", 443)),
             "192.0.2.10:40001", "198.51.100.1:443", [], False),
            ("v1 TCP6", lambda me: v1_header(("2001:db8::10", 40002), ("2001:db8::1", 443)),
             "[2001:db8::10]:40002", "[2001:db8::1]:443", [], False),
            ("v1 UNKNOWN", lambda me: b"PROXY UNKNOWN ff::1 ff::2 1 2\r\n",
             None, None, [], False),
            ("v2 LOCAL with TLV", lambda me: v2_header(None, None, command=0,
                                                       tlvs=tlv(2, b"local.example")),
             None, None, [[2, b"local.example".hex()]], False),
            ("v2 TCP4 TLVs + CRC32C + NOOP + custom",
             lambda me: v2_header(("192.0.2.11", 40003), ("198.51.100.2", 8443), crc=True,
                                  tlvs=tlv(1, b"http/1.1") + tlv(4, b"\0\0") +
                                  tlv(2, b"a.example") + tlv(5, b"id-1") +
                                  tlv(0xE0, b"\x01\x02\x03\x04\x05\x06\x07\x08")),
             "192.0.2.11:40003", "198.51.100.2:8443",
             [[1, b"http/1.1".hex()], [2, b"a.example".hex()], [5, b"id-1".hex()],
              [0xE0, "0102030405060708"]], True),
            ("v2 TCP6 no CRC", lambda me: v2_header(("2001:db8::11", 40004),
                                                    ("2001:db8::2", 80),
                                                    tlvs=tlv(2, b"six.example")),
             "[2001:db8::11]:40004", "[2001:db8::2]:80", [[2, b"six.example".hex()]], False),
        ]
        for name, make, src, dst, tlvs, had_crc in cases:
            s = connect(self.pa_port)
            me = addr_text(s.getsockname())
            payload = b"SINK\n" + os.urandom(5000)
            hdr = make(me)
            # header and first bytes in one segment: the bytes after the
            # header must reach the upstream intact
            s.sendall(hdr + payload)
            s.shutdown(socket.SHUT_WR)
            reply = read_all(s)
            s.close()
            want_src = src or me
            want_dst = dst or "127.0.0.1:%d" % self.pa_port
            rec = self.rec.find(src_is(want_src))
            p = (rec or {}).get("proxy") or {}
            got_tlvs = [t for t in p.get("tlvs", []) if t[0] != 3]
            R.check("direct %s: upstream sees %s -> %s, TLVs %s, payload intact" % (
                name, want_src, want_dst, [t[0] for t in tlvs]),
                rec is not None and p.get("dst") == want_dst and got_tlvs == tlvs
                and rec["sha256"] == sha(payload) and json.loads(reply)["len"] == len(payload)
                # CRC32C recomputed exactly when the received header had one
                and (p.get("crc_ok") is True if had_crc
                     else not any(t[0] == 3 for t in p.get("tlvs", []))),
                (rec, reply))
        # v2 AF_UNIX: relayed as UNIX in v2, logged with the path
        hdr = v2_header(b"/run/client.sock", b"/run/server.sock", tlvs=tlv(2, b"u.example"))
        reply, _ = exchange(self.pa_port, hdr + b"SINK\nunix")
        rec = self.rec.find(src_is("unix:/run/client.sock"))
        e = self.pa_log.find(lambda e: e.get("client") == "unix:/run/client.sock")
        R.check("direct v2 AF_UNIX: upstream gets the UNIX block, log names the path",
                rec is not None and rec["proxy"]["dst"] == "unix:/run/server.sock"
                and rec["proxy"]["family"] == 0x31 and rec["len"] == 9
                and e is not None and e.get("dst") == "unix:/run/server.sock", (rec, e))
        # a header dribbled byte by byte (well within the timeout)
        hdr = v2_header(("192.0.2.12", 40005), ("198.51.100.3", 443), crc=True,
                        tlvs=tlv(2, b"slow.example"))
        s = connect(self.pa_port)
        for i in range(len(hdr)):
            s.send(hdr[i:i + 1])
            time.sleep(0.002)
        s.sendall(b"SINK\nafter")
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
        s.close()
        rec = self.rec.find(src_is("192.0.2.12:40005"))
        R.check("direct v2 sent one byte at a time: accepted, payload intact",
                rec is not None and rec["len"] == 10 and reply.startswith(b"{"), rec)

    def test_send_modes(self):
        """ppproxy --send-proxy v1 and none in front of the sink."""
        _, pv1, _ = self.ppproxy("pv1", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                         "--trusted", "127.0.0.0/8", "--send-proxy", "v1",
                                         "--timeout", "5000", "--workers", "1"])
        for src, dst, want, shown in (
                (("192.0.2.20", 41000), ("198.51.100.20", 443),
                 "PROXY TCP4 192.0.2.20 198.51.100.20 41000 443", "192.0.2.20:41000"),
                (("2001:db8:0:0::20", 41001), ("2001:db8::21", 443),
                 "PROXY TCP6 2001:db8::20 2001:db8::21 41001 443", "[2001:db8::20]:41001")):
            payload = b"SINK\n" + os.urandom(1000)
            reply, _ = exchange(pv1, v2_header(src, dst, tlvs=tlv(2, b"x")) + payload)
            rec = self.rec.find(src_is(shown))
            R.check("--send-proxy v1: upstream gets '%s'" % want,
                    rec is not None and rec["proxy"].get("raw") == want + "\r\n"
                    and rec["sha256"] == sha(payload), rec)
        _, pnone, _ = self.ppproxy("pnone", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                             "--trusted", "127.0.0.1", "--timeout", "5000",
                                             "--workers", "1"])
        marker = b"SINK\nnone-mode-" + os.urandom(8).hex().encode()
        reply, _ = exchange(pnone, v1_header(("192.0.2.21", 1), ("192.0.2.22", 2)) + marker)
        rec = self.rec.find(lambda r: r.get("head") == marker.decode())
        R.check("--send-proxy none: upstream gets the application bytes only",
                rec is not None and rec["proxy"] is None and rec["len"] == len(marker), rec)

    def test_rejections(self):
        _, pc, log = self.ppproxy("pc", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                         "--trusted", "127.0.0.1", "--timeout", "300",
                                         "--workers", "1"], json_log=True)
        self.pc_log = log
        self.pc_port = pc
        _, pu, ulog = self.ppproxy("pu", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                          "--trusted", "10.0.0.0/8",
                                          "--trusted", "2001:db8::/32", "--workers", "1"])
        before = self.rec.count()
        good = v1_header(("192.0.2.30", 1), ("192.0.2.31", 2)) + b"SINK\nuntrusted"
        s = connect(pu, timeout=2)
        me = addr_text(s.getsockname())
        t0 = time.monotonic()
        try:
            s.sendall(good)
            closed = s.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            closed = False
        took = time.monotonic() - t0
        s.close()
        e = ulog.find(lambda e: e.get("peer") == me)
        R.check("untrusted peer: closed at once (%.3f s), logged 'untrusted'" % took,
                closed and took < 1.0 and e is not None and e.get("outcome") == "untrusted"
                and e.get("client") == "-", e)
        # The bad inputs: (name, bytes, expected outcome, pause)
        crc_bad = bytearray(v2_header(("192.0.2.1", 1), ("192.0.2.2", 2), crc=True))
        crc_bad[-1] ^= 0xFF
        bad = [
            ("missing header (HTTP)", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not_proxy"),
            ("missing header (TLS hello)", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
             "not_proxy"),
            ("v1 bad address", b"PROXY TCP4 192.0.2.256 192.0.2.1 1 2\r\nSINK\n", "v1_address"),
            ("v1 bad family", b"PROXY TCP5 192.0.2.1 192.0.2.1 1 2\r\n", "v1_family"),
            ("v1 bad port", b"PROXY TCP4 192.0.2.1 192.0.2.1 1 080\r\n", "v1_port"),
            ("v1 lone LF", b"PROXY TCP4 192.0.2.1 192.0.2.1 1 2\n", "v1_crlf"),
            ("v1 too long", b"PROXY UNKNOWN " + b"x" * 120, "v1_too_long"),
            ("v2 bad version", pptool.V2_SIG + b"\x31\x11\x00\x0c" + b"\0" * 12, "v2_version"),
            ("v2 bad family", pptool.V2_SIG + b"\x21\x41\x00\x0c" + b"\0" * 12, "v2_family"),
            ("v2 truncated TLV", pptool.V2_SIG + b"\x21\x11\x00\x0e" + b"\0" * 12 + b"\x02\x00",
             "tlv_truncated"),
            ("v2 CRC32C mismatch", bytes(crc_bad), "crc32c_mismatch"),
        ]
        def outcome_is(o):
            return lambda e: e.get("outcome") == o
        for name, data, outcome in bad:
            before_n = log.count(outcome_is(outcome))
            ok, took = rejected(pc, data)
            e = log.grows(outcome_is(outcome), before_n)
            R.check("%s: closed (%.3f s), logged '%s'" % (name, took, outcome),
                    ok and took < 0.28 and e is not None and e.get("client") == "-", e)
        # slow header: 2 of its bytes, then silence past --timeout 300
        before_n = log.count(outcome_is("timeout"))
        ok, took = rejected(pc, b"PROXY TCP4 ", wait=5)
        e = log.grows(outcome_is("timeout"), before_n)
        R.check("header not finished within --timeout 300: closed after %.3f s, 'timeout'"
                % took, ok and 0.25 <= took <= 2.0 and e is not None, e)
        # a complete header arriving in two parts inside the timeout works
        data = v1_header(("192.0.2.33", 3), ("192.0.2.34", 4)) + b"SINK\nsplit"
        s = connect(pc)
        s.sendall(data[:20])
        time.sleep(0.1)
        s.sendall(data[20:])
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
        s.close()
        R.check("header split in two 100 ms apart (< timeout): relayed",
                reply.startswith(b"{") and json.loads(reply)["len"] == 10, reply)
        # peer closing mid-header
        before_n = log.count(outcome_is("closed"))
        s = connect(pc)
        s.sendall(b"\r\n\r\n\x00\r\nQU")
        s.shutdown(socket.SHUT_WR)
        got = read_all(s)
        s.close()
        e = log.grows(outcome_is("closed"), before_n)
        R.check("peer closing mid-header: closed, logged 'closed'",
                got == b"" and e is not None, e)
        time.sleep(0.3)
        # of all the connections above only the split header may go through
        R.check("no rejected connection reached the upstream",
                self.rec.count() - before == 1, self.rec.all()[before:])

    def test_timeout_defaults(self):
        """Default --timeout is 50 ms; --timeout 0 means 5000 ms."""
        hdr = v1_header(("192.0.2.45", 4500), ("192.0.2.46", 1)) + b"ECHO\nlate"
        _, pdef, dlog = self.ppproxy("pdef", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                              "--trusted", "127.0.0.1", "--workers", "1"])
        ok, _ = rejected(pdef, hdr, pause=(10, 0.3))
        e = dlog.find(lambda e: e.get("outcome") == "timeout")
        R.check("default --timeout (50 ms): a header paused 300 ms is cut ('timeout' after "
                "%s ms)" % (e or {}).get("duration_ms"),
                ok and e is not None and 45 <= int(e["duration_ms"]) < 250, e)
        _, pzero, _ = self.ppproxy("pzero", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                             "--trusted", "127.0.0.1", "--workers", "1",
                                             "--timeout", "0"])
        s = connect(pzero)
        s.sendall(hdr[:10])
        time.sleep(1.0)
        s.sendall(hdr[10:])
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
        s.close()
        R.check("--timeout 0 (5000 ms): a header paused 1 s still goes through",
                reply == b"ECHO\nlate", reply)

    def test_upstream_down(self):
        dead = free_port()
        _, pf, log = self.ppproxy("pf", ["--upstream", "127.0.0.1:%d" % dead,
                                         "--trusted", "127.0.0.1", "--workers", "1"])
        ok, took = rejected(pf, v1_header(("192.0.2.40", 1), ("192.0.2.41", 2)) + b"hello")
        e = log.find(lambda e: e.get("outcome") == "upstream_unreachable")
        R.check("upstream down: client closed (%.3f s), logged 'upstream_unreachable' "
                "with the client" % took,
                ok and e is not None and e.get("client") == "192.0.2.40:1"
                and e.get("upstream") == "127.0.0.1:%d" % dead, e)

    def test_receivers(self):
        """ppproxy --send-proxy v1|v2 in front of HAProxy accept-proxy and
        nginx proxy_protocol (stream and http)."""
        hr = free_port()
        cfg = self.path("receiver.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_receiver_cfg(hr))
        hp = self.procs.start("haproxy_receiver", ["haproxy", "-db", "-f", cfg])
        ns, nh = free_port(), free_port()
        ncfg = self.path("nginx.conf")
        with open(ncfg, "w") as f:
            f.write(nginx_cfg(self.tmp, ns, nh))
        np_ = self.procs.start("nginx", ["nginx", "-p", self.tmp, "-e", "stderr",
                                         "-c", ncfg])
        up = all(wait_listening(p, proc) for p, proc in ((hr, hp), (ns, np_), (nh, np_)))
        if not R.check("haproxy and nginx receivers started", up,
                       open(self.path("nginx.err")).read() + open(
                           self.path("haproxy_receiver.err")).read()):
            return
        receivers = [
            ("haproxy accept-proxy", hr, b"GET / HTTP/1.0\r\n\r\n", "haproxy saw %s",
             self.path("haproxy_receiver.out"), "HAPROXY_RECV client=%s"),
            ("nginx stream proxy_protocol", ns, b"", "nginx stream saw %s",
             self.path("nginx_stream.log"), "NGINX_STREAM client=%s"),
            ("nginx http proxy_protocol", nh, b"GET / HTTP/1.0\r\n\r\n", "nginx http saw %s",
             self.path("nginx_http.log"), "NGINX_HTTP client=%s"),
        ]
        n = 0
        for mode in ("v1", "v2"):
            for name, port, request, reply_fmt, logfile, log_fmt in receivers:
                _, pp, _ = self.ppproxy("recv_%s_%d" % (mode, port), [
                    "--upstream", "127.0.0.1:%d" % port, "--trusted", "127.0.0.1",
                    "--send-proxy", mode, "--timeout", "5000", "--workers", "1"])
                for src in (("192.0.2.%d" % (50 + n), 42000 + n),
                            ("2001:db8::%x" % (0x50 + n), 43000 + n)):
                    n += 1
                    shown = src[0] + ":%d" % src[1]
                    hdr = v1_header(src, ("198.51.100.1", 443) if ":" not in src[0]
                                    else ("2001:db8::1", 443))
                    reply, _ = exchange(pp, hdr + request, half_close=False)
                    logged = wait_until(lambda: os.path.exists(logfile) and
                                        (log_fmt % shown) in open(logfile).read(), 5)
                    R.check("--send-proxy %s -> %s: reports client %s (reply and log)"
                            % (mode, name, shown),
                            (reply_fmt % shown).encode() in reply and logged, reply)

    def test_dual_stack(self):
        port = free_port()
        log = self.path("pe.log")
        p = self.procs.start("pe", [self.bin, "--listen", "[::]:%d" % port,
                                    "--upstream", "127.0.0.1:%d" % self.sink_port,
                                    "--trusted", "127.0.0.1/32", "--send-proxy", "v2",
                                    "--workers", "1", "--timeout", "5000", "--log", log])
        wait_listening(port, p)
        plog = Log(log)
        reply, local = exchange(port, v1_header(("192.0.2.60", 6), ("192.0.2.61", 7))
                                + b"SINK\nds")
        me = addr_text(local)
        e = plog.find(lambda e: e.get("peer") == me)
        R.check("[::] dual-stack: IPv4 client (::ffff:127.0.0.1) matches 127.0.0.1/32",
                reply.startswith(b"{") and e is not None and e.get("outcome") == "ok", e)
        ok, _ = rejected(port, v1_header(("192.0.2.62", 6), ("192.0.2.63", 7)), host="::1")
        e = plog.find(lambda e: e.get("outcome") == "untrusted")
        R.check("[::] dual-stack: ::1 is not in 127.0.0.1/32 -> untrusted",
                ok and e is not None and e.get("peer", "").startswith("[::1]:"), e)
        self.procs.stop(p)

    def test_max_conns(self):
        _, pg, log = self.ppproxy("pg", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                         "--trusted", "127.0.0.1", "--max-conns", "3",
                                         "--workers", "2", "--timeout", "5000"])
        held = []
        for i in range(3):
            s = connect(pg)
            s.sendall(v1_header(("192.0.2.70", 7000 + i), ("192.0.2.71", 1)) + b"HOLD\n")
            held.append(s)
        echoed = all(s.recv(5) == b"HOLD\n" for s in held)
        ok, took = rejected(pg, v1_header(("192.0.2.70", 7100), ("192.0.2.71", 1))
                            + b"HOLD\n")
        e = log.find(lambda e: e.get("outcome") == "max_conns")
        R.check("--max-conns 3: 4th connection closed at once (%.3f s), logged" % took,
                echoed and ok and took < 1.0 and e is not None, e)
        held[0].shutdown(socket.SHUT_WR)
        read_all(held[0])
        held[0].close()
        log.find(lambda e: e.get("client") == "192.0.2.70:7000")
        reply, _ = exchange(pg, v1_header(("192.0.2.70", 7101), ("192.0.2.71", 1))
                            + b"ECHO\nagain")
        R.check("--max-conns: a slot freed by a closed connection is used again",
                reply == b"ECHO\nagain", reply)
        for s in held[1:]:
            s.close()

    async def _one(self, port, i, results, big):
        src = ("10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), 1024 + i % 60000)
        if i % 3 == 0:
            hdr = v1_header(src, ("10.255.0.1", 443))
        else:
            hdr = v2_header(src, ("10.255.0.1", 443), crc=(i % 3 == 2),
                            tlvs=tlv(2, b"host%d.example" % i))
        payload = b"ECHO\n" + os.urandom(random.randint(1, big))
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        w.write(hdr + payload)
        await w.drain()
        w.write_eof()
        got = bytearray()
        while True:
            d = await r.read(1 << 16)
            if not d:
                break
            got += d
        w.close()
        results[i] = ("%s:%d" % src, sha(payload), len(payload), sha(bytes(got)))

    async def _many(self, port, n, big):
        results = {}
        await asyncio.wait_for(asyncio.gather(*(self._one(port, i, results, big)
                                                for i in range(n))), 180)
        return results

    def many_connections(self, port, n, big, label, rec):
        t0 = time.monotonic()
        try:
            results = asyncio.run(self._many(port, n, big))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            R.check(label, False, repr(e))
            return
        took = time.monotonic() - t0
        echo_ok = sum(1 for (_, s, _, g) in results.values() if s == g)
        records = {r["proxy"]["src"]: r for r in rec.all() if r.get("proxy")}
        seen_ok = sum(1 for (src, s, n_, _) in results.values()
                      if src in records and records[src]["sha256"] == s
                      and records[src]["len"] == n_)
        R.check("%s: %d/%d echoed intact, %d/%d recorded intact upstream (%.1f s)"
                % (label, echo_ok, n, seen_ok, n, took),
                len(results) == n and echo_ok == n and seen_ok == n)

    def test_concurrency(self):
        old = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (old[1], old[1]))
        self.many_connections(self.pa_port, 1000, 65536,
                              "1000 concurrent connections through ppproxy (splice)", self.rec)
        _, ph, _ = self.ppproxy("ph", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                       "--trusted", "127.0.0.1", "--send-proxy", "v2",
                                       "--timeout", "5000", "--workers", "2"],
                                env={"PPPROXY_NO_SPLICE": "1"})
        sink2, rec2 = self.start_sink("sink2")
        _, ph2, _ = self.ppproxy("ph2", ["--upstream", "127.0.0.1:%d" % sink2,
                                         "--trusted", "127.0.0.1", "--send-proxy", "v2",
                                         "--timeout", "5000", "--workers", "2"],
                                 env={"PPPROXY_NO_SPLICE": "1"})
        self.many_connections(ph2, 300, 200000,
                              "300 concurrent connections, read/write relay", rec2)
        self.bulk(ph, 64 << 20, 32 << 20, "read/write relay")

    def bulk(self, port, up_bytes, down_bytes, label):
        block = os.urandom(1 << 20)
        hdr = v2_header(("192.0.2.80", 8000), ("192.0.2.81", 80))
        s = connect(port, timeout=120)
        h = hashlib.sha256(b"SINK\n")
        s.sendall(hdr + b"SINK\n")
        t0 = time.monotonic()
        left = up_bytes
        while left > 0:
            chunk = block if left >= len(block) else block[:left]
            s.sendall(chunk)
            h.update(chunk)
            left -= len(chunk)
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
        took = time.monotonic() - t0
        s.close()
        ans = json.loads(reply) if reply.startswith(b"{") else {}
        R.check("%s: %d MiB up, SHA-256 matches at the upstream (%.1f s, %.0f MB/s)"
                % (label, up_bytes >> 20, took, up_bytes / took / 1e6),
                ans.get("len") == up_bytes + 5 and ans.get("sha256") == h.hexdigest(), ans)
        s = connect(port, timeout=120)
        s.sendall(hdr + b"SRC %d 7\n" % down_bytes)
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        h = hashlib.sha256()
        n = 0
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        took = time.monotonic() - t0
        s.close()
        R.check("%s: %d MiB down, SHA-256 matches at the client (%.1f s)"
                % (label, down_bytes >> 20, took),
                n == down_bytes and h.hexdigest() == pptool.pattern_sha(down_bytes, 7), n)

    def test_bulk(self):
        self.bulk(self.pa_port, 1 << 30, 256 << 20, "bulk through ppproxy (splice)")

    def test_max_header(self):
        """--max-proxy-header: longer headers are closed, logged too_long; the
        default is 4096."""
        src, dst = ("192.0.2.80", 8000), ("192.0.2.81", 81)
        big = v2_header(src, dst, tlvs=tlv(0xE0, b"x" * 4200))  # 4231 bytes
        ok, took = rejected(self.pa_port, big + b"hello")
        e = self.pa_log.find(lambda e: e.get("outcome") == "too_long")
        R.check("default --max-proxy-header 4096: a %d-byte header is closed "
                "(%.3f s), logged 'too_long'" % (len(big), took),
                ok and e is not None, e)
        _, pm, log = self.ppproxy("pm", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                         "--trusted", "127.0.0.1", "--workers", "1",
                                         "--max-proxy-header", "200"])
        hdr = v2_header(src, dst, tlvs=tlv(0xE0, b"y" * 170))  # 201 bytes
        ok, took = rejected(pm, hdr + b"hello")
        e = log.find(lambda e: e.get("outcome") == "too_long")
        R.check("--max-proxy-header 200: a 201-byte header is closed, logged "
                "'too_long'", len(hdr) == 201 and ok and e is not None, e)
        hdr = v2_header(src, dst, tlvs=tlv(0xE0, b"y" * 169))  # 200 bytes
        c = connect(pm)
        c.sendall(hdr + b"hello")
        c.shutdown(socket.SHUT_WR)
        reply = read_all(c)
        c.close()
        R.check("--max-proxy-header 200: a 200-byte header is relayed",
                len(hdr) == 200 and reply.startswith(b"{"), reply)

    def test_abort(self):
        """A reset is passed on as a reset, a FIN as a FIN, both ways."""
        import struct
        import threading
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(8)
        lst.settimeout(10)
        up = lst.getsockname()[1]
        _, pr, log = self.ppproxy("pr", ["--upstream", "127.0.0.1:%d" % up,
                                         "--trusted", "127.0.0.1", "--workers", "1"])
        linger0 = struct.pack("ii", 1, 0)

        def upstream_end(conn):
            """Read to the end: 'fin', 'reset', or 'timeout', and the bytes."""
            conn.settimeout(5)
            data = b""
            try:
                while True:
                    d = conn.recv(65536)
                    if not d:
                        return "fin", data
                    data += d
            except ConnectionResetError:
                return "reset", data
            except socket.timeout:
                return "timeout", data

        hdr = v1_header(("192.0.2.70", 7000), ("192.0.2.71", 71))
        # 1. the client resets after its bytes reached the upstream
        c = connect(pr)
        c.sendall(hdr + b"hello")
        u, _ = lst.accept()
        u.settimeout(5)
        first = u.recv(5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        c.close()
        how, rest = upstream_end(u)
        u.close()
        e = log.find(lambda e: e.get("client") == "192.0.2.70:7000")
        R.check("client reset reaches the upstream as a reset (%s), logged "
                "'client_error'" % how,
                first == b"hello" and how == "reset" and e is not None
                and e.get("outcome") == "client_error", (first, how, rest, e))
        # 2. the client half-closes: a FIN, the answer still comes back
        hdr = v1_header(("192.0.2.72", 7002), ("192.0.2.71", 71))
        c = connect(pr)
        c.sendall(hdr + b"hello")
        c.shutdown(socket.SHUT_WR)
        u, _ = lst.accept()
        how, data = upstream_end(u)
        if how == "fin":
            u.sendall(b"bye")
        u.close()
        reply = read_all(c)
        c.close()
        e = log.find(lambda e: e.get("client") == "192.0.2.72:7002")
        R.check("client FIN reaches the upstream as a FIN (%s), the answer "
                "comes back, logged 'ok'" % how,
                how == "fin" and data == b"hello" and reply == b"bye"
                and e is not None and e.get("outcome") == "ok", (how, data, reply, e))
        # 3. the upstream resets: the client gets a reset
        hdr = v1_header(("192.0.2.73", 7003), ("192.0.2.71", 71))
        c = connect(pr)
        c.sendall(hdr + b"hello")
        u, _ = lst.accept()
        u.settimeout(5)
        first = u.recv(5)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        u.close()
        c.settimeout(5)
        try:
            got = c.recv(100)
            how = "fin" if got == b"" else "data"
        except ConnectionResetError:
            how = "reset"
        except socket.timeout:
            how = "timeout"
        c.close()
        e = log.find(lambda e: e.get("client") == "192.0.2.73:7003")
        R.check("upstream reset reaches the client as a reset (%s), logged "
                "'upstream_error'" % how,
                first == b"hello" and how == "reset" and e is not None
                and e.get("outcome") == "upstream_error", (how, e))
        lst.close()

    def test_json_log(self):
        entries = self.pc_log.raw_lines()
        try:
            parsed = [json.loads(l) for l in entries]
            ok = len(parsed) > 5 and all(
                isinstance(p.get("time"), str) and "outcome" in p and "peer" in p
                and isinstance(p.get("duration_ms"), int) for p in parsed)
        except ValueError as e:
            ok, parsed = False, str(e)
        R.check("--log-format json: every line is one JSON object with the fields",
                ok, entries[:3])

    def test_escaping(self):
        """Hostile TLV text is escaped in both log formats."""
        evil = b'a"b\\c\nd\x00e\xff f=g'
        hdr = v2_header(("192.0.2.90", 9000), ("192.0.2.91", 90),
                        tlvs=tlv(2, evil) + tlv(1, b"h2"))
        exchange(self.pa_port, hdr + b"SINK\nx")
        e = self.pa_log.find(lambda e: e.get("client") == "192.0.2.90:9000")
        line = [l for l in self.pa_log.raw_lines() if "192.0.2.90:9000" in l]
        R.check("text log: authority with quotes, newline, NUL, 0xff escaped",
                e is not None and e.get("authority") == evil.decode("latin-1")
                and len(line) == 1 and "\n" not in line[0], line)
        exchange(self.pc_port, hdr + b"x")
        j = self.pc_log.find(lambda e: e.get("client") == "192.0.2.90:9000")
        R.check("json log: same authority round-trips through json.loads",
                j is not None and j.get("authority") == evil.decode("latin-1"), j)

    def test_fd_exhaustion(self):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
        p, port, log = self.ppproxy("pz", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                           "--trusted", "127.0.0.1", "--workers", "1",
                                           "--timeout", "5000"], preexec=limit)
        held = []
        for i in range(30):
            try:
                s = connect(port, timeout=3)
                s.sendall(v1_header(("192.0.2.95", 9500 + i), ("192.0.2.96", 1)) + b"HOLD\n")
                held.append(s)
            except OSError:
                pass
        time.sleep(0.5)

        def cpu():
            f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])
        c0 = cpu()
        time.sleep(1.0)
        used = (cpu() - c0) / os.sysconf("SC_CLK_TCK")
        e = log.find(lambda e: e.get("outcome") in ("no_fd", "upstream_socket",
                                                   "upstream_unreachable", "client_error"))
        R.check("descriptors exhausted (limit 40, 30 clients): no CPU spin (%.2f s CPU in "
                "1 s), turned-away connections logged" % used,
                used < 0.3 and e is not None and p.poll() is None, e)
        for s in held:
            s.close()
        time.sleep(0.5)
        reply, _ = exchange(port, v1_header(("192.0.2.97", 1), ("192.0.2.96", 1))
                            + b"ECHO\nback")
        R.check("after descriptors are free again, connections work", reply == b"ECHO\nback",
                reply)
        self.procs.stop(p)

    def test_fd_leak(self):
        def settled():
            return fd_count(self.pa.pid) == self.pa_fds
        ok = wait_until(settled, 10)
        R.check("no descriptor left open in ppproxy after all tests (%d before, %d after)"
                % (self.pa_fds, fd_count(self.pa.pid)), ok)

    def test_signals(self):
        p, port, log = self.ppproxy("ps", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                           "--trusted", "127.0.0.1", "--workers", "2",
                                           "--timeout", "5000"])
        s = connect(port)
        s.sendall(v1_header(("192.0.2.100", 1), ("192.0.2.101", 1)) + b"ECHO\nfirst")
        first = s.recv(100)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        stopped_listening = wait_until(lambda: not listening(port), 3)
        try:
            connect(port, timeout=1).close()
            refused = False
        except OSError:
            refused = True
        s.sendall(b" second")
        s.shutdown(socket.SHUT_WR)
        rest = read_all(s)
        s.close()
        try:
            rc = p.wait(8)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        R.check("SIGTERM: stops accepting, open connection finishes, exit 0 (%.2f s)" % took,
                first == b"ECHO\nfirst" and stopped_listening and refused
                and rest == b" second" and rc == 0 and took < 4, (first, rest, rc))
        p, port, log = self.ppproxy("ps2", ["--upstream", "127.0.0.1:%d" % self.sink_port,
                                            "--trusted", "127.0.0.1", "--workers", "1",
                                            "--timeout", "5000"])
        s = connect(port)
        s.sendall(v1_header(("192.0.2.102", 1), ("192.0.2.101", 1)) + b"HOLD\n")
        s.recv(100)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        s.settimeout(10)
        try:
            got = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            got = b""
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        s.close()
        e = log.find(lambda e: e.get("outcome") == "shutdown")
        R.check("SIGINT with a connection that stays open: closed after the 5 s grace, "
                "logged 'shutdown', exit 0 (%.2f s)" % took,
                got == b"" and rc == 0 and 4.5 <= took <= 7 and e is not None, (rc, e))

    # -- driver --------------------------------------------------------
    def run(self):
        self.test_cli()
        self.sink_port, self.rec = self.start_sink("sink")
        self.pa, self.pa_port, self.pa_log = self._start_pa()
        self.pa_fds = fd_count(self.pa.pid)
        steps = [self.test_curl, self.start_haproxy_senders, self.test_haproxy_senders,
                 self.test_haproxy_tls, self.test_direct_headers, self.test_send_modes,
                 self.test_rejections, self.test_json_log, self.test_escaping,
                 self.test_timeout_defaults, self.test_upstream_down, self.test_receivers, self.test_dual_stack,
                 self.test_max_conns, self.test_concurrency, self.test_bulk, self.test_abort,
                 self.test_max_header,
                 self.test_fd_exhaustion, self.test_signals, self.test_fd_leak]
        for step in steps:
            t0 = time.monotonic()
            try:
                step()
            except Exception as e:  # noqa: BLE001 - one failed step, go on
                R.check("%s completes" % step.__name__, False, repr(e))
            print("     (%s: %.1f s)" % (step.__name__, time.monotonic() - t0), flush=True)


def main():
    if len(sys.argv) != 2:
        print("usage: proxytest.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if not os.access(os.path.join(build, "examples", "ppproxy", "ppproxy"), os.X_OK):
        print("no ppproxy in %s/examples" % build, file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="pptest.")
    suite = Suite(build, tmp)

    def on_signal(signum, frame):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.run()
    finally:
        suite.procs.stop_all()
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
