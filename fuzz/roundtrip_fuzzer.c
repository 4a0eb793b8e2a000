/*
 * roundtrip_fuzzer: write a header with pp_write_v1 / pp_write_v2 /
 * pp_dgram_write, parse it back, compare field by field.
 *
 * Input layout (missing bytes read as zero):
 *   cmd, family, transport  one byte each; bit 7 clear: cmd & 1, family % 4,
 *                           transport % 3; bit 7 set: the low bits raw
 *                           (invalid values, which must give PP_ERR_ARG)
 *   options                 bit 0 crc32c, bit 1 relay_tlvs, bit 2 pad_to,
 *                           bit 3 pad_align; bits 4-5 and 6-7: socket
 *                           address kinds of source and destination for
 *                           pp_header_from_sockaddr (0 AF_INET, 1 AF_INET6,
 *                           2 AF_UNIX, 3 AF_UNSPEC)
 *   pad (2 bytes)           pad_to = pad; pad_align = pad % 64
 *   src ip (16), dst ip (16), sport (2), dport (2)
 *   UNIX only, per side:    n; 255: the next 108 bytes are unix_raw; else
 *                           path_len = n % 128 and the path bytes
 *   user TLVs:              count % 12, then per TLV: type, length byte
 *                           (bit 7 set: a structured SSL value instead,
 *                           length byte & 0x7f bytes of sub-TLV seeds),
 *                           value bytes
 *   relay TLVs:             count % 6, same encoding (used with relay_tlvs)
 *   the rest:               datagram payload
 *
 * The expected outcome (PP_ERR_ARG, or the exact length and TLV order) is
 * computed here from the documented rules.
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "fuzz_common.h"
#include "pphdr.h"
#include "ref.h"

#define MAX_TLVS 12

/* One TLV as the harness built it; value owned by the harness. */
struct tlv_spec {
    uint8_t type;
    size_t len;
    uint8_t *value;
};

struct case_spec {
    pp_header hdr;
    pp_v2_opts opts;
    uint8_t *paths[2]; /* exact-size copies (path or unix_raw) */
    struct tlv_spec user[MAX_TLVS];
    size_t n_user;
    struct tlv_spec relay[MAX_TLVS];
    size_t n_relay;
    uint8_t opt;
    uint8_t *relay_block; /* serialised relay TLVs, exact size */
    size_t relay_len;
    pp_tlv user_tlvs[MAX_TLVS];
    const uint8_t *payload;
    size_t payload_len;
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n > 0 ? n : 1);

    FUZZ_CHECK(q != NULL);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

/* A valid SSL value: client, verify, then sub-TLVs whose types and
 * lengths come from the seed bytes (values are filler). */
static void build_ssl(struct tlv_spec *t, fuzz_in *in, size_t seeds)
{
    uint8_t buf[5 + 64 * (3 + 15)];
    size_t n = 5, i, got;
    const uint8_t *s = fuzz_bytes(in, seeds, &got);

    buf[0] = fuzz_u8(in);
    memset(buf + 1, 0, 4);
    buf[4] = fuzz_u8(in) & 1u;
    for (i = 0; i + 1 < got && i < 2 * 64; i += 2) {
        size_t l = s[i + 1] & 15u;

        buf[n] = (uint8_t)(0x21 + s[i] % 10);
        buf[n + 1] = 0;
        buf[n + 2] = (uint8_t)l;
        memset(buf + n + 3, 'a' + (int)(s[i] & 7u), l);
        n += 3 + l;
    }
    t->len = n;
    t->value = dup_bytes(buf, n);
}

static size_t read_tlvs(fuzz_in *in, struct tlv_spec *out, size_t max)
{
    size_t n = fuzz_u8(in) % (max + 1), i;

    for (i = 0; i < n; i++) {
        struct tlv_spec *t = &out[i];
        uint8_t len_byte;

        t->type = fuzz_u8(in);
        len_byte = fuzz_u8(in);
        if (len_byte & 0x80) {
            t->type = PP_TLV_SSL;
            build_ssl(t, in, len_byte & 0x7fu);
        } else {
            size_t got;
            const uint8_t *v = fuzz_bytes(in, len_byte, &got);
            uint8_t *val = malloc(len_byte > 0 ? len_byte : 1);

            FUZZ_CHECK(val != NULL);
            memset(val, 0x5a, len_byte);
            if (got > 0)
                memcpy(val, v, got);
            t->len = len_byte;
            t->value = val;
        }
    }
    return n;
}

