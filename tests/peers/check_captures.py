#!/usr/bin/env python3
"""Check pphdr's parser (through ppdump) on headers sent by real peers.

    check_captures.py BUILD_DIR CAPDIR [--save DEST] [--ppdump PATH]

CAPDIR is either
  - the output of capture.sh (live mode): cases.list names the cases tried;
    for each, NAME.bin (the bytes received), NAME.peer.json (the addresses
    the listener saw), NAME.meta.json (what the header must say) and
    NAME.trace (curl --trace of what the client sent) or NAME.payload; or
  - a directory with expected.json (replay mode, e.g. tests/captures): one
    entry per capture file with the same expectations and the application
    bytes inline as hex, so the checks run without any peer installed.

Each capture is decoded with BUILD_DIR/examples/ppdump FILE and checked
against what the sender side knows: version, command, family, the client's
real address and port, the address and port it connected to, the bytes
after the header (exactly what the client sent), the TLVs (their list
against an independent walk of the raw bytes, CRC32C recomputed here,
UNIQUE_ID, ALPN, AUTHORITY = SNI, SSL with the client certificate's CN).
Then the parser's incremental contract is checked on the same real bytes:
every prefix of the header is "incomplete" (with the right "need" once a v2
length is known), and a header whose CRC32C no longer matches is refused.

--save DEST (live mode) copies the capture files of the cases that passed
to DEST and writes DEST/expected.json for replay mode.

Prints one line per case and ends with "captures: N passed, M failed";
exit status 1 if any case failed.
"""
import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
ADDR_BLOCK = {0x00: 0, 0x11: 12, 0x12: 12, 0x21: 36, 0x22: 36,
              0x31: 216, 0x32: 216}
TLV_CRC32C, TLV_UNIQUE_ID, TLV_SSL = 0x03, 0x05, 0x20
SSL_SUB_NAMES = {0x21: "version", 0x22: "cn", 0x23: "cipher",
                 0x24: "sig_alg", 0x25: "key_alg"}
# Keys of a meta entry kept in expected.json (besides file and app_hex).
MANIFEST_KEYS = ("name", "peer", "how", "version", "command", "family",
                 "src", "sport", "dst", "dport", "tlv_types", "crc32c",
                 "unique_id", "alpn", "authority", "ssl_client",
                 "ssl_verify", "ssl_cn", "ssl_version", "ssl_cipher",
                 "ssl_key_alg", "ssl_sig_alg")


# --- independent decoding of the raw bytes --------------------------------

