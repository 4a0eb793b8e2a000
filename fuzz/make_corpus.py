#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Deterministic: the same files every run (no clock, fixed random seed).
Computes CRC32C itself. Real-peer captures from tests/captures/*.bin are
added to the parse and incremental corpora when they exist.

Usage: python3 fuzz/make_corpus.py [OUT_DIR]   (default: fuzz/corpus)

Input formats (see the harnesses):
  parse        the raw bytes (the harness also reparses them without the
               first byte, with settings taken from that byte)
  incremental  byte 0: low 4 bits = number k of chunk-size bytes (0: feed
  sock         byte by byte), bits 4-5 = flags, bits 6-7 = max_len choice;
               then k bytes (chunk size = byte + 1, used in a cycle); then
               the stream
  roundtrip    structured bytes (header fields, TLVs, options); random seeds
  trust        records: tag byte then its fields (see trust_fuzzer.c)
"""
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def tlv(t, value):
    return bytes([t]) + struct.pack(">H", len(value)) + value


def ssl_tlv(client, verify, subs):
    return tlv(0x20, bytes([client]) + struct.pack(">I", verify) + b"".join(subs))


def v2(cmd, fam, block=b"", tlvs=b"", crc=None, length=None):
    """A v2 header. crc: None (none), 'good' or 'bad' (CRC32C TLV first)."""
    body = block
    crc_at = None
    if crc is not None:
        crc_at = 16 + len(block) + 3
        body += tlv(0x03, b"\x00\x00\x00\x00")
    body += tlvs
    L = len(body) if length is None else length
    h = bytearray(SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", L) + body)
    if crc_at is not None:
        value = crc32c(bytes(h))
        if crc == "bad":
            value ^= 0x1
        h[crc_at:crc_at + 4] = struct.pack(">I", value)
    return bytes(h)


def inet(src, dst, sport, dport):
    return bytes(src) + bytes(dst) + struct.pack(">HH", sport, dport)


def unix(src, dst):
    return src.ljust(108, b"\x00")[:108] + dst.ljust(108, b"\x00")[:108]


IP4A, IP4B = [192, 168, 0, 1], [10, 0, 0, 2]
IP6A = bytes.fromhex("20010db8000000000000000000000001")
IP6B = bytes.fromhex("00000000000000000000ffff7f000001")

SSL_FULL = ssl_tlv(0x07, 0, [
    tlv(0x21, b"TLSv1.3"), tlv(0x22, b"client.example"),
    tlv(0x25, b"RSA2048"), tlv(0x24, b"SHA256"),
    tlv(0x23, b"TLS_AES_128_GCM_SHA256"), tlv(0x26, b"X25519"),
    tlv(0x27, b"rsa_pss_rsae_sha256"), tlv(0x28, bytes(range(64)))])


def parse_seeds():
    s = {}
    # v1, valid
    s["v1-tcp4"] = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    s["v1-tcp4-app-data"] = s["v1-tcp4"] + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    s["v1-tcp4-zero"] = b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"
    s["v1-tcp6"] = b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
    s["v1-tcp6-mapped"] = b"PROXY TCP6 ::ffff:1.2.3.4 ::ffff:5.6.7.8 4000 80\r\n"
    s["v1-tcp6-full"] = (b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                         b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n")
    s["v1-tcp6-longest"] = (b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
                            b"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n")
    s["v1-tcp6-upper"] = b"PROXY TCP6 FE80::A:B 1:2:3:4:5:6:7:8 1 2\r\n"
    s["v1-tcp6-dbl-end"] = b"PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 1 2\r\n"
    s["v1-unknown"] = b"PROXY UNKNOWN\r\n"
    s["v1-unknown-rest"] = b"PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n"
    s["v1-unknown-nul"] = b"PROXY UNKNOWN a\x00b\x00\r\n"
    s["v1-chained"] = s["v1-tcp4"] + b"PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n"
    # v1, invalid
    s["v1-bad-leading-zero"] = b"PROXY TCP4 192.168.0.01 1.2.3.4 1 2\r\n"
    s["v1-bad-short-ip4"] = b"PROXY TCP4 127.1 1.2.3.4 1 2\r\n"
    s["v1-bad-zone"] = b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"
    s["v1-bad-brackets"] = b"PROXY TCP6 [::1] ::1 1 2\r\n"
    s["v1-bad-ip4-in-tcp6"] = b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n"
    s["v1-bad-ip6-in-tcp4"] = b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n"
    s["v1-bad-9-groups"] = b"PROXY TCP6 1:2:3:4:5:6:7:8::1 ::1 1 2\r\n"
    s["v1-bad-port-080"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 080 1\r\n"
    s["v1-bad-port-65536"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"
    s["v1-bad-double-space"] = b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
    s["v1-bad-extra-field"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"
    s["v1-bad-missing-field"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"
    s["v1-bad-lf-only"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"
    s["v1-bad-cr-only"] = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"
    s["v1-bad-family"] = b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"
    s["v1-bad-unknown-lf"] = b"PROXY UNKNOWN a\nb\r\n"
    s["v1-bad-too-long"] = b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n"
    s["v1-bad-separator"] = b"PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n"
    s["v1-prefix"] = b"PROXY TCP4 192.168.0.1 192.1"
    # not PROXY at all
    s["not-http"] = b"POST / HTTP/1.1\r\n\r\n"
    s["not-proxz"] = b"PROXZ TCP4"
    s["not-tls"] = bytes.fromhex("160301020001000200030300")
    s["not-empty"] = b""
    s["not-crlf-only"] = b"\r\n"

    # v2, valid
    s["v2-local-empty"] = v2(0, 0x00)
    s["v2-local-unspec-crc-ssl"] = v2(0, 0x00, tlvs=ssl_tlv(0x01, 0, [tlv(0x21, b"TLSv1.3")]), crc="good")
    s["v2-local-inet-short"] = v2(0, 0x11, block=b"\x01\x02\x03")
    s["v2-local-inet-block"] = v2(0, 0x11, block=inet(IP4A, IP4B, 1, 2), tlvs=tlv(0x01, b"h2"))
    s["v2-inet-stream"] = v2(1, 0x11, inet(IP4A, IP4B, 56324, 443))
    s["v2-inet-dgram"] = v2(1, 0x12, inet(IP4A, IP4B, 53, 53))
    s["v2-inet6-stream"] = v2(1, 0x21, inet(IP6A, IP6B, 1, 2))
    s["v2-inet6-dgram"] = v2(1, 0x22, inet(IP6A, IP6B, 3, 4))
    s["v2-unix-stream"] = v2(1, 0x31, unix(b"/run/src.sock", b"/run/dst.sock"))
    s["v2-unix-dgram"] = v2(1, 0x32, unix(b"\x00abstract", b"/tmp/x"))
    s["v2-unix-no-nul"] = v2(1, 0x31, unix(b"a" * 108, b"b" * 108))
    s["v2-unspec-proxy-tlvs"] = v2(1, 0x00, tlvs=tlv(0x02, b"example.com"))
    s["v2-inet-app-data"] = s["v2-inet-stream"] + b"\x16\x03\x01"
    s["v2-all-tlvs"] = v2(1, 0x11, inet(IP4A, IP4B, 1, 2), crc="good", tlvs=b"".join([
        tlv(0x01, b"h2"), tlv(0x02, b"example.com"), tlv(0x05, b"u" * 128),
        SSL_FULL, tlv(0x30, b"netns0"), tlv(0x04, b"\x00" * 3),
        tlv(0xEA, b"\x01vpce-0123456789abcdef"), tlv(0xEE, b"\x01\x78\x56\x34\x12"),
        tlv(0xE0, struct.pack(">Q", 0x0123456789ABCDEF)), tlv(0xF0, b""),
        tlv(0x04, b"")]))
    s["v2-haproxy-order"] = v2(1, 0x21, inet(IP6A, IP6B, 443, 8443), crc="good", tlvs=b"".join([
        tlv(0x01, b"http/1.1"), tlv(0x02, b"www.example.org"), tlv(0x05, b"\x01" * 16),
        ssl_tlv(0x05, 0, [tlv(0x21, b"TLSv1.2"), tlv(0x22, b"cn"), tlv(0x25, b"RSA2048"),
                          tlv(0x24, b"SHA256"), tlv(0x23, b"ECDHE-RSA-AES128-GCM-SHA256")])]))
    s["v2-ssl-empty-subs"] = v2(1, 0x11, inet(IP4A, IP4B, 1, 2), tlvs=ssl_tlv(0, 0, []))
    s["v2-ssl-dup-subs"] = v2(1, 0x11, inet(IP4A, IP4B, 1, 2), tlvs=ssl_tlv(
        1, 0, [tlv(0x22, b"first"), tlv(0x22, b"second"), tlv(0x99, b"unknown")]))
    s["v2-two-ssl"] = v2(1, 0x00, tlvs=ssl_tlv(1, 1, []) + ssl_tlv(2, 2, [tlv(0x21, b"x")]))
    s["v2-aws-short"] = v2(1, 0x00, tlvs=tlv(0xEA, b"\x01"))
    s["v2-azure-other-subtype"] = v2(1, 0x00, tlvs=tlv(0xEE, b"\x02\x01\x02\x03\x04"))
    s["v2-gcp-7"] = v2(1, 0x00, tlvs=tlv(0xE0, b"1234567"))
    s["v2-chained"] = s["v2-inet-stream"] + s["v2-inet6-stream"]
    # v2, invalid
    s["v2-bad-crc"] = v2(1, 0x11, inet(IP4A, IP4B, 1, 2), tlvs=tlv(0x01, b"h2"), crc="bad")
    s["v2-bad-crc-len"] = v2(1, 0x00, tlvs=tlv(0x03, b"\x00\x00\x00"))
    s["v2-bad-two-crc"] = v2(1, 0x00, tlvs=tlv(0x03, b"\x00" * 4) + tlv(0x03, b"\x00" * 4))
    s["v2-bad-unique-id-129"] = v2(1, 0x00, tlvs=tlv(0x05, b"u" * 129))
    s["v2-bad-ssl-short"] = v2(1, 0x00, tlvs=tlv(0x20, b"\x01\x00\x00\x00"))
    s["v2-bad-ssl-tiling"] = v2(1, 0x00, tlvs=tlv(0x20, b"\x01\x00\x00\x00\x00\x21\x00\x05ab"))
    s["v2-bad-tlv-past-end"] = v2(1, 0x00, tlvs=b"\x01\x00\x10abc")
    s["v2-bad-tlv-1-left"] = v2(1, 0x00, tlvs=tlv(0x01, b"h2") + b"\x00")
    s["v2-bad-tlv-2-left"] = v2(1, 0x00, tlvs=tlv(0x01, b"h2") + b"\x00\x00")
    s["v2-bad-ssl-1-left"] = v2(0, 0x00, tlvs=ssl_tlv(0, 0, []) + b"\x00")
    s["v2-bad-version"] = SIG + b"\x11\x11\x00\x0c" + inet(IP4A, IP4B, 1, 2)
    s["v2-bad-command"] = SIG + b"\x22\x11\x00\x0c" + inet(IP4A, IP4B, 1, 2)
    s["v2-bad-family"] = SIG + b"\x21\x13\x00\x0c" + inet(IP4A, IP4B, 1, 2)
    s["v2-bad-family-local"] = SIG + b"\x20\x40\x00\x00"
    s["v2-bad-addr-len"] = SIG + b"\x21\x21\x00\x0c" + inet(IP4A, IP4B, 1, 2)
    s["v2-bad-sig"] = SIG[:11] + b"\x0b\x21\x11\x00\x0c"
    s["v2-prefix-16"] = s["v2-inet6-stream"][:16]
    s["v2-prefix-sig"] = SIG[:7]
    s["v2-max-len"] = v2(1, 0x00, tlvs=tlv(0x04, b"\x00" * 300))
    return s


def captures():
    out = {}
    d = os.path.join(ROOT, "tests", "captures")
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.endswith(".bin"):
                with open(os.path.join(d, name), "rb") as f:
                    out["capture-" + name[:-4]] = f.read()
    return out


def chunked(seeds):
    """Incremental/sock seeds: each stream byte by byte and in two mixes
    of chunk sizes."""
    out = {}
    for name, data in seeds.items():
        out[name + "-bytewise"] = b"\x00" + data
        out[name + "-chunks-7"] = b"\x01\x06" + data
        out[name + "-chunks-mix"] = b"\x03\x00\x0e\x02" + data
    return out


def roundtrip_seeds(rng):
    s = {}
    for i in range(40):
        n = rng.choice([24, 48, 80, 160, 300, 600])
        s["random-%02d" % i] = bytes(rng.randrange(256) for _ in range(n))
    # Hand-made: each command/family/transport with two TLVs, v1 forms.
    i = 0
    for cmd in (0, 1):
        for fam in range(4):
            for tr in range(3):
                body = bytes([cmd, fam, tr, 0, 0, 0])
                body += bytes(rng.randrange(256) for _ in range(32 + 8))
                body += b"\x02\x01\x02h2\x02\x0bexample.com"
                s["hand-%02d" % i] = body
                i += 1
    return s


def trust_seeds(rng):
    def raw(text):
        return b"\x00" + bytes([len(text)]) + text

    def v4(ip, p, with_prefix=True):
        return bytes([0x01 | (0 if with_prefix else 0x10)]) + bytes(ip) + bytes([p])

    def v6(ip, p, style=0):
        return bytes([0x02 | (style << 4)]) + bytes(ip) + bytes([p])

    def probe(fam, ip):
        return b"\x03" + bytes([fam]) + bytes(ip).ljust(16, b"\x00")

    s = {}
    s["raw-common"] = b"\x0f" + b"".join(raw(t) for t in [
        b"10.0.0.0/8", b"192.0.2.7", b"2001:db8::/32", b"::1/128", b"0.0.0.0/0",
        b"172.16.0.0/12", b"::ffff:0:0/96", b"fe80::/10"]) + probe(1, [10, 1, 2, 3])
    s["raw-bad"] = b"\x0f" + b"".join(raw(t) for t in [
        b"10.0.0.0/33", b"10.0.0.0/", b"/8", b"10.0.0.0/08", b"10.0.0/8", b"::1/129",
        b"1.2.3.4 ", b" 1.2.3.4", b"1.2.3.4/8/8", b"::1%lo", b"[::1]", b"1.2.3.04",
        b"10.0.0.0/-1", b"10.0.0.0/+8", b""])
    s["raw-host-bits"] = b"\x03" + raw(b"10.1.2.3/8") + raw(b"2001:db8::1/32") + probe(1, [10, 9, 9, 9])
    s["full-table"] = b"\x01" + raw(b"1.2.3.4") + raw(b"5.6.7.8") + raw(b"::/0")
    s["format-mix"] = b"\x0a" + v4([192, 168, 1, 0], 24) + v4([10, 0, 0, 1], 32, False) \
        + v6(IP6A, 64) + v6(IP6B, 120, 1) + v6(bytes(16), 0, 2) + b"\xff" \
        + probe(1, [192, 168, 1, 200]) + probe(2, IP6B) + probe(2, IP6A)
    for i in range(20):
        n = rng.choice([30, 60, 120, 240])
        s["random-%02d" % i] = bytes(rng.randrange(256) for _ in range(n))
    return s


def write_dir(path, seeds):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    rng = random.Random(20240505)
    parse = parse_seeds()
    parse.update(captures())
    regressions = {}
    reg_dir = os.path.join(HERE, "regressions")
    if os.path.isdir(reg_dir):
        # Inputs that once crashed a target: <target>-<name> files.
        for name in sorted(os.listdir(reg_dir)):
            with open(os.path.join(reg_dir, name), "rb") as f:
                regressions[name] = f.read()

    def with_regressions(target, seeds):
        for name, data in regressions.items():
            if name.startswith(target + "-"):
                seeds["regression-" + name[len(target) + 1:]] = data
        return seeds

    write_dir(os.path.join(out, "parse"), with_regressions("parse", dict(parse)))
    write_dir(os.path.join(out, "incremental"),
              with_regressions("incremental", chunked(parse)))
    small = {k: v for k, v in parse.items() if len(v) <= 4096}
    sock = {k: v for k, v in chunked(small).items() if "-chunks-mix" in k or "-chunks-7" in k}
    write_dir(os.path.join(out, "sock"), with_regressions("sock", sock))
    write_dir(os.path.join(out, "roundtrip"), with_regressions("roundtrip", roundtrip_seeds(rng)))
    write_dir(os.path.join(out, "trust"), with_regressions("trust", trust_seeds(rng)))


if __name__ == "__main__":
    main()
