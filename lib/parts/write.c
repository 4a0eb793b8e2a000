/* PROXY header writers (v1 text, v2 binary) and sockaddr conversions.
 *
 * Fragment of lib/pphdr.c. The feature macro below belongs above every
 * system include of the merged file: it asks for the POSIX declarations
 * (sockaddr_in6, sockaddr_un) that a libc may hide under -std=c99. glibc
 * shows them anyway; the macro is for the others. */
#if !defined(PP_NO_SOCKETS) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "../pp_internal.h"

#include <string.h>

#ifndef PP_NO_SOCKETS
#include <netinet/in.h>
#include <sys/un.h>
#endif

/* ========================================================================
 * v1 text
 * ====================================================================== */

static const char wr_hex_digits[] = "0123456789abcdef";

/* "00" to "99": ports are written two digits per division. */
static const char wr_digits2[201] =
    "00010203040506070809" "10111213141516171819" "20212223242526272829"
    "30313233343536373839" "40414243444546474849" "50515253545556575859"
    "60616263646566676869" "70717273747576777879" "80818283848586878889"
    "90919293949596979899";

/* Decimal text of 0..255: up to 3 digits, zero-padded to 3 bytes, then
 * the digit count. An octet is one 4-byte copy; the padding is
 * overwritten by whatever follows. */
#define WR_C(d) (uint8_t)('0' + (d))
#define WR_O1(a) {WR_C(a), 0, 0, 1}
#define WR_O2(a, b) {WR_C(a), WR_C(b), 0, 2}
#define WR_O3(a, b, c) {WR_C(a), WR_C(b), WR_C(c), 3}
#define WR_TEN2(a) WR_O2(a, 0), WR_O2(a, 1), WR_O2(a, 2), WR_O2(a, 3), \
    WR_O2(a, 4), WR_O2(a, 5), WR_O2(a, 6), WR_O2(a, 7), WR_O2(a, 8),   \
    WR_O2(a, 9)
#define WR_TEN3(a, b) WR_O3(a, b, 0), WR_O3(a, b, 1), WR_O3(a, b, 2),    \
    WR_O3(a, b, 3), WR_O3(a, b, 4), WR_O3(a, b, 5), WR_O3(a, b, 6),     \
    WR_O3(a, b, 7), WR_O3(a, b, 8), WR_O3(a, b, 9)
#define WR_HUNDRED3(a) WR_TEN3(a, 0), WR_TEN3(a, 1), WR_TEN3(a, 2),      \
    WR_TEN3(a, 3), WR_TEN3(a, 4), WR_TEN3(a, 5), WR_TEN3(a, 6),         \
    WR_TEN3(a, 7), WR_TEN3(a, 8), WR_TEN3(a, 9)
static const uint8_t wr_octet_text[256][4] = {
    WR_O1(0), WR_O1(1), WR_O1(2), WR_O1(3), WR_O1(4),
    WR_O1(5), WR_O1(6), WR_O1(7), WR_O1(8), WR_O1(9),
    WR_TEN2(1), WR_TEN2(2), WR_TEN2(3), WR_TEN2(4), WR_TEN2(5),
    WR_TEN2(6), WR_TEN2(7), WR_TEN2(8), WR_TEN2(9),
    WR_HUNDRED3(1),
    WR_TEN3(2, 0), WR_TEN3(2, 1), WR_TEN3(2, 2), WR_TEN3(2, 3), WR_TEN3(2, 4),
    WR_O3(2, 5, 0), WR_O3(2, 5, 1), WR_O3(2, 5, 2), WR_O3(2, 5, 3),
    WR_O3(2, 5, 4), WR_O3(2, 5, 5)
};
#undef WR_HUNDRED3
#undef WR_TEN3
#undef WR_TEN2
#undef WR_O3
#undef WR_O2
#undef WR_O1
#undef WR_C

/* Decimal of v (0..65535) without leading zeros; returns the end. One
 * division per two digits, the pairs from wr_digits2. */
