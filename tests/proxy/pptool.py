#!/usr/bin/env python3
"""Test helpers for ppproxy, independent of pphdr: a PROXY header encoder
and decoder written from the specification, and an upstream sink server.

    pptool.py sink --port P --records FILE [--host 127.0.0.1]

The sink accepts connections, takes a PROXY header if one is there (v1 or
v2, decoded and CRC32C-checked here), then looks at the application bytes:
    "GET " ...       HTTP request: answers 200 with the record as JSON
    "ECHO\\n" ...     echoes every byte back, half-closes after the client did
    "SRC n seed\\n"   sends n bytes of pattern(seed), then closes
    "HOLD\\n" ...     like ECHO (kept for readability of tests)
    anything else    reads to end of stream, answers one JSON line
                     {"len": n, "sha256": hex} (the record) and closes
and appends one JSON record per connection to FILE:
    {"peer": "ip:port", "proxy": null | {...}, "len": n, "sha256": hex,
     "head": first bytes (latin-1)}
"len"/"sha256" cover every application byte received after the header.
"""
import argparse
import asyncio
import hashlib
import ipaddress
import json
import os
import random
import socket
import struct
import sys

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"

# ----------------------------------------------------------------------
# CRC32C (Castagnoli), reflected polynomial 0x82F63B78.
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# ----------------------------------------------------------------------
# Encoding


def v1_header(src, dst):
    """src/dst: (ip text, port). Family from the address text."""
    fam = "TCP6" if ":" in src[0] else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src[0], dst[0], src[1], dst[1])).encode()


def tlv(t, value):
    return struct.pack("!BH", t, len(value)) + value


def v2_header(src=None, dst=None, tlvs=b"", command=1, crc=False):
    """A v2 header; src/dst None gives family UNSPEC, bytes give UNIX paths,
    (ip, port) INET or INET6. tlvs: encoded TLV bytes. crc: add a CRC32C
    TLV first and fill it in."""
    if src is None:
        fam, block = 0x00, b""
    elif isinstance(src, bytes):
        fam, block = 0x31, src.ljust(108, b"\0") + dst.ljust(108, b"\0")
    elif ":" in src[0]:
        fam = 0x21
        block = (ipaddress.IPv6Address(src[0]).packed +
                 ipaddress.IPv6Address(dst[0]).packed +
                 struct.pack("!HH", src[1], dst[1]))
    else:
        fam = 0x11
        block = (ipaddress.IPv4Address(src[0]).packed +
                 ipaddress.IPv4Address(dst[0]).packed +
                 struct.pack("!HH", src[1], dst[1]))
    if crc:
        tlvs = tlv(0x03, b"\0\0\0\0") + tlvs
    body = block + tlvs
    hdr = bytearray(V2_SIG + bytes([0x20 | command, fam]) +
                    struct.pack("!H", len(body)) + body)
    if crc:
        at = 16 + len(block) + 3
        hdr[at:at + 4] = struct.pack("!I", crc32c(bytes(hdr)))
    return bytes(hdr)


# ----------------------------------------------------------------------
# Decoding (strict enough for tests: what ppproxy sends must decode).


class HeaderError(Exception):
    pass


def parse_tlvs(data):
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 3:
            raise HeaderError("tlv truncated")
        t, n = struct.unpack("!BH", data[i:i + 3])
        if i + 3 + n > len(data):
            raise HeaderError("tlv runs past the header")
        out.append((t, data[i + 3:i + 3 + n]))
        i += 3 + n
    return out


def decode_v2(hdr):
    ver_cmd, fam, length = hdr[12], hdr[13], struct.unpack("!H", hdr[14:16])[0]
    if ver_cmd >> 4 != 2 or (ver_cmd & 15) > 1:
        raise HeaderError("bad version/command")
    body = hdr[16:16 + length]
    rec = {"version": 2, "command": "PROXY" if ver_cmd & 15 else "LOCAL",
           "family": fam, "len": len(hdr)}
    block = {0x00: 0, 0x11: 12, 0x12: 12, 0x21: 36, 0x22: 36,
             0x31: 216, 0x32: 216}.get(fam)
    if block is None:
        raise HeaderError("bad family")
    if fam in (0x11, 0x12):
        rec["src"] = "%s:%d" % (ipaddress.IPv4Address(body[0:4]),
                                struct.unpack("!H", body[8:10])[0])
        rec["dst"] = "%s:%d" % (ipaddress.IPv4Address(body[4:8]),
                                struct.unpack("!H", body[10:12])[0])
    elif fam in (0x31, 0x32):
        rec["src"] = "unix:" + body[0:108].split(b"\0")[0].decode("latin-1")
        rec["dst"] = "unix:" + body[108:216].split(b"\0")[0].decode("latin-1")
    elif fam in (0x21, 0x22):
        rec["src"] = "[%s]:%d" % (ipaddress.IPv6Address(body[0:16]),
                                  struct.unpack("!H", body[32:34])[0])
        rec["dst"] = "[%s]:%d" % (ipaddress.IPv6Address(body[16:32]),
                                  struct.unpack("!H", body[34:36])[0])
    tlvs = parse_tlvs(body[block:])
    rec["tlvs"] = [[t, v.hex()] for t, v in tlvs]
    crcs = [(i, v) for i, (t, v) in enumerate(tlvs) if t == 0x03]
    if crcs:
        # locate the CRC value in the header and check it
        off = 16 + block
        for t, v in tlvs:
            if t == 0x03:
                break
            off += 3 + len(v)
        zeroed = bytearray(hdr)
        zeroed[off + 3:off + 7] = b"\0\0\0\0"
        rec["crc_ok"] = crc32c(bytes(zeroed)) == struct.unpack("!I", crcs[0][1])[0]
    return rec