/* What pp_parse accepts in a TLV the writer is asked to write. */
static int tlv_writable(const struct tlv_spec *t)
{
    size_t at = 5;

    switch (t->type) {
    case PP_TLV_CRC32C:
        return 0;
    case PP_TLV_UNIQUE_ID:
        return t->len <= PP_UNIQUE_ID_MAX;
    case PP_TLV_SSL:
        if (t->len < 5)
            return 0;
        while (at < t->len) {
            if (t->len - at < 3)
                return 0;
            at += 3 + (((size_t)t->value[at + 1] << 8) | t->value[at + 2]);
        }
        return at == t->len;
    default:
        return 1;
    }
}

static void read_case(struct case_spec *c, const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    pp_header *h = &c->hdr;
    uint8_t b, opt;
    uint16_t pad;
    size_t got, i;
    const uint8_t *p;

    memset(c, 0, sizeof *c);
    b = fuzz_u8(&in);
    h->command = (b & 0x80) ? (uint8_t)(b & 0x0f) : (uint8_t)(b & 1);
    b = fuzz_u8(&in);
    h->family = (b & 0x80) ? (uint8_t)(b & 0x7f) : (uint8_t)(b % 4);
    b = fuzz_u8(&in);
    h->transport = (b & 0x80) ? (uint8_t)(b & 0x7f) : (uint8_t)(b % 3);
    opt = fuzz_u8(&in);
    c->opt = opt;
    pad = fuzz_u16(&in);
    p = fuzz_bytes(&in, 16, &got);
    memcpy(h->src.ip, p, got);
    p = fuzz_bytes(&in, 16, &got);
    memcpy(h->dst.ip, p, got);
    h->src.port = fuzz_u16(&in);
    h->dst.port = fuzz_u16(&in);
    if (h->family == PP_AF_UNIX) {
        for (i = 0; i < 2; i++) {
            pp_addr *a = i == 0 ? &h->src : &h->dst;
            uint8_t n = fuzz_u8(&in);

            if (n == 255) {
                uint8_t raw[PP_UNIX_PATH_LEN];

                memset(raw, 0, sizeof raw);
                p = fuzz_bytes(&in, PP_UNIX_PATH_LEN, &got);
                memcpy(raw, p, got);
                c->paths[i] = dup_bytes(raw, PP_UNIX_PATH_LEN);
                a->unix_raw = c->paths[i];
            } else {
                uint8_t path[128];
                size_t len = n % 128u;

                memset(path, '/', sizeof path);
                p = fuzz_bytes(&in, len, &got);
                memcpy(path, p, got);
                c->paths[i] = dup_bytes(path, len);
                a->path = (const char *)c->paths[i];
                a->path_len = len;
            }
        }
    }
    c->n_user = read_tlvs(&in, c->user, MAX_TLVS - 1);
    c->n_relay = read_tlvs(&in, c->relay, 5);
    for (i = 0; i < c->n_user; i++) {
        c->user_tlvs[i].type = c->user[i].type;
        c->user_tlvs[i].len = (uint16_t)c->user[i].len;
        c->user_tlvs[i].value = c->user[i].value;
    }
    for (i = 0; i < c->n_relay; i++)
        c->relay_len += 3 + c->relay[i].len;
    c->relay_block = malloc(c->relay_len > 0 ? c->relay_len : 1);
    FUZZ_CHECK(c->relay_block != NULL);
    {
        uint8_t *q = c->relay_block;

        for (i = 0; i < c->n_relay; i++) {
            q[0] = c->relay[i].type;
            q[1] = (uint8_t)(c->relay[i].len >> 8);
            q[2] = (uint8_t)(c->relay[i].len & 0xffu);
            memcpy(q + 3, c->relay[i].value, c->relay[i].len);
            q += 3 + c->relay[i].len;
        }
    }
    c->opts.tlvs = c->n_user > 0 ? c->user_tlvs : NULL;
    c->opts.tlv_count = c->n_user;
    c->opts.crc32c = opt & 1;
    c->opts.relay_tlvs = (opt >> 1) & 1;
    c->opts.pad_to = (opt & 4) ? pad : 0;
    c->opts.pad_align = (opt & 8) ? pad % 64u : 0;
    if (c->opts.relay_tlvs && c->relay_len > 0) {
        h->tlvs = c->relay_block;
        h->tlvs_len = c->relay_len;
    }
    c->payload = in.p;
    c->payload_len = in.left;
}