static inline uint8_t *wr_put_port(uint8_t *p, unsigned v)
{
    unsigned hi, lo;

    if (v < 100u) {
        if (v < 10u) {
            *p = (uint8_t)('0' + v);
            return p + 1;
        }
        memcpy(p, wr_digits2 + 2 * v, 2);
        return p + 2;
    }
    if (v >= 10000u) {
        unsigned top = v / 10000u;
        *p++ = (uint8_t)('0' + top);
        v -= top * 10000u;
        hi = v / 100u;
        memcpy(p, wr_digits2 + 2 * hi, 2);
        p += 2;
    } else {
        hi = v / 100u;
        if (hi >= 10u) {
            memcpy(p, wr_digits2 + 2 * hi, 2);
            p += 2;
        } else {
            *p++ = (uint8_t)('0' + hi);
        }
    }
    lo = v - hi * 100u;
    memcpy(p, wr_digits2 + 2 * lo, 2);
    return p + 2;
}

/* Needs 4 bytes of room: see wr_octet_text. */
static uint8_t *wr_put_octet(uint8_t *p, unsigned v)
{
    memcpy(p, wr_octet_text[v], 4);
    return p + wr_octet_text[v][3];
}

static inline uint8_t *wr_put_ip4(uint8_t *p, const uint8_t ip[4])
{
    p = wr_put_octet(p, ip[0]);
    *p++ = '.';
    p = wr_put_octet(p, ip[1]);
    *p++ = '.';
    p = wr_put_octet(p, ip[2]);
    *p++ = '.';
    return wr_put_octet(p, ip[3]);
}

/* One IPv6 group: lowercase hex, no leading zeros (RFC 5952 4.1, 4.3). */
static uint8_t *wr_put_hex16(uint8_t *p, unsigned v)
{
    if (v >= 0x1000u)
        *p++ = (uint8_t)wr_hex_digits[v >> 12];
    if (v >= 0x100u)
        *p++ = (uint8_t)wr_hex_digits[(v >> 8) & 0xfu];
    if (v >= 0x10u)
        *p++ = (uint8_t)wr_hex_digits[(v >> 4) & 0xfu];
    *p++ = (uint8_t)wr_hex_digits[v & 0xfu];
    return p;
}

/* The first 12 bytes of an IPv4-mapped IPv6 address, ::ffff:a.b.c.d. */
static const uint8_t wr_v4mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static int wr_is_v4mapped(const uint8_t ip[16])
{
    return memcmp(ip, wr_v4mapped_prefix, sizeof wr_v4mapped_prefix) == 0;
}

/* RFC 5952 text: the longest run of two or more zero groups (the leftmost
 * on a tie) becomes "::". IPv4-mapped addresses keep a dotted tail
 * (section 5), as HAProxy sends them. */
static uint8_t *wr_put_ip6(uint8_t *p, const uint8_t ip[16])
{
    unsigned g[8];
    unsigned i, run = 0, best_at = 8, best_len = 0;

    if (wr_is_v4mapped(ip)) {
        memcpy(p, "::ffff:", 7);
        return wr_put_ip4(p + 7, ip + 12);
    }
    for (i = 0; i < 8; i++) {
        g[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
        if (g[i] != 0) {
            run = 0;
        } else if (++run > best_len) {
            best_len = run;
            best_at = i + 1 - run;
        }
    }
    if (best_len < 2) {          /* a single zero group stays "0" */
        best_at = 8;
        best_len = 0;
    }
    for (i = 0; i < 8; i++) {
        if (i == best_at) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best_at + best_len)
            *p++ = ':';
        p = wr_put_hex16(p, g[i]);
    }
    return p;
}

/* "PROXY TCP4 a.b.c.d a.b.c.d sport dport\r\n": the hot path, kept
 * straight-line. */
static uint8_t *wr_v1_tcp4(uint8_t *p, const pp_header *hdr)
{
    memcpy(p, "PROXY TCP4 ", 11);
    p = wr_put_ip4(p + 11, hdr->src.ip);
    *p++ = ' ';
    p = wr_put_ip4(p, hdr->dst.ip);
    *p++ = ' ';
    p = wr_put_port(p, hdr->src.port);
    *p++ = ' ';
    p = wr_put_port(p, hdr->dst.port);
    memcpy(p, "\r\n", 2);
    return p + 2;
}