def crc32c(data):
    """CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: slow, small."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def header_len(data):
    """The header length from the framing alone (v1 CRLF, v2 length)."""
    if data.startswith(V2_SIG) and len(data) >= 16:
        return 16 + int.from_bytes(data[14:16], "big")
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        return end + 2 if end >= 0 else None
    return None


def walk_tlvs(block):
    """[(type, value_bytes, offset_of_value)] of a TLV block, or None."""
    out, pos = [], 0
    while pos < len(block):
        if pos + 3 > len(block):
            return None
        t, n = block[pos], int.from_bytes(block[pos + 1:pos + 3], "big")
        if pos + 3 + n > len(block):
            return None
        out.append((t, block[pos + 3:pos + 3 + n], pos + 3))
        pos += 3 + n
    return out


def v2_tlv_start(data):
    return 16 + ADDR_BLOCK.get(data[13], 0)


# --- expectations -----------------------------------------------------------

def curl_trace_sent(path):
    """The bytes curl says it sent ("=> Send header/data" in --trace)."""
    sent, taking = bytearray(), False
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("=> Send header") or \
               line.startswith("=> Send data"):
                taking = True
            elif line.startswith(("=>", "<=", "==")):
                taking = False
            elif taking and len(line) > 6 and line[4:6] == ": ":
                sent += bytes.fromhex(line[6:6 + 48])
    return bytes(sent)


def load_live(capdir):
    """Cases from capture.sh output: [(name, meta or None, error)]."""
    names = []
    listing = os.path.join(capdir, "cases.list")
    if os.path.exists(listing):
        with open(listing) as f:
            names = [n.strip() for n in f if n.strip()]
    cases = []
    for name in dict.fromkeys(names):
        base = os.path.join(capdir, name)
        try:
            with open(base + ".meta.json") as f:
                meta = json.load(f)
            with open(base + ".peer.json") as f:
                meta["conn"] = json.load(f)
            app = meta.get("app")
            if app == "trace":
                meta["app_bytes"] = curl_trace_sent(base + ".trace")
            elif app == "payload":
                with open(base + ".payload", "rb") as f:
                    meta["app_bytes"] = f.read()
            elif app == "empty":
                meta["app_bytes"] = b""
            else:
                raise ValueError("meta has no app source")
            if meta.get("addresses") == "connection":
                c = meta["conn"]
                meta.update(src=c["peer"][0], sport=c["peer"][1],
                            dst=c["local"][0], dport=c["local"][1])
            meta["file"] = base + ".bin"
            cases.append((name, meta, None))
        except (OSError, ValueError) as e:
            cases.append((name, None, "capture incomplete: %s" % e))
    return cases


def load_manifest(capdir):
    with open(os.path.join(capdir, "expected.json")) as f:
        manifest = json.load(f)
    cases = []
    for entry in manifest["captures"]:
        meta = dict(entry)
        meta["file"] = os.path.join(capdir, entry["file"])
        meta["app_bytes"] = bytes.fromhex(entry["app_hex"])
        cases.append((entry["name"], meta, None))
    return cases


# --- running ppdump ---------------------------------------------------------

class Ppdump:
    def __init__(self, path):
        self.path = path

    def run(self, data):
        """(exit status, parsed JSON or None) for the bytes given."""
        p = subprocess.run([self.path], input=data, capture_output=True,
                           timeout=20)
        try:
            out = json.loads(p.stdout.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            out = None
        return p.returncode, out

    def run_file(self, path):
        p = subprocess.run([self.path, path], capture_output=True,
                           timeout=20)
        try:
            out = json.loads(p.stdout.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            out = None
        return p.returncode, out


# --- the checks -------------------------------------------------------------

class Case:
    def __init__(self, name, meta, ppdump):
        self.name, self.m, self.pp = name, meta, ppdump
        self.errors = []

    def expect(self, cond, what, expected=None, got=None):
        if not cond:
            msg = what
            if expected is not None or got is not None:
                msg += " (expected %r, got %r)" % (expected, got)
            self.errors.append(msg)
        return cond

    def check(self):
        m = self.m
        with open(m["file"], "rb") as f:
            data = f.read()
        self.data = data
        rc, out = self.pp.run_file(m["file"])
        if not self.expect(out is not None, "ppdump printed no JSON",
                           None, rc):
            return
        self.out = out
        if not self.expect(out.get("result") == "ok" and rc == 0,
                           "ppdump result", "ok", out):
            return
        consumed = out["consumed"]
        self.expect(consumed == header_len(data),
                    "consumed vs the framing of the raw bytes",
                    header_len(data), consumed)
        for key in ("version", "command", "family"):
            self.expect(out.get(key) == m[key], key, m[key], out.get(key))
        self.check_addresses(out)
        self.check_app(data[consumed:], m["app_bytes"])
        self.check_tlvs(out, data[:consumed])
        if "log_sport" in m:
            self.expect(m["log_sport"] == m.get("sport"),
                        "setup: the proxy logged the client port we used",
                        m.get("sport"), m["log_sport"])
        self.check_prefixes(data, consumed)
        if m.get("crc32c"):
            self.check_crc_mutations(data, consumed)

    def check_app(self, got, want):
        """The bytes after the header are exactly what the client sent."""
        if got == want:
            return
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                  min(len(got), len(want)))
        self.expect(False, "bytes after the header = what the client sent: "
                    "%d vs %d bytes, first difference at offset %d"
                    % (len(want), len(got), at),
                    want[max(0, at - 8):at + 24], got[max(0, at - 8):at + 24])

    def check_addresses(self, out):
        m = self.m
        if "src" not in m:
            self.expect("src" not in out and "dst" not in out,
                        "no addresses reported for %s %s" %
                        (m["command"], m["family"]), None,
                        (out.get("src"), out.get("dst")))
            return
        for side, port in (("src", "sport"), ("dst", "dport")):
            want, got = m[side], out.get(side)
            try:
                same = ipaddress.ip_address(want) == \
                    ipaddress.ip_address(got)
            except ValueError:
                same = False
            self.expect(same, side, want, got)
            self.expect(out.get(port) == m[port], port, m[port],
                        out.get(port))

    def check_tlvs(self, out, header):
        m = self.m
        tlvs = out.get("tlvs", [])
        if m["version"] == 1:
            self.expect(tlvs == [], "v1 has no TLVs", [], tlvs)
            return
        walked = walk_tlvs(header[v2_tlv_start(header):])
        if not self.expect(walked is not None,
                           "raw TLV block tiles the header"):
            return
        self.expect([(t["type"], t["hex"]) for t in tlvs] ==
                    [(t, v.hex()) for t, v, _ in walked],
                    "ppdump TLV list = independent walk of the raw bytes",
                    [(t, v.hex()) for t, v, _ in walked],
                    [(t["type"], t["hex"]) for t in tlvs])
        if "tlv_types" in m:
            self.expect([t for t, _, _ in walked] == m["tlv_types"],
                        "TLV types in wire order", m["tlv_types"],
                        [t for t, _, _ in walked])
        by_type = {}
        for t in tlvs:
            by_type.setdefault(t["type"], t)
        crc = [v for t, v, _ in walked if t == TLV_CRC32C]
        if m.get("crc32c"):
            if self.expect(len(crc) == 1, "one CRC32C TLV", 1, len(crc)):
                at = next(v2_tlv_start(header) + off
                          for t, _, off in walked if t == TLV_CRC32C)
                zeroed = header[:at] + b"\0\0\0\0" + header[at + 4:]
                self.expect(crc32c(zeroed) == int.from_bytes(crc[0], "big"),
                            "CRC32C recomputed here matches the wire",
                            "%08x" % crc32c(zeroed), crc[0].hex())
        else:
            self.expect(not crc, "no CRC32C TLV", [], crc)
        if "unique_id" in m:
            t = by_type.get(TLV_UNIQUE_ID)
            got = bytes.fromhex(t["hex"]).decode("latin-1") if t else None
            self.expect(got == m["unique_id"], "UNIQUE_ID", m["unique_id"],
                        got)
        for key, typ in (("alpn", 0x01), ("authority", 0x02)):
            if key in m:
                t = by_type.get(typ) or {}
                self.expect(t.get("text") == m[key], key.upper() + " text",
                            m[key], t.get("text"))
        if any(k.startswith("ssl_") for k in m):
            self.check_ssl(by_type.get(TLV_SSL))

    def check_ssl(self, t):
        m = self.m
        if not self.expect(t is not None, "SSL TLV present"):
            return
        raw = bytes.fromhex(t["hex"])
        self.expect(t.get("client") == raw[0] and
                    t.get("verify") == int.from_bytes(raw[1:5], "big"),
                    "SSL client/verify = raw bytes",
                    (raw[0], raw[1:5].hex()),
                    (t.get("client"), t.get("verify")))
        if "ssl_client" in m:
            self.expect(t.get("client") == int(m["ssl_client"]),
                        "SSL client bits", int(m["ssl_client"]),
                        t.get("client"))
        if "ssl_verify" in m:
            self.expect(t.get("verify") == int(m["ssl_verify"]),
                        "SSL verify", int(m["ssl_verify"]), t.get("verify"))
        walked = walk_tlvs(raw[5:])
        sub = t.get("sub", [])
        self.expect(walked is not None and
                    [(s["type"], s["hex"]) for s in sub] ==
                    [(st, v.hex()) for st, v, _ in walked],
                    "SSL sub-TLVs = independent walk",
                    walked and [(st, v.hex()) for st, v, _ in walked],
                    [(s["type"], s["hex"]) for s in sub])
        texts = {}
        for s in sub:
            key = SSL_SUB_NAMES.get(s["type"])
            if key and key not in texts:
                texts[key] = bytes.fromhex(s["hex"]).decode("latin-1")
        for key in ("cn", "version", "cipher", "key_alg", "sig_alg"):
            if "ssl_" + key in m:
                self.expect(texts.get(key) == m["ssl_" + key],
                            "SSL " + key, m["ssl_" + key], texts.get(key))

    def check_prefixes(self, data, consumed):
        """Real bytes cut anywhere inside the header: incomplete."""
        cuts = {0, 1, 2, 5, 6, 11, 12, 13, 15, 16, 17, 27, 28,
                consumed // 2, consumed - 3, consumed - 2, consumed - 1}
        for k in sorted(c for c in cuts if 0 <= c < consumed):
            rc, out = self.pp.run(data[:k])
            ok = out is not None and out.get("result") == "incomplete" \
                and rc == 2
            if ok and self.m["version"] == 2 and k >= 16:
                ok = out.get("need") == consumed - k
            if not self.expect(ok, "prefix of %d bytes is incomplete" % k,
                               "incomplete", out):
                return

    def check_crc_mutations(self, data, consumed):
        """A changed byte under the CRC32C is refused; after it is not."""
        header = bytearray(data[:consumed])
        walked = walk_tlvs(bytes(header[v2_tlv_start(header):]))
        if not walked:
            return
        base = v2_tlv_start(header)
        spots = {"CRC32C value": next(base + off for t, _, off in walked
                                      if t == TLV_CRC32C)}
        last_t, last_v, last_off = walked[-1]
        if last_v:
            spots["last TLV's last value byte"] = base + last_off + \
                len(last_v) - 1
        if base > 16:
            spots["first address byte"] = 16
        for what, at in spots.items():
            bad = bytearray(data)
            bad[at] ^= 0x01
            rc, out = self.pp.run(bytes(bad))
            self.expect(out is not None and
                        out.get("error") == "crc32c_mismatch" and rc == 1,
                        "flipped bit in %s: crc32c_mismatch" % what,
                        "crc32c_mismatch", out)
        if len(data) > consumed:
            bad = bytearray(data)
            bad[-1] ^= 0x01
            rc, out = self.pp.run(bytes(bad))
            self.expect(out is not None and out.get("result") == "ok" and
                        out.get("consumed") == consumed,
                        "changed application byte: still ok", "ok", out)


def save(cases, dest):
    os.makedirs(dest, exist_ok=True)
    entries = []
    for name, meta in cases:
        fname = name + ".bin"
        shutil.copyfile(meta["file"], os.path.join(dest, fname))
        e = {k: meta[k] for k in MANIFEST_KEYS if k in meta}
        for k in ("version", "sport", "dport"):
            if k in e:
                e[k] = int(e[k])
        if "crc32c" in e:
            e["crc32c"] = bool(int(e["crc32c"]))
        e["file"] = fname
        e["app_hex"] = meta["app_bytes"].hex()
        entries.append(e)
    with open(os.path.join(dest, "expected.json"), "w") as f:
        json.dump({"comment": "written by tests/peers/check_captures.py "
                   "--save; see README.md", "captures": entries}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(
        description="check ppdump on PROXY headers sent by real peers")
    ap.add_argument("build_dir")
    ap.add_argument("capdir")
    ap.add_argument("--save", metavar="DEST")
    ap.add_argument("--ppdump", metavar="PATH",
                    help="ppdump to run (default BUILD_DIR/examples/ppdump)")
    args = ap.parse_args()

    ppdump = args.ppdump or os.path.join(args.build_dir, "examples", "ppdump")
    if not os.access(ppdump, os.X_OK):
        print("captures: no ppdump at %s" % ppdump)
        print("captures: 0 passed, 1 failed")
        return 1
    replay = os.path.exists(os.path.join(args.capdir, "expected.json"))
    cases = load_manifest(args.capdir) if replay else load_live(args.capdir)
    if not cases:
        print("captures: no cases in %s" % args.capdir)
        print("captures: 0 passed, 1 failed")
        return 1

    passed, failed, good = 0, 0, []
    pp = Ppdump(ppdump)
    for name, meta, error in cases:
        if meta is None:
            errors = [error]
        else:
            c = Case(name, meta, pp)
            try:
                c.check()
            except (OSError, ValueError, KeyError,
                    subprocess.SubprocessError) as e:
                c.errors.append("check aborted: %r" % e)
            errors = c.errors
        if errors:
            failed += 1
            print("FAIL %s" % name)
            for e in errors:
                print("     %s" % e)
        else:
            passed += 1
            good.append((name, meta))
            print("ok   %s" % name)
    if args.save and not replay:
        save(good, args.save)
        print("captures: saved %d cases to %s" % (len(good), args.save))
    print("captures: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