static void free_case(struct case_spec *c)
{
    size_t i;

    for (i = 0; i < c->n_user; i++)
        free(c->user[i].value);
    for (i = 0; i < c->n_relay; i++)
        free(c->relay[i].value);
    free(c->relay_block);
    free(c->paths[0]);
    free(c->paths[1]);
}

static size_t block_len(unsigned family)
{
    return family == PP_AF_INET ? 12
        : family == PP_AF_INET6 ? 36
        : family == PP_AF_UNIX  ? 216
                                : 0;
}

/* The header fields pp_write_v2 can encode at all. */
static int header_valid(const pp_header *h)
{
    size_t i;

    if (h->command > PP_CMD_PROXY || h->family > PP_AF_UNIX ||
        h->transport > PP_TRANSPORT_DGRAM ||
        (h->family == PP_AF_UNSPEC) != (h->transport == PP_TRANSPORT_UNSPEC))
        return 0;
    if (h->command == PP_CMD_PROXY && h->family == PP_AF_UNIX)
        for (i = 0; i < 2; i++) {
            const pp_addr *a = i == 0 ? &h->src : &h->dst;

            if (a->unix_raw == NULL && a->path_len > PP_UNIX_PATH_LEN)
                return 0;
        }
    return 1;
}

/* Expected v2 length for an address block of `block` bytes, or 0 when the
 * writer must refuse (PP_ERR_ARG). */
static size_t expected_v2_len(const struct case_spec *c, size_t block,
                              size_t *pad_out)
{
    const pp_v2_opts *o = &c->opts;
    size_t bare = 16 + block + (o->crc32c ? 7 : 0), want, i;

    if (!header_valid(&c->hdr))
        return 0;
    for (i = 0; i < c->n_user; i++) {
        if (!tlv_writable(&c->user[i]))
            return 0;
        bare += 3 + c->user[i].len;
    }
    if (o->relay_tlvs) {
        for (i = 0; i < c->n_relay; i++) {
            const struct tlv_spec *t = &c->relay[i];

            if (t->type == PP_TLV_CRC32C || t->type == PP_TLV_NOOP)
                continue;
            if (!tlv_writable(t))
                return 0;
            bare += 3 + t->len;
        }
    }
    want = bare;
    if (o->pad_to != 0) {
        want = o->pad_to;
        if (o->pad_align > 1 && want % o->pad_align != 0)
            return 0;
    } else if (o->pad_align > 1) {
        /* the first multiple that leaves no gap or room for a NOOP TLV */
        want = (bare + o->pad_align - 1) / o->pad_align * o->pad_align;
        while (want != bare && want < bare + 3)
            want += o->pad_align;
    }
    if (want < bare || (want != bare && want < bare + 3) || want - 16 > 65535)
        return 0;
    *pad_out = want - bare;
    return want;
}

/* The TLVs of the parsed header, in order, against what was asked for. */
static void check_tlv_order(const struct case_spec *c, const pp_header *got,
                            size_t pad)
{
    pp_tlv_iter it;
    pp_tlv t;
    size_t i;

    pp_tlv_iter_init(&it, got);
    if (c->opts.crc32c) {
        FUZZ_CHECK(pp_tlv_next(&it, &t));
        FUZZ_CHECK(t.type == PP_TLV_CRC32C && t.len == 4);
    }
    if (c->opts.relay_tlvs) {
        for (i = 0; i < c->n_relay; i++) {
            const struct tlv_spec *r = &c->relay[i];

            if (r->type == PP_TLV_CRC32C || r->type == PP_TLV_NOOP)
                continue;
            FUZZ_CHECK(pp_tlv_next(&it, &t));
            FUZZ_CHECK(t.type == r->type && t.len == r->len);
            FUZZ_CHECK(memcmp(t.value, r->value, r->len) == 0);
        }
    }
    for (i = 0; i < c->n_user; i++) {
        const struct tlv_spec *u = &c->user[i];

        FUZZ_CHECK(pp_tlv_next(&it, &t));
        FUZZ_CHECK(t.type == u->type && t.len == u->len);
        FUZZ_CHECK(memcmp(t.value, u->value, u->len) == 0);
    }
    if (pad > 0) {
        FUZZ_CHECK(pp_tlv_next(&it, &t));
        FUZZ_CHECK(t.type == PP_TLV_NOOP && t.len == pad - 3);
    }
    FUZZ_CHECK(!pp_tlv_next(&it, &t));
}