static uint8_t *wr_v1_tcp6(uint8_t *p, const pp_header *hdr)
{
    memcpy(p, "PROXY TCP6 ", 11);
    p = wr_put_ip6(p + 11, hdr->src.ip);
    *p++ = ' ';
    p = wr_put_ip6(p, hdr->dst.ip);
    *p++ = ' ';
    p = wr_put_port(p, hdr->src.port);
    *p++ = ' ';
    p = wr_put_port(p, hdr->dst.port);
    memcpy(p, "\r\n", 2);
    return p + 2;
}

/* Writes the whole line at p, which has room for PP_V1_MAX_LEN bytes (the
 * line is at most 104). Octets are stored 4 bytes at a time; the spare
 * bytes are always overwritten by what follows, as no line ends with an
 * octet, so nothing past the line's end is touched. Returns its length. TCP only for PROXY over INET/INET6 streams: anything else is
 * something v1 cannot say, hence "UNKNOWN" (the receiver then uses the
 * connection's own endpoints). */
static size_t wr_v1_line(uint8_t *p, const pp_header *hdr)
{
    if (hdr->command == PP_CMD_PROXY && hdr->transport == PP_TRANSPORT_STREAM) {
        if (hdr->family == PP_AF_INET)
            return (size_t)(wr_v1_tcp4(p, hdr) - p);
        if (hdr->family == PP_AF_INET6)
            return (size_t)(wr_v1_tcp6(p, hdr) - p);
    }
    memcpy(p, "PROXY UNKNOWN\r\n", 15);
    return 15;
}

int pp_write_v1(void *out, size_t cap, const pp_header *hdr)
{
    uint8_t tmp[PP_V1_MAX_LEN];
    uint8_t *dst;
    size_t n;

    if (hdr == NULL || hdr->command > PP_CMD_PROXY
        || hdr->family > PP_AF_UNIX || hdr->transport > PP_TRANSPORT_DGRAM)
        return PP_ERR_ARG;
    /* The longest line fits any cap >= 107: write in place. Otherwise
     * format aside so that a short cap sees no byte written. */
    dst = (out != NULL && cap >= PP_V1_MAX_LEN) ? (uint8_t *)out : tmp;
    n = wr_v1_line(dst, hdr);
    if (n > cap)
        return (int)n;
    if (out == NULL)
        return PP_ERR_ARG;
    if (dst == tmp)
        memcpy(out, tmp, n);
    return (int)n;
}

/* ========================================================================
 * v2 binary
 * ====================================================================== */

static const uint8_t wr_v2_sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

#define WR_V2_FIXED 16u
#define WR_TLV_HDR 3u
#define WR_CRC_TLV_LEN 7u

/* What a v2 header will hold, measured before a byte is written. */
typedef struct wr_v2_plan {
    size_t block;   /* address block bytes */
    size_t relay;   /* relayed TLV bytes (CRC32C and NOOP left out) */
    size_t extra;   /* opts->tlvs bytes */
    size_t pad;     /* final NOOP TLV bytes: 0 or >= 3 */
    size_t total;   /* whole header */
    int crc;        /* a CRC32C TLV goes first */
    uint8_t fam_byte; /* byte 13 */
} wr_v2_plan;

static size_t wr_family_block(unsigned family)
{
    switch (family) {
    case PP_AF_INET: return 12;
    case PP_AF_INET6: return 36;
    case PP_AF_UNIX: return 216;
    default: return 0;
    }
}

/* Byte 13, or -1 when family/transport is not one of the spec's pairs
 * (UNSPEC goes with UNSPEC only). */
static int wr_family_byte(const pp_header *hdr)
{
    if (hdr->family > PP_AF_UNIX || hdr->transport > PP_TRANSPORT_DGRAM
        || (hdr->family == PP_AF_UNSPEC) != (hdr->transport == PP_TRANSPORT_UNSPEC))
        return -1;
    return hdr->family << 4 | hdr->transport;
}

/* An SSL value: client(1), verify(4), then sub-TLVs tiling the rest. */
static int wr_ssl_ok(const uint8_t *v, size_t len)
{
    size_t at = 5;

    if (len < 5)
        return 0;
    while (at < len) {
        if (len - at < WR_TLV_HDR)
            return 0;
        at += WR_TLV_HDR + pp__be16(v + at + 1);
        if (at > len)
            return 0;
    }
    return 1;
}

