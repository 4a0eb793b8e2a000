#!/bin/bash
# ppdump_test.sh PPDUMP - run the ppdump example on a table of inputs and
# check the exact JSON line, the exit status and that standard error stays
# quiet; every JSON line is also validated with python3 -m json.tool.
#
# Error lines are checked exactly except for the "message" text, which
# belongs to pp_strerror(): it must be a non-empty JSON string.
set -eu

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/ppdump" >&2
    exit 2
fi
PPDUMP=$1

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0

# ---------------------------------------------------------------------------
# Input builders (hex strings)
# ---------------------------------------------------------------------------
SIG=0d0a0d0a000d0a515549540a

# the arguments concatenated (hex pieces written apart for readability)
cat_hex() { local IFS=; printf '%s' "$*"; }
# hex of ASCII text
hexof() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
# N bytes of value B (hex byte)
rep() { [ "$2" -eq 0 ] || printf "%${2}s" '' | sed "s/ /$1/g"; }
# a TLV: type (2 hex digits) and value (hex); the length is computed
tlv() { printf '%s%04x%s' "$1" $((${#2} / 2)) "$2"; }
# a v2 header: version/command byte, family byte, payload (hex)
v2() { printf '%s%s%s%04x%s' "$SIG" "$1" "$2" $((${#3} / 2)) "$3"; }
# a 108-byte UNIX address field: hex, padded with NULs
unix_field() { printf '%s%s' "$1" "$(rep 00 $((108 - ${#1} / 2)))"; }

# ---------------------------------------------------------------------------
# Checkers
# ---------------------------------------------------------------------------
report() { # name ok|fail detail...
    if [ "$2" = ok ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        printf 'FAIL %s\n' "$1"
        shift 2
        printf '  %s\n' "$@"
    fi
}

valid_json() {
    printf '%s\n' "$1" | python3 -m json.tool >/dev/null 2>&1
}

# Compare one run against the expectation. expected is either the exact
# JSON line or "ERR:<status name>".
judge() { # name expected_rc expected rc out err
    local name=$1 erc=$2 exp=$3 rc=$4 out=$5 err=$6 re
    if [ "$rc" != "$erc" ]; then
        report "$name" fail "exit status $rc, expected $erc" "out: ${out:0:300}" "err: $err"
        return
    fi
    if [ -n "$err" ]; then
        report "$name" fail "unexpected stderr: $err"
        return
    fi
    case $exp in
    ERR:*)
        re='^\{"result":"error","error":"'"${exp#ERR:}"'","message":"([^"\\]|\\.)+"\}$'
        if ! [[ $out =~ $re ]]; then
            report "$name" fail "expected error ${exp#ERR:}" "got: ${out:0:300}"
            return
        fi
        ;;
    *)
        if [ "$out" != "$exp" ]; then
            report "$name" fail "expected: ${exp:0:600}" "got:      ${out:0:600}"
            return
        fi
        ;;
    esac
    if ! valid_json "$out"; then
        report "$name" fail "not valid JSON: ${out:0:300}"
        return
    fi
    if LC_ALL=C grep -q '[^ -~]' <<<"$out"; then
        report "$name" fail "output is not printable ASCII"
        return
    fi
    report "$name" ok
}

# h NAME RC HEX EXPECTED: input given as hex text on stdin (--hex)
h() {
    local rc=0 out
    out=$(printf '%s\n' "$3" | "$PPDUMP" --hex 2>"$TMP/err") || rc=$?
    judge "$1" "$2" "$4" "$rc" "$out" "$(cat "$TMP/err")"
}

# b NAME RC TEXT EXPECTED: binary input on stdin, TEXT through printf %b
b() {
    local rc=0 out
    out=$(printf '%b' "$3" | "$PPDUMP" 2>"$TMP/err") || rc=$?
    judge "$1" "$2" "$4" "$rc" "$out" "$(cat "$TMP/err")"
}

# f NAME RC FILE EXPECTED [OPTIONS...]: input from a file argument
f() {
    local name=$1 erc=$2 file=$3 exp=$4 rc=0 out
    shift 4
    out=$("$PPDUMP" "$@" "$file" 2>"$TMP/err" </dev/null) || rc=$?
    judge "$name" "$erc" "$exp" "$rc" "$out" "$(cat "$TMP/err")"
}

# u NAME EXPECTED_RC STDIN_TEXT ARGS...: usage and I/O failures: no JSON on
# stdout, a message on stderr.
u() {
    local name=$1 erc=$2 input=$3 rc=0 out err
    shift 3
    out=$(printf '%s' "$input" | "$PPDUMP" "$@" 2>"$TMP/err") || rc=$?
    err=$(cat "$TMP/err")
    if [ "$rc" != "$erc" ]; then
        report "$name" fail "exit status $rc, expected $erc" "out: $out" "err: $err"
    elif [ -n "$out" ]; then
        report "$name" fail "unexpected stdout: $out"
    elif [ -z "$err" ]; then
        report "$name" fail "no message on stderr"
    else
        report "$name" ok
    fi
}

OK1='{"result":"ok","consumed":'
INC='{"result":"incomplete"}'

# ---------------------------------------------------------------------------
# v1
# ---------------------------------------------------------------------------
b v1-tcp4 0 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n' \
  "${OK1}45,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[]}"
b v1-tcp4-extremes 0 'PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n' \
  "${OK1}44,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"255.255.255.255\",\"sport\":65535,\"dst\":\"0.0.0.0\",\"dport\":0,\"tlvs\":[]}"
b v1-tcp6-5952 0 'PROXY TCP6 2001:DB8:0:0:1:0:0:1 ::ffff:192.0.2.1 65535 0\r\n' \
  "${OK1}58,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"2001:db8::1:0:0:1\",\"sport\":65535,\"dst\":\"::ffff:192.0.2.1\",\"dport\":0,\"tlvs\":[]}"
b v1-tcp6-tie 0 'PROXY TCP6 fe80:0000:0000:0000:0abc:0:0:0 ::1 1 2\r\n' \
  "${OK1}51,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"fe80::abc:0:0:0\",\"sport\":1,\"dst\":\"::1\",\"dport\":2,\"tlvs\":[]}"
b v1-tcp6-zero 0 'PROXY TCP6 :: 0:0:0:0:0:0:0:0 0 0\r\n' \
  "${OK1}35,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"::\",\"sport\":0,\"dst\":\"::\",\"dport\":0,\"tlvs\":[]}"
b v1-unknown 0 'PROXY UNKNOWN\r\n' \
  "${OK1}15,\"version\":1,\"command\":\"PROXY\",\"family\":\"UNKNOWN\",\"tlvs\":[]}"
b v1-unknown-fields 0 'PROXY UNKNOWN ffff::1 ::1 1 2\r\nxyz' \
  "${OK1}31,\"version\":1,\"command\":\"PROXY\",\"family\":\"UNKNOWN\",\"tlvs\":[]}"
h v1-unknown-nul 0 "$(hexof 'PROXY UNKNOWN ')00$(hexof $'\r\n')" \
  "${OK1}17,\"version\":1,\"command\":\"PROXY\",\"family\":\"UNKNOWN\",\"tlvs\":[]}"

b v1-empty 2 '' "$INC"
b v1-P 2 'P' "$INC"
b v1-half 2 'PROXY TCP4 192.0.2.1' "$INC"
b v1-before-lf 2 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r' "$INC"

b v1-post 1 'POST / HTTP/1.1\r\n' ERR:not_proxy
b v1-get 1 'GET / HTTP/1.1\r\n' ERR:not_proxy
b v1-no-space 1 'PROXYX' ERR:v1_syntax
b v1-double-space 1 'PROXY  TCP4' ERR:v1_syntax
b v1-family 1 'PROXY TCP5 ' ERR:v1_family
b v1-addr-zero 1 'PROXY TCP4 1.2.3.04 1.2.3.4 1 2\r\n' ERR:v1_address
b v1-addr-v4-in-tcp6 1 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n' ERR:v1_address
b v1-port 1 'PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n' ERR:v1_port
b v1-lf 1 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n' ERR:v1_crlf
b v1-too-long 1 "PROXY UNKNOWN $(printf 'a%.0s' {1..92})" ERR:v1_too_long

# ---------------------------------------------------------------------------
# v2 families
# ---------------------------------------------------------------------------
A4=c0000201c6336407dc0401bb   # 192.0.2.1 -> 198.51.100.7, 56324 -> 443

h v2-tcp4 0 "$(v2 21 11 $A4)" \
  "${OK1}28,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[]}"
h v2-tcp4-appdata 0 "$(v2 21 11 $A4)$(hexof 'GET / HTTP/1.1')" \
  "${OK1}28,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[]}"
h v2-udp4 0 "$(v2 21 12 0a000001ffffffff0000ffff)" \
  "${OK1}28,\"version\":2,\"command\":\"PROXY\",\"family\":\"UDP4\",\"src\":\"10.0.0.1\",\"sport\":0,\"dst\":\"255.255.255.255\",\"dport\":65535,\"tlvs\":[]}"
h v2-tcp6 0 "$(v2 21 21 "$(cat_hex 20010db8000000000000000000000001 00000000000000000000ffff0a000001 0050fffe)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"2001:db8::1\",\"sport\":80,\"dst\":\"::ffff:10.0.0.1\",\"dport\":65534,\"tlvs\":[]}"
h v2-udp6 0 "$(v2 21 22 "$(cat_hex 00000000000000000000000000000000 fe800000000000000abc000000000000 00010002)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"UDP6\",\"src\":\"::\",\"sport\":1,\"dst\":\"fe80::abc:0:0:0\",\"dport\":2,\"tlvs\":[]}"
h v2-tcp6-no-run 0 "$(v2 21 21 "$(cat_hex 00010000000200000003000000040000 00010000000000020000000000000003 00000000)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"1:0:2:0:3:0:4:0\",\"sport\":0,\"dst\":\"1:0:0:2::3\",\"dport\":0,\"tlvs\":[]}"
h v2-tcp6-edges 0 "$(v2 21 21 "$(cat_hex 00000000000000000000000001020304 00010002000300040005000600000000 00000000)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"::102:304\",\"sport\":0,\"dst\":\"1:2:3:4:5:6::\",\"dport\":0,\"tlvs\":[]}"
h v2-tcp6-mapped-zero 0 "$(v2 21 21 "$(cat_hex 00000000000000000000ffff00000000 20010db8000000010001000100ab000a 00000000)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"::ffff:0.0.0.0\",\"sport\":0,\"dst\":\"2001:db8:0:1:1:1:ab:a\",\"dport\":0,\"tlvs\":[]}"
h v2-tcp6-not-mapped 0 "$(v2 21 21 "$(cat_hex 000000000000000000010000ffff0000 0000000000000000fffe00000a000001 00000000)")" \
  "${OK1}52,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\",\"src\":\"::1:0:ffff:0\",\"sport\":0,\"dst\":\"::fffe:0:a00:1\",\"dport\":0,\"tlvs\":[]}"

# UNIX: path up to the first NUL, escaped byte by byte; no ports
h v2-unix 0 "$(v2 21 31 "$(unix_field "$(hexof /tmp/a.sock)")$(unix_field 71225c017fff)")" \
  "${OK1}232,\"version\":2,\"command\":\"PROXY\",\"family\":\"UNIX\",\"src\":\"/tmp/a.sock\",\"dst\":\"q\\\"\\\\\\u0001\\u007f\\u00ff\",\"tlvs\":[]}"
h v2-unix-dgram 0 "$(v2 21 32 "$(unix_field "00$(hexof abstract)")$(rep 61 108)")" \
  "${OK1}232,\"version\":2,\"command\":\"PROXY\",\"family\":\"UNIX_DGRAM\",\"src\":\"\",\"dst\":\"$(printf 'a%.0s' {1..108})\",\"tlvs\":[]}"

# LOCAL: family from the wire, never addresses
h v2-local-unspec 0 "$(v2 20 00 '')" \
  "${OK1}16,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\",\"tlvs\":[]}"
h v2-local-tcp6 0 "$(v2 20 21 "$(rep 11 36)")" \
  "${OK1}52,\"version\":2,\"command\":\"LOCAL\",\"family\":\"TCP6\",\"tlvs\":[]}"
h v2-local-short 0 "$(v2 20 11 010203)" \
  "${OK1}19,\"version\":2,\"command\":\"LOCAL\",\"family\":\"TCP4\",\"tlvs\":[]}"
h v2-local-unix-tlv 0 "$(v2 20 31 "$(rep 00 216)$(tlv 04 '')")" \
  "${OK1}235,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNIX\",\"tlvs\":[{\"type\":4,\"name\":\"NOOP\",\"hex\":\"\"}]}"
h v2-local-udp4 0 "$(v2 20 12 "$A4")" \
  "${OK1}28,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UDP4\",\"tlvs\":[]}"
h v2-proxy-unspec 0 "$(v2 21 00 "$(tlv 01 6832)$(tlv 04 '')")" \
  "${OK1}24,\"version\":2,\"command\":\"PROXY\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":1,\"name\":\"ALPN\",\"hex\":\"6832\",\"text\":\"h2\"},{\"type\":4,\"name\":\"NOOP\",\"hex\":\"\"}]}"

# ---------------------------------------------------------------------------
# TLVs
# ---------------------------------------------------------------------------
h v2-text-tlvs 0 "$(v2 21 11 "$A4$(tlv 01 "$(hexof http/1.1)")$(tlv 02 "$(hexof example.com)")$(tlv 05 deadbeef)$(tlv 30 6e730a22)$(tlv 50 6162)$(tlv 01 6832)")" \
  "${OK1}77,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[{\"type\":1,\"name\":\"ALPN\",\"hex\":\"687474702f312e31\",\"text\":\"http/1.1\"},{\"type\":2,\"name\":\"AUTHORITY\",\"hex\":\"6578616d706c652e636f6d\",\"text\":\"example.com\"},{\"type\":5,\"name\":\"UNIQUE_ID\",\"hex\":\"deadbeef\"},{\"type\":48,\"name\":\"NETNS\",\"hex\":\"6e730a22\",\"text\":\"ns\\u000a\\\"\"},{\"type\":80,\"hex\":\"6162\"},{\"type\":1,\"name\":\"ALPN\",\"hex\":\"6832\",\"text\":\"h2\"}]}"

VPCE=$(hexof vpce-08d2bf15fac5001c9)
h v2-cloud 0 "$(v2 21 00 "$(tlv ea "01$VPCE")$(tlv ea 026162)$(tlv ee 0178563412)$(tlv ee 01785634)$(tlv e0 0000000000000102)$(tlv e0 0020000000000000)$(tlv e0 0020000000000001)$(tlv e0 ffffffffffffffff)$(tlv e0 00000000000001)$(tlv e1 00)")" \
  "${OK1}121,\"version\":2,\"command\":\"PROXY\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":234,\"name\":\"AWS\",\"hex\":\"01$VPCE\",\"vpce_id\":\"vpce-08d2bf15fac5001c9\"},{\"type\":234,\"name\":\"AWS\",\"hex\":\"026162\"},{\"type\":238,\"name\":\"AZURE\",\"hex\":\"0178563412\",\"linkid\":305419896},{\"type\":238,\"name\":\"AZURE\",\"hex\":\"01785634\"},{\"type\":224,\"name\":\"GCP\",\"hex\":\"0000000000000102\",\"psc_id\":258},{\"type\":224,\"name\":\"GCP\",\"hex\":\"0020000000000000\",\"psc_id\":9007199254740992},{\"type\":224,\"name\":\"GCP\",\"hex\":\"0020000000000001\",\"psc_id\":\"9007199254740993\"},{\"type\":224,\"name\":\"GCP\",\"hex\":\"ffffffffffffffff\",\"psc_id\":\"18446744073709551615\"},{\"type\":224,\"name\":\"GCP\",\"hex\":\"00000000000001\"},{\"type\":225,\"hex\":\"00\"}]}"
h v2-azure-subtype 0 "$(v2 20 00 "$(tlv ee 0278563412)")" \
  "${OK1}24,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":238,\"name\":\"AZURE\",\"hex\":\"0278563412\"}]}"

S_VER=$(tlv 21 "$(hexof TLSv1.3)")
S_CN=$(tlv 22 "$(hexof example.com)")
S_KEY=$(tlv 25 "$(hexof RSA2048)")
S_SIG=$(tlv 24 "$(hexof SHA256)")
S_CIPH=$(tlv 23 "$(hexof TLS_AES_128_GCM_SHA256)")
S_GRP=$(tlv 26 "$(hexof X25519)")
S_SCH=$(tlv 27 "$(hexof ecdsa_secp256r1_sha256)")
S_CERT=$(tlv 28 3082)
S_UNK=$(tlv 29 7a7a)
SSLV="0700000000$S_VER$S_CN$S_KEY$S_SIG$S_CIPH$S_GRP$S_SCH$S_CERT$S_UNK"
h v2-ssl 0 "$(v2 21 11 "$A4$(tlv 20 "$SSLV")")" \
  "${OK1}$((16 + 12 + 3 + ${#SSLV} / 2)),\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[{\"type\":32,\"name\":\"SSL\",\"hex\":\"$SSLV\",\"client\":7,\"verify\":0,\"sub\":[{\"type\":33,\"name\":\"VERSION\",\"hex\":\"${S_VER:6}\",\"text\":\"TLSv1.3\"},{\"type\":34,\"name\":\"CN\",\"hex\":\"${S_CN:6}\",\"text\":\"example.com\"},{\"type\":37,\"name\":\"KEY_ALG\",\"hex\":\"${S_KEY:6}\",\"text\":\"RSA2048\"},{\"type\":36,\"name\":\"SIG_ALG\",\"hex\":\"${S_SIG:6}\",\"text\":\"SHA256\"},{\"type\":35,\"name\":\"CIPHER\",\"hex\":\"${S_CIPH:6}\",\"text\":\"TLS_AES_128_GCM_SHA256\"},{\"type\":38,\"name\":\"GROUP\",\"hex\":\"${S_GRP:6}\",\"text\":\"X25519\"},{\"type\":39,\"name\":\"SIG_SCHEME\",\"hex\":\"${S_SCH:6}\",\"text\":\"ecdsa_secp256r1_sha256\"},{\"type\":40,\"name\":\"CLIENT_CERT\",\"hex\":\"3082\"},{\"type\":41,\"hex\":\"7a7a\"}]}]}"
h v2-ssl-minimal 0 "$(v2 20 00 "$(tlv 20 0100000001)$(tlv 20 "0500000000$(tlv 22 c3a941)")")" \
  "${OK1}38,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":32,\"name\":\"SSL\",\"hex\":\"0100000001\",\"client\":1,\"verify\":1,\"sub\":[]},{\"type\":32,\"name\":\"SSL\",\"hex\":\"0500000000220003c3a941\",\"client\":5,\"verify\":0,\"sub\":[{\"type\":34,\"name\":\"CN\",\"hex\":\"c3a941\",\"text\":\"\\u00c3\\u00a9A\"}]}]}"

# CRC32C values computed independently (CRC32C of the whole header with the
# 4 value bytes zeroed, big-endian).
h v2-crc-local 0 "${SIG}2000000a0300042722e6c6040000" \
  "${OK1}26,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":3,\"name\":\"CRC32C\",\"hex\":\"2722e6c6\"},{\"type\":4,\"name\":\"NOOP\",\"hex\":\"\"}]}"
h v2-crc-tcp4 0 "${SIG}21110013${A4}030004d45a11b9" \
  "${OK1}35,\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"192.0.2.1\",\"sport\":56324,\"dst\":\"198.51.100.7\",\"dport\":443,\"tlvs\":[{\"type\":3,\"name\":\"CRC32C\",\"hex\":\"d45a11b9\"}]}"
h v2-crc-mismatch 1 "${SIG}21110013${A4}030004d45a11b8" ERR:crc32c_mismatch
h v2-unique-id-128 0 "$(v2 21 00 "$(tlv 05 "$(rep ab 128)")")" \
  "${OK1}147,\"version\":2,\"command\":\"PROXY\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":5,\"name\":\"UNIQUE_ID\",\"hex\":\"$(rep ab 128)\"}]}"

# ---------------------------------------------------------------------------
# v2 incomplete and errors
# ---------------------------------------------------------------------------
h v2-crlf 2 0d0a "$INC"
h v2-sig 2 "$SIG" "$INC"
h v2-14 2 "${SIG}2111" "$INC"
h v2-16 2 "${SIG}2111000c" '{"result":"incomplete","need":12}'
h v2-27 2 "${SIG}2111000c${A4:0:22}" '{"result":"incomplete","need":1}'
h v2-in-tlv 2 "${SIG}210000080100026832" '{"result":"incomplete","need":3}'

h v2-sig-mismatch 1 0d0a0d0a000d0a515549540b ERR:not_proxy
h v2-tls 1 160301 ERR:not_proxy
h v2-nul 1 00 ERR:not_proxy
h v2-version 1 "${SIG}1111000c" ERR:v2_version
h v2-version-first 1 "${SIG}32" ERR:v2_version
h v2-command 1 "${SIG}2211" ERR:v2_command
h v2-family 1 "${SIG}2113" ERR:v2_family
h v2-family-local 1 "${SIG}2040" ERR:v2_family
h v2-addr-len4 1 "${SIG}2111000b" ERR:v2_addr_len
h v2-addr-len6 1 "${SIG}21210023" ERR:v2_addr_len
h v2-addr-len-unix 1 "${SIG}213100d7" ERR:v2_addr_len
h v2-tlv-2-left 1 "${SIG}210000020100" ERR:tlv_truncated
h v2-tlv-1-left 1 "${SIG}2100000101" ERR:tlv_truncated
h v2-tlv-past-end 1 "${SIG}2100000401000268" ERR:tlv_truncated
h v2-crc-len 1 "${SIG}21000006030003000000" ERR:tlv_crc32c
h v2-crc-twice 1 "${SIG}2100000e0300040000000003000400000000" ERR:tlv_crc32c
h v2-unique-id-129 1 "$(v2 21 00 "$(tlv 05 "$(rep 00 129)")")" ERR:tlv_unique_id
h v2-ssl-short 1 "$(v2 21 00 "$(tlv 20 01000000)")" ERR:tlv_ssl
h v2-ssl-sub-past 1 "$(v2 21 00 "$(tlv 20 0100000000210001)")" ERR:tlv_ssl
h v2-ssl-sub-2-left 1 "$(v2 21 00 "$(tlv 20 01000000002100)")" ERR:tlv_ssl

# ---------------------------------------------------------------------------
# Hex text handling, files, large inputs
# ---------------------------------------------------------------------------
LOCAL16='{"result":"ok","consumed":16,"version":2,"command":"LOCAL","family":"UNSPEC","tlvs":[]}'
h hex-spaces 0 $'0d0a 0d0a\n000d0a51\t5549540a\r\n20 00 00 00\f\v' "$LOCAL16"
h hex-upper 0 0D0A0D0A000D0A515549540A20000000 "$LOCAL16"

printf '%s' "$(v2 20 00 '')" >"$TMP/local.hex"
printf 'PROXY UNKNOWN\r\n' >"$TMP/unknown.bin"
f file-hex 0 "$TMP/local.hex" "$LOCAL16" --hex
rc=0; out=$("$PPDUMP" "$TMP/local.hex" --hex 2>"$TMP/err") || rc=$?
judge file-then-option 0 "$LOCAL16" "$rc" "$out" "$(cat "$TMP/err")"
f file-binary 0 "$TMP/unknown.bin" \
  "${OK1}15,\"version\":1,\"command\":\"PROXY\",\"family\":\"UNKNOWN\",\"tlvs\":[]}"
rc=0; out=$("$PPDUMP" - <"$TMP/unknown.bin" 2>"$TMP/err") || rc=$?
judge dash-is-stdin 0 "${OK1}15,\"version\":1,\"command\":\"PROXY\",\"family\":\"UNKNOWN\",\"tlvs\":[]}" \
  "$rc" "$out" "$(cat "$TMP/err")"

# The largest v2 header (16 + 65535 bytes) followed by more data than ppdump
# reads: one NOOP TLV of 65532 bytes.
python3 - "$TMP" <<'EOF'
import sys
d = sys.argv[1]
hdr = bytes.fromhex("0d0a0d0a000d0a515549540a2000ffff04fffc") + bytes(65532)
open(d + "/big.bin", "wb").write(hdr + b"x" * 100000)
open(d + "/big-short.bin", "wb").write(hdr[:-1])
open(d + "/big.hex", "w").write((hdr + b"y" * 70000).hex())
open(d + "/v1-big.bin", "wb").write(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + b"z" * 200000)
EOF
BIG="${OK1}65551,\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\",\"tlvs\":[{\"type\":4,\"name\":\"NOOP\",\"hex\":\"$(rep 00 65532)\"}]}"
f big-binary 0 "$TMP/big.bin" "$BIG"
f big-hex 0 "$TMP/big.hex" "$BIG" --hex
f big-short 2 "$TMP/big-short.bin" '{"result":"incomplete","need":1}'
f v1-big 0 "$TMP/v1-big.bin" \
  "${OK1}32,\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP4\",\"src\":\"1.2.3.4\",\"sport\":1,\"dst\":\"5.6.7.8\",\"dport\":2,\"tlvs\":[]}"

# ---------------------------------------------------------------------------
# Usage and I/O errors: exit 1, message on stderr, no JSON
# ---------------------------------------------------------------------------
u hex-junk 1 '0d0a0g' --hex
u hex-odd 1 '0d0a0' --hex
u hex-odd-spaced 1 '0d 0a 0' --hex
u hex-prefix 1 '0x0d0a' --hex
u unknown-option 1 '' --bogus
u unknown-short-option 1 '' -x
u two-files 1 '' "$TMP/unknown.bin" "$TMP/unknown.bin"
u missing-file 1 '' "$TMP/does-not-exist"
u directory 1 '' "$TMP"

rc=0; out=$("$PPDUMP" --help 2>"$TMP/err") || rc=$?
if [ "$rc" = 0 ] && [[ $out == "usage: ppdump [--hex] [FILE]"* ]] && [ ! -s "$TMP/err" ]; then
    report help ok
else
    report help fail "exit $rc" "out: ${out:0:200}"
fi

printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