def decode_v1(line):
    parts = line[:-2].decode("ascii").split(" ")
    if parts[1] == "UNKNOWN":
        return {"version": 1, "command": "UNKNOWN", "len": len(line),
                "raw": line.decode("latin-1")}
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise HeaderError("bad v1 line %r" % line)
    fmt = "[%s]:%s" if parts[1] == "TCP6" else "%s:%s"
    return {"version": 1, "command": "PROXY", "family": parts[1],
            "src": fmt % (parts[2], parts[4]), "dst": fmt % (parts[3], parts[5]),
            "len": len(line), "raw": line.decode("ascii")}


async def read_header(reader):
    """Returns (record or None, first application bytes already read)."""
    first = await reader.read(1)
    if first == b"P":
        line = first + await reader.readuntil(b"\r\n")
        if len(line) > 107 or not line.startswith(b"PROXY "):
            raise HeaderError("bad v1")
        return decode_v1(line), b""
    if first == b"\r":
        fixed = first + await reader.readexactly(15)
        if fixed[:12] != V2_SIG:
            raise HeaderError("bad v2 signature")
        length = struct.unpack("!H", fixed[14:16])[0]
        hdr = fixed + await reader.readexactly(length)
        return decode_v2(hdr), b""
    return None, first


# ----------------------------------------------------------------------
# Payload pattern for SRC


def pattern_block(seed):
    return random.Random(seed).randbytes(1 << 20)


def pattern_sha(n, seed):
    block = pattern_block(seed)
    h = hashlib.sha256()
    left = n
    while left > 0:
        h.update(block[:min(left, len(block))])
        left -= len(block)
    return h.hexdigest()


# ----------------------------------------------------------------------
# Sink


class Sink:
    def __init__(self, records):
        self.records = open(records, "a", buffering=1)

    def record(self, rec):
        self.records.write(json.dumps(rec) + "\n")

    async def handle(self, reader, writer):
        peer = writer.get_extra_info("peername")
        rec = {"peer": "%s:%d" % (peer[0], peer[1]) if ":" not in peer[0]
               else "[%s]:%d" % (peer[0], peer[1]),
               "proxy": None, "len": 0, "sha256": None, "head": ""}
        h = hashlib.sha256()
        total = 0
        try:
            try:
                rec["proxy"], data = await read_header(reader)
            except HeaderError as e:
                rec["error"] = str(e)
                return
            # first line or first 4 bytes decide the mode
            while len(data) < 4 and b"\n" not in data:
                more = await reader.read(65536)
                if not more:
                    break
                data += more
            rec["head"] = data[:64].decode("latin-1")
            h.update(data)
            total += len(data)
            if data.startswith(b"GET "):
                while b"\r\n\r\n" not in data:
                    more = await reader.read(65536)
                    if not more:
                        break
                    data += more
                    h.update(more)
                    total += len(more)
                rec["len"], rec["sha256"] = total, h.hexdigest()
                body = json.dumps(rec).encode() + b"\n"
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                             % len(body) + body)
                await writer.drain()
            elif data.startswith(b"SRC "):
                while b"\n" not in data:
                    more = await reader.read(65536)
                    if not more:
                        break
                    data += more
                _, n, seed = data.split(b"\n")[0].split(b" ")
                n, block = int(n), pattern_block(int(seed))
                left = n
                while left > 0:
                    writer.write(block[:min(left, len(block))])
                    left -= len(block)
                    await writer.drain()
                rec["sent"] = n
            elif data.startswith(b"ECHO\n") or data.startswith(b"HOLD\n"):
                writer.write(data)
                while True:
                    more = await reader.read(1 << 20)
                    if not more:
                        break
                    h.update(more)
                    total += len(more)
                    writer.write(more)
                    await writer.drain()
                writer.write_eof()
                await writer.drain()
            else:
                while True:
                    more = await reader.read(1 << 20)
                    if not more:
                        break
                    h.update(more)
                    total += len(more)
                rec["len"], rec["sha256"] = total, h.hexdigest()
                writer.write(json.dumps({"len": total, "sha256": rec["sha256"]}).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            rec["error"] = type(e).__name__
        finally:
            rec["len"], rec["sha256"] = total, h.hexdigest()
            self.record(rec)
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


async def serve(args):
    sink = Sink(args.records)
    server = await asyncio.start_server(sink.handle, args.host, args.port,
                                        backlog=4096, limit=1 << 20)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--records", required=True)
    args = ap.parse_args()
    if args.cmd == "sink":
        try:
            asyncio.run(serve(args))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