/* Whether a TLV may be written: pp_parse must accept what we produce.
 * CRC32C is the writer's own (opts->crc32c), never the caller's. */
static int wr_tlv_ok(unsigned type, size_t len, const uint8_t *value)
{
    if (len > 0 && value == NULL)
        return 0;
    switch (type) {
    case PP_TLV_CRC32C: return 0;
    case PP_TLV_UNIQUE_ID: return len <= PP_UNIQUE_ID_MAX;
    case PP_TLV_SSL: return wr_ssl_ok(value, len);
    default: return 1;
    }
}

/* *bytes = what relaying hdr->tlvs adds, checking the block as it goes
 * (the caller may have built hdr by hand). 0 when it is not a TLV block. */
static int wr_relay_len(const pp_header *hdr, size_t *bytes)
{
    const uint8_t *p = hdr->tlvs;
    size_t left = hdr->tlvs_len, n;

    *bytes = 0;
    if (p == NULL)
        return left == 0;
    while (left > 0) {
        if (left < WR_TLV_HDR)
            return 0;
        n = WR_TLV_HDR + pp__be16(p + 1);
        if (n > left)
            return 0;
        if (p[0] != PP_TLV_CRC32C && p[0] != PP_TLV_NOOP) {
            if (!wr_tlv_ok(p[0], n - WR_TLV_HDR, p + WR_TLV_HDR))
                return 0;
            *bytes += n;
            if (*bytes > PP_V2_MAX_LEN)
                return 0;
        }
        p += n;
        left -= n;
    }
    return 1;
}

/* *bytes = size of opts->tlvs; 0 when one is refused or they cannot fit. */
static int wr_extra_len(const pp_v2_opts *opts, size_t *bytes)
{
    size_t i;

    *bytes = 0;
    if (opts->tlv_count > 0 && opts->tlvs == NULL)
        return 0;
    for (i = 0; i < opts->tlv_count; i++) {
        const pp_tlv *t = &opts->tlvs[i];
        if (!wr_tlv_ok(t->type, t->len, t->value))
            return 0;
        *bytes += WR_TLV_HDR + (size_t)t->len;
        if (*bytes > PP_V2_MAX_LEN)
            return 0;
    }
    return 1;
}

/* Smallest multiple of a that is >= n; above PP_V2_MAX_LEN when none fits
 * (the caller then refuses). a > 0. */
static size_t wr_round_up(size_t n, size_t a)
{
    if (a > PP_V2_MAX_LEN)
        return PP_V2_MAX_LEN + 1;
    return n + (a - n % a) % a;
}

/* Total length after padding, 0 when the padding asked is unreachable.
 * bare: the length without padding. A NOOP TLV has at least 3 bytes, so a
 * target is bare itself or at least bare + 3. */
static size_t wr_padded_len(size_t bare, const pp_v2_opts *o)
{
    size_t want = bare;

    if (o->pad_to != 0) {
        want = o->pad_to;
        if (o->pad_align > 1 && want % o->pad_align != 0)
            return 0;
    } else if (o->pad_align > 1) {
        want = wr_round_up(bare, o->pad_align);
        if (want != bare && want < bare + WR_TLV_HDR)
            want = wr_round_up(bare + WR_TLV_HDR, o->pad_align);
    }
    if (want != bare && want < bare + WR_TLV_HDR)
        return 0;
    return want <= PP_V2_MAX_LEN ? want : 0;
}

/* A UNIX endpoint the block can hold: the raw field, or a path of at most
 * 108 bytes. */
static int wr_unix_ok(const pp_addr *a)
{
    return a->unix_raw != NULL
           || (a->path_len <= PP_UNIX_PATH_LEN
               && (a->path != NULL || a->path_len == 0));
}

/* Validates hdr and lays out the header without options: PP_OK or
 * PP_ERR_ARG.
 *
 * LOCAL gets the family's block too, zero-filled: receivers look for TLVs
 * after it whatever the command (pp_parse does), and some (go-proxyproto
 * 0.4) refuse any length below it. LOCAL UNSPEC (what HAProxy sends and
 * the spec recommends) has no block: 16 bytes. */