/* The 108-byte field the writer should have sent for a UNIX endpoint. */
static void unix_field(const pp_addr *a, uint8_t out[PP_UNIX_PATH_LEN])
{
    memset(out, 0, PP_UNIX_PATH_LEN);
    if (a->unix_raw != NULL)
        memcpy(out, a->unix_raw, PP_UNIX_PATH_LEN);
    else if (a->path_len > 0)
        memcpy(out, a->path, a->path_len);
}

static void check_v2_fields(const pp_header *want, const pp_header *got)
{
    FUZZ_CHECK(got->version == 2);
    FUZZ_CHECK(got->command == want->command);
    FUZZ_CHECK(got->family == want->family);
    FUZZ_CHECK(got->transport == want->transport);
    FUZZ_CHECK(pp_has_addresses(got) ==
               (want->command == PP_CMD_PROXY && want->family != PP_AF_UNSPEC));
    if (!pp_has_addresses(got))
        return;
    if (want->family == PP_AF_UNIX) {
        uint8_t f[PP_UNIX_PATH_LEN];
        const void *nul;

        unix_field(&want->src, f);
        FUZZ_CHECK(memcmp(got->src.unix_raw, f, PP_UNIX_PATH_LEN) == 0);
        nul = memchr(f, 0, PP_UNIX_PATH_LEN);
        FUZZ_CHECK(
            got->src.path_len ==
            (nul ? (size_t)((const uint8_t *)nul - f) : PP_UNIX_PATH_LEN));
        unix_field(&want->dst, f);
        FUZZ_CHECK(memcmp(got->dst.unix_raw, f, PP_UNIX_PATH_LEN) == 0);
        nul = memchr(f, 0, PP_UNIX_PATH_LEN);
        FUZZ_CHECK(
            got->dst.path_len ==
            (nul ? (size_t)((const uint8_t *)nul - f) : PP_UNIX_PATH_LEN));
        return;
    }
    {
        size_t n = want->family == PP_AF_INET ? 4 : 16;

        FUZZ_CHECK(memcmp(got->src.ip, want->src.ip, n) == 0);
        FUZZ_CHECK(memcmp(got->dst.ip, want->dst.ip, n) == 0);
        FUZZ_CHECK(got->src.port == want->src.port);
        FUZZ_CHECK(got->dst.port == want->dst.port);
    }
}

static void check_v2(struct case_spec *c)
{
    const pp_header *h = &c->hdr;
    size_t pad_a = 0, pad_b = 0, pad;
    size_t with_block = expected_v2_len(c, block_len(h->family), &pad_a);
    /* The API says a LOCAL header carries no address block; the writer
     * may also send a zeroed one. Either layout must parse back. */
    size_t no_block =
        h->command == PP_CMD_LOCAL ? expected_v2_len(c, 0, &pad_b) : with_block;
    int n = pp_write_v2(NULL, 0, h, &c->opts), again;
    uint8_t *out, *small;
    pp_header got;

    /* 0 stands for PP_ERR_ARG in either layout. */
    if (n != (with_block ? (int)with_block : PP_ERR_ARG) &&
        n != (no_block ? (int)no_block : PP_ERR_ARG)) {
        fprintf(stderr,
                "pp_write_v2 measured %d, expected %zu or %zu "
                "(0: PP_ERR_ARG)\n",
                n, with_block, no_block);
        abort();
    }
    if (n == PP_ERR_ARG)
        return;
    pad = (size_t)n == with_block ? pad_a : pad_b;

    /* One byte short: the length again, nothing written. */
    small = malloc((size_t)n);
    FUZZ_CHECK(small != NULL);
    memset(small, 0xa5, (size_t)n);
    FUZZ_CHECK(pp_write_v2(small, (size_t)n - 1, h, &c->opts) == n);
    for (size_t i = 0; i < (size_t)n; i++)
        FUZZ_CHECK(small[i] == 0xa5);
    free(small);

    out = malloc((size_t)n);
    FUZZ_CHECK(out != NULL);
    again = pp_write_v2(out, (size_t)n, h, &c->opts);
    FUZZ_CHECK(again == n);
    pp_header_init(&got);
    if (pp_parse(&got, out, (size_t)n) != n) {
        fuzz_hex("written", out, (size_t)n);
        fprintf(stderr, "pp_parse of the written v2 header: %d\n",
                pp_parse(&got, out, (size_t)n));
        abort();
    }
    check_v2_fields(h, &got);
    check_tlv_order(c, &got, pad);
    if (c->opts.pad_to != 0)
        FUZZ_CHECK((size_t)n == c->opts.pad_to);
    if (c->opts.pad_align > 1)
        FUZZ_CHECK((size_t)n % c->opts.pad_align == 0);
    free(out);
}