static int wr_v2_plan_base(const pp_header *hdr, wr_v2_plan *pl)
{
    int fam = wr_family_byte(hdr);

    if (hdr->command > PP_CMD_PROXY || fam < 0)
        return PP_ERR_ARG;
    if (hdr->command == PP_CMD_PROXY && hdr->family == PP_AF_UNIX
        && (!wr_unix_ok(&hdr->src) || !wr_unix_ok(&hdr->dst)))
        return PP_ERR_ARG;
    pl->fam_byte = (uint8_t)fam;
    pl->block = wr_family_block(hdr->family);
    pl->relay = pl->extra = pl->pad = 0;
    pl->crc = 0;
    pl->total = WR_V2_FIXED + pl->block;
    return PP_OK;
}

/* Adds the TLVs and padding of opts to a base plan; PP_OK or PP_ERR_ARG. */
static int wr_v2_plan_opts(const pp_header *hdr, const pp_v2_opts *opts,
                           wr_v2_plan *pl)
{
    size_t bare;

    if ((opts->relay_tlvs && !wr_relay_len(hdr, &pl->relay))
        || !wr_extra_len(opts, &pl->extra))
        return PP_ERR_ARG;
    pl->crc = opts->crc32c != 0;
    bare = pl->total + (pl->crc ? WR_CRC_TLV_LEN : 0) + pl->relay + pl->extra;
    if (bare > PP_V2_MAX_LEN)
        return PP_ERR_ARG;
    pl->total = wr_padded_len(bare, opts);
    if (pl->total == 0)
        return PP_ERR_ARG;
    pl->pad = pl->total - bare;
    return PP_OK;
}

static uint8_t *wr_put_tlv_head(uint8_t *p, unsigned type, size_t len)
{
    p[0] = (uint8_t)type;
    pp__put_be16(p + 1, (uint16_t)len);
    return p + WR_TLV_HDR;
}

static uint8_t *wr_put_addrs(uint8_t *p, const pp_header *hdr, size_t block)
{
    const pp_addr *s = &hdr->src, *d = &hdr->dst;

    if (hdr->command != PP_CMD_PROXY) {      /* LOCAL: zeros, see above */
        memset(p, 0, block);
        return p + block;
    }
    switch (hdr->family) {
    case PP_AF_INET:
        memcpy(p, s->ip, 4);
        memcpy(p + 4, d->ip, 4);
        pp__put_be16(p + 8, s->port);
        pp__put_be16(p + 10, d->port);
        return p + 12;
    case PP_AF_INET6:
        memcpy(p, s->ip, 16);
        memcpy(p + 16, d->ip, 16);
        pp__put_be16(p + 32, s->port);
        pp__put_be16(p + 34, d->port);
        return p + 36;
    case PP_AF_UNIX: {
        const pp_addr *a[2] = { s, d };
        int i;
        for (i = 0; i < 2; i++, p += PP_UNIX_PATH_LEN) {
            if (a[i]->unix_raw != NULL) {
                memcpy(p, a[i]->unix_raw, PP_UNIX_PATH_LEN);
            } else {
                if (a[i]->path_len > 0)
                    memcpy(p, a[i]->path, a[i]->path_len);
                memset(p + a[i]->path_len, 0,
                       PP_UNIX_PATH_LEN - a[i]->path_len);
            }
        }
        return p;
    }
    default:
        return p;
    }
}

/* Copies hdr->tlvs in wire order without CRC32C and NOOP (checked by
 * wr_relay_len already). */
static uint8_t *wr_put_relay(uint8_t *p, const pp_header *hdr)
{
    const uint8_t *q = hdr->tlvs, *end = hdr->tlvs + hdr->tlvs_len;

    while (q < end) {
        size_t n = WR_TLV_HDR + pp__be16(q + 1);
        if (q[0] != PP_TLV_CRC32C && q[0] != PP_TLV_NOOP) {
            memcpy(p, q, n);
            p += n;
        }
        q += n;
    }
    return p;
}

static void wr_v2_emit(uint8_t *o, const pp_header *hdr,
                       const pp_v2_opts *opts, const wr_v2_plan *pl)
{
    uint8_t *p = o + WR_V2_FIXED;
    uint8_t *crc_value = NULL;
    size_t i;

    memcpy(o, wr_v2_sig, sizeof wr_v2_sig);
    o[12] = (uint8_t)(0x20u | hdr->command);
    o[13] = pl->fam_byte;
    pp__put_be16(o + 14, (uint16_t)(pl->total - WR_V2_FIXED));
    p = wr_put_addrs(p, hdr, pl->block);
    if (opts == NULL)
        return;
    if (pl->crc) {
        p = wr_put_tlv_head(p, PP_TLV_CRC32C, 4);
        crc_value = p;
        memset(p, 0, 4);
        p += 4;
    }
    if (pl->relay > 0)
        p = wr_put_relay(p, hdr);
    for (i = 0; i < opts->tlv_count; i++) {
        const pp_tlv *t = &opts->tlvs[i];
        p = wr_put_tlv_head(p, t->type, t->len);
        if (t->len > 0)
            memcpy(p, t->value, t->len);
        p += t->len;
    }
    if (pl->pad > 0) {
        p = wr_put_tlv_head(p, PP_TLV_NOOP, pl->pad - WR_TLV_HDR);
        memset(p, 0, pl->pad - WR_TLV_HDR);
    }
    /* Last, over the finished header with its 4 value bytes still zero. */
    if (crc_value != NULL)
        pp__put_be32(crc_value, pp_crc32c(0, o, pl->total));
}

int pp_write_v2(void *out, size_t cap, const pp_header *hdr,
                const pp_v2_opts *opts)
{
    wr_v2_plan pl;
    int rc;

    if (hdr == NULL)
        return PP_ERR_ARG;
    if ((rc = wr_v2_plan_base(hdr, &pl)) != PP_OK
        || (opts != NULL && (rc = wr_v2_plan_opts(hdr, opts, &pl)) != PP_OK))
        return rc;
    if (pl.total > cap)
        return (int)pl.total;
    if (out == NULL)
        return PP_ERR_ARG;
    wr_v2_emit((uint8_t *)out, hdr, opts, &pl);
    return (int)pl.total;
}

/* ========================================================================
 * sockaddr conversions
 * ====================================================================== */
#ifndef PP_NO_SOCKETS

/* One endpoint as read from a sockaddr, IPv4-mapped IPv6 unmapped. */
typedef struct wr_end {
    int family;                 /* PP_AF_* */
    uint8_t ip[16];
    uint16_t port;
    const uint8_t *sun_path;    /* AF_UNIX: into the caller's sockaddr */
} wr_end;

static uint16_t wr_port_from_net(const void *net)
{
    uint8_t b[2];
    memcpy(b, net, 2);
    return pp__be16(b);
}

static void wr_port_to_net(void *net, uint16_t port)
{
    uint8_t b[2];
    pp__put_be16(b, port);
    memcpy(net, b, 2);
}

/* sockaddrs are copied out with memcpy: the caller's storage need not be
 * the exact struct type nor aligned for it. */
static int wr_read_end(const struct sockaddr *sa, wr_end *e)
{
    memset(e, 0, sizeof *e);
    switch (sa->sa_family) {
    case AF_INET: {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        e->family = PP_AF_INET;
        memcpy(e->ip, &sin.sin_addr, 4);
        e->port = wr_port_from_net(&sin.sin_port);
        return 1;
    }
    case AF_INET6: {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        memcpy(e->ip, &sin6.sin6_addr, 16);
        e->port = wr_port_from_net(&sin6.sin6_port);
        e->family = PP_AF_INET6;
        if (wr_is_v4mapped(e->ip)) {
            e->family = PP_AF_INET;
            memmove(e->ip, e->ip + 12, 4);
            memset(e->ip + 4, 0, 12);
        }
        return 1;
    }
    case AF_UNIX:
        e->family = PP_AF_UNIX;
        e->sun_path = (const uint8_t *)sa + offsetof(struct sockaddr_un, sun_path);
        return 1;
    default:
        return 0;
    }
}

/* Size of sun_path here: 108 on Linux, 104 on the BSDs. */
static size_t wr_sun_path_size(void)
{
    struct sockaddr_un sun;
    return sizeof sun.sun_path;
}