/* v1: the exact text (RFC 5952 for IPv6; IPv4-mapped may be dotted). */
static int v1_text_ok(const pp_header *h, const char *text, size_t n)
{
    char want[160], a[64], b[64];
    int k;

    if (!(h->command == PP_CMD_PROXY && h->transport == PP_TRANSPORT_STREAM &&
          (h->family == PP_AF_INET || h->family == PP_AF_INET6)))
        return n == 15 && memcmp(text, "PROXY UNKNOWN\r\n", 15) == 0;
    if (h->family == PP_AF_INET) {
        k = snprintf(want, sizeof want,
                     "PROXY TCP4 %u.%u.%u.%u %u.%u.%u.%u %u %u\r\n",
                     h->src.ip[0], h->src.ip[1], h->src.ip[2], h->src.ip[3],
                     h->dst.ip[0], h->dst.ip[1], h->dst.ip[2], h->dst.ip[3],
                     h->src.port, h->dst.port);
        return (size_t)k == n && memcmp(want, text, n) == 0;
    }
    for (int form = 0; form < 4; form++) {
        const uint8_t *ips[2] = {h->src.ip, h->dst.ip};
        char *outs[2] = {a, b};

        for (int i = 0; i < 2; i++) {
            static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};
            const uint8_t *ip = ips[i];

            if ((form >> i) & 1) {
                if (memcmp(ip, mapped, 12) != 0)
                    break;
                snprintf(outs[i], 64, "::ffff:%u.%u.%u.%u", ip[12], ip[13],
                         ip[14], ip[15]);
            } else {
                ref_ip6_text(ip, outs[i]);
            }
            if (i == 1) {
                k = snprintf(want, sizeof want, "PROXY TCP6 %s %s %u %u\r\n", a,
                             b, h->src.port, h->dst.port);
                if ((size_t)k == n && memcmp(want, text, n) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

static void check_v1(const struct case_spec *c)
{
    const pp_header *h = &c->hdr;
    int valid = h->command <= PP_CMD_PROXY && h->family <= PP_AF_UNIX &&
        h->transport <= PP_TRANSPORT_DGRAM;
    int n = pp_write_v1(NULL, 0, h);
    char *out;
    uint8_t small[PP_V1_MAX_LEN];
    pp_header got;

    if (!valid) {
        FUZZ_CHECK(n == PP_ERR_ARG);
        return;
    }
    FUZZ_CHECK(n > 0 && (size_t)n <= PP_V1_MAX_LEN);
    memset(small, 0xa5, sizeof small);
    FUZZ_CHECK(pp_write_v1(small, (size_t)n - 1, h) == n);
    for (size_t i = 0; i < sizeof small; i++)
        FUZZ_CHECK(small[i] == 0xa5);
    out = malloc((size_t)n);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(pp_write_v1(out, (size_t)n, h) == n);
    if (!v1_text_ok(h, out, (size_t)n)) {
        fuzz_hex("v1 line", out, (size_t)n);
        fuzz_hex("src ip", h->src.ip, 16);
        fuzz_hex("dst ip", h->dst.ip, 16);
        abort();
    }
    pp_header_init(&got);
    FUZZ_CHECK(pp_parse(&got, out, (size_t)n) == n);
    FUZZ_CHECK(got.version == 1 && got.command == PP_CMD_PROXY);
    if (n == 15) {
        FUZZ_CHECK(got.family == PP_AF_UNSPEC && !pp_has_addresses(&got));
    } else {
        size_t len = h->family == PP_AF_INET ? 4 : 16;

        FUZZ_CHECK(got.family == h->family);
        FUZZ_CHECK(got.transport == PP_TRANSPORT_STREAM);
        FUZZ_CHECK(memcmp(got.src.ip, h->src.ip, len) == 0);
        FUZZ_CHECK(memcmp(got.dst.ip, h->dst.ip, len) == 0);
        FUZZ_CHECK(got.src.port == h->src.port && got.dst.port == h->dst.port);
    }
    free(out);
}

/* Datagram: header then payload, and back. */
static void check_dgram(const struct case_spec *c)
{
    int hl = pp_write_v2(NULL, 0, &c->hdr, &c->opts), n, rc;
    size_t total;
    uint8_t *out, *canary;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    pp_header got;

    if (hl < 0) {
        FUZZ_CHECK(pp_dgram_write(NULL, 0, &c->hdr, &c->opts, c->payload,
                                  c->payload_len) == hl);
        return;
    }
    total = (size_t)hl + c->payload_len;
    n = pp_dgram_write(NULL, 0, &c->hdr, &c->opts, c->payload, c->payload_len);
    FUZZ_CHECK(n > 0 && (size_t)n == total);
    canary = malloc(total);
    FUZZ_CHECK(canary != NULL);
    memset(canary, 0xa5, total);
    FUZZ_CHECK(pp_dgram_write(canary, total - 1, &c->hdr, &c->opts, c->payload,
                              c->payload_len) == n);
    for (size_t i = 0; i < total; i++)
        FUZZ_CHECK(canary[i] == 0xa5);
    free(canary);
    out = malloc(total);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(pp_dgram_write(out, total, &c->hdr, &c->opts, c->payload,
                              c->payload_len) == n);
    pp_header_init(&got);
    rc = pp_dgram_parse(&got, out, total, &payload, &payload_len);
    FUZZ_CHECK(rc == hl);
    FUZZ_CHECK(payload == out + hl && payload_len == c->payload_len);
    if (c->payload_len > 0)
        FUZZ_CHECK(memcmp(payload, c->payload, c->payload_len) == 0);
    check_v2_fields(&c->hdr, &got);
    /* Cut inside the header: truncated, never a header. */
    if (hl > 1) {
        pp_header cut;

        pp_header_init(&cut);
        FUZZ_CHECK(pp_dgram_parse(&cut, out, (size_t)hl - 1, &payload,
                                  &payload_len) == PP_ERR_TRUNCATED);
    }
    free(out);
}

/* pp_header_from_sockaddr then pp_get_src / pp_get_dst. */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct end_model {
    int family;     /* PP_AF_*, -1 when not usable */
    uint8_t ip[16]; /* INET: first 4 bytes */
    uint16_t port;
    uint8_t sun_path[108];
};

static void make_sockaddr(unsigned kind, const pp_addr *a,
                          struct sockaddr_storage *ss, struct end_model *m)
{
    memset(ss, 0, sizeof *ss);
    memset(m, 0, sizeof *m);
    m->port = a->port;
    if (kind == 0) {
        struct sockaddr_in sin;

        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a->port);
        memcpy(&sin.sin_addr, a->ip, 4);
        memcpy(ss, &sin, sizeof sin);
        m->family = PP_AF_INET;
        memcpy(m->ip, a->ip, 4);
    } else if (kind == 1) {
        struct sockaddr_in6 sin6;

        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(a->port);
        memcpy(&sin6.sin6_addr, a->ip, 16);
        memcpy(ss, &sin6, sizeof sin6);
        /* An IPv4-mapped peer is an IPv4 peer. */
        if (memcmp(a->ip, v4mapped, 12) == 0) {
            m->family = PP_AF_INET;
            memcpy(m->ip, a->ip + 12, 4);
        } else {
            m->family = PP_AF_INET6;
            memcpy(m->ip, a->ip, 16);
        }
    } else if (kind == 2) {
        struct sockaddr_un sun;

        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        /* A path from the address bytes; the whole field when the port
         * is odd (no NUL at all). */
        if (a->port & 1u)
            memset(sun.sun_path, 'p', sizeof sun.sun_path);
        memcpy(sun.sun_path, a->ip, 16);
        memcpy(ss, &sun, sizeof sun);
        memcpy(m->sun_path, sun.sun_path, sizeof m->sun_path);
        m->family = PP_AF_UNIX;
        m->port = 0;
    } else {
        ss->ss_family = AF_UNSPEC;
        m->family = -1;
    }
}

static void check_from_sockaddr(const struct case_spec *c)
{
    struct sockaddr_storage ss[2], back;
    struct end_model m[2];
    pp_header h;
    socklen_t len;
    int family, rc, i;

    make_sockaddr((c->opt >> 4) & 3u, &c->hdr.src, &ss[0], &m[0]);
    make_sockaddr((c->opt >> 6) & 3u, &c->hdr.dst, &ss[1], &m[1]);
    if (m[0].family < 0 || m[1].family < 0)
        family = -1;
    else if (m[0].family == m[1].family)
        family = m[0].family;
    else if (m[0].family != PP_AF_UNIX && m[1].family != PP_AF_UNIX)
        family = PP_AF_INET6;
    else
        family = -1;
    rc = pp_header_from_sockaddr(&h, (const struct sockaddr *)&ss[0],
                                 (const struct sockaddr *)&ss[1]);
    if (family < 0) {
        FUZZ_CHECK(rc == PP_ERR_ARG);
        return;
    }
    FUZZ_CHECK(rc == PP_OK);
    FUZZ_CHECK(h.command == PP_CMD_PROXY && h.transport == PP_TRANSPORT_STREAM);
    FUZZ_CHECK(h.family == family && pp_has_addresses(&h));
    for (i = 0; i < 2; i++) {
        const pp_addr *a = i == 0 ? &h.src : &h.dst;
        uint8_t want[16];

        FUZZ_CHECK((i == 0 ? pp_get_src(&h, &back, &len)
                           : pp_get_dst(&h, &back, &len)) == PP_OK);
        if (family == PP_AF_UNIX) {
            struct sockaddr_un sun;
            const void *nul = memchr(m[i].sun_path, 0, sizeof m[i].sun_path);

            FUZZ_CHECK(a->path_len ==
                       (nul ? (size_t)((const uint8_t *)nul - m[i].sun_path)
                            : sizeof m[i].sun_path));
            FUZZ_CHECK(memcmp(a->path, m[i].sun_path, a->path_len) == 0);
            FUZZ_CHECK(len <= sizeof sun);
            memcpy(&sun, &back, sizeof sun);
            FUZZ_CHECK(sun.sun_family == AF_UNIX);
            if (m[i].sun_path[0] == 0) {
                /* An abstract name goes through whole. */
                FUZZ_CHECK(memcmp(sun.sun_path, m[i].sun_path,
                                  sizeof sun.sun_path) == 0);
            } else {
                /* A path name up to its NUL, then zeros: what followed
                 * it in the caller's sockaddr never reaches the wire. */
                size_t k;
                FUZZ_CHECK(memcmp(sun.sun_path, m[i].sun_path, a->path_len) ==
                           0);
                for (k = a->path_len; k < sizeof sun.sun_path; k++)
                    FUZZ_CHECK(sun.sun_path[k] == 0);
            }
            continue;
        }
        /* INET6 with an IPv4 side: that side as ::ffff:a.b.c.d. */
        if (family == PP_AF_INET6 && m[i].family == PP_AF_INET) {
            memcpy(want, v4mapped, 12);
            memcpy(want + 12, m[i].ip, 4);
        } else {
            memcpy(want, m[i].ip, 16);
        }
        FUZZ_CHECK(memcmp(a->ip, want, family == PP_AF_INET ? 4 : 16) == 0);
        FUZZ_CHECK(a->port == m[i].port);
        if (family == PP_AF_INET) {
            struct sockaddr_in sin;

            FUZZ_CHECK(len == sizeof sin);
            memcpy(&sin, &back, sizeof sin);
            FUZZ_CHECK(sin.sin_family == AF_INET &&
                       ntohs(sin.sin_port) == m[i].port);
            FUZZ_CHECK(memcmp(&sin.sin_addr, want, 4) == 0);
        } else {
            struct sockaddr_in6 sin6;

            FUZZ_CHECK(len == sizeof sin6);
            memcpy(&sin6, &back, sizeof sin6);
            FUZZ_CHECK(sin6.sin6_family == AF_INET6 &&
                       ntohs(sin6.sin6_port) == m[i].port);
            FUZZ_CHECK(memcmp(&sin6.sin6_addr, want, 16) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct case_spec c;

    read_case(&c, data, size);
    check_v2(&c);
    check_v1(&c);
    check_dgram(&c);
    check_from_sockaddr(&c);
    free_case(&c);
    return 0;
}