static void wr_set_end(pp_addr *a, const wr_end *e, int family)
{
    if (family == PP_AF_UNIX) {
        size_t room = wr_sun_path_size();
        const uint8_t *nul;
        if (room > PP_UNIX_PATH_LEN)
            room = PP_UNIX_PATH_LEN;
        nul = memchr(e->sun_path, 0, room);
        a->path = (const char *)e->sun_path;
        a->path_len = nul != NULL ? (size_t)(nul - e->sun_path) : room;
        /* The raw field is 108 bytes: only where sun_path is that big. */
        a->unix_raw = room == PP_UNIX_PATH_LEN ? e->sun_path : NULL;
        return;
    }
    memcpy(a->ip, e->ip, 16);
    if (family == PP_AF_INET6 && e->family == PP_AF_INET) {
        memcpy(a->ip, wr_v4mapped_prefix, 12);   /* promote to ::ffff:v4 */
        memcpy(a->ip + 12, e->ip, 4);
    }
    a->port = e->port;
}

int pp_header_from_sockaddr(pp_header *hdr, const struct sockaddr *src,
                            const struct sockaddr *dst)
{
    wr_end s, d;
    int family;

    if (hdr == NULL || src == NULL || dst == NULL
        || !wr_read_end(src, &s) || !wr_read_end(dst, &d))
        return PP_ERR_ARG;
    if (s.family == d.family)
        family = s.family;
    else if (s.family != PP_AF_UNIX && d.family != PP_AF_UNIX)
        family = PP_AF_INET6;                 /* one INET, one INET6 */
    else
        return PP_ERR_ARG;
    memset(hdr, 0, sizeof *hdr);
    hdr->version = 2;
    hdr->command = PP_CMD_PROXY;
    hdr->family = (uint8_t)family;
    hdr->transport = PP_TRANSPORT_STREAM;
    wr_set_end(&hdr->src, &s, family);
    wr_set_end(&hdr->dst, &d, family);
    return PP_OK;
}

static int wr_fill_unix(const pp_addr *a, struct sockaddr_storage *ss,
                        socklen_t *sslen)
{
    struct sockaddr_un sun;
    size_t room = sizeof sun.sun_path;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (a->unix_raw != NULL) {
        size_t n = room < PP_UNIX_PATH_LEN ? room : PP_UNIX_PATH_LEN;
        size_t i;
        for (i = n; i < PP_UNIX_PATH_LEN; i++)   /* would be cut off */
            if (a->unix_raw[i] != 0)
                return PP_ERR_ARG;
        memcpy(sun.sun_path, a->unix_raw, n);
    } else {
        if (a->path_len > room || (a->path == NULL && a->path_len > 0))
            return PP_ERR_ARG;
        if (a->path_len > 0)
            memcpy(sun.sun_path, a->path, a->path_len);
    }
    memcpy(ss, &sun, sizeof sun);
    *sslen = (socklen_t)sizeof sun;
    return PP_OK;
}

int pp_get_sockaddr(const pp_header *hdr, int which,
                    struct sockaddr_storage *ss, socklen_t *sslen)
{
    const pp_addr *a;

    if (hdr == NULL || ss == NULL || sslen == NULL
        || (which != 0 && which != 1) || !pp_has_addresses(hdr))
        return PP_ERR_ARG;
    a = which == 0 ? &hdr->src : &hdr->dst;
    memset(ss, 0, sizeof *ss);
    switch (hdr->family) {
    case PP_AF_INET: {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        wr_port_to_net(&sin.sin_port, a->port);
        memcpy(&sin.sin_addr, a->ip, 4);
        memcpy(ss, &sin, sizeof sin);
        *sslen = (socklen_t)sizeof sin;
        return PP_OK;
    }
    case PP_AF_INET6: {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        wr_port_to_net(&sin6.sin6_port, a->port);
        memcpy(&sin6.sin6_addr, a->ip, 16);
        memcpy(ss, &sin6, sizeof sin6);
        *sslen = (socklen_t)sizeof sin6;
        return PP_OK;
    }
    case PP_AF_UNIX:
        return wr_fill_unix(a, ss, sslen);
    default:
        return PP_ERR_ARG;
    }
}

#endif /* PP_NO_SOCKETS */
