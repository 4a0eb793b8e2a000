/*
 * ppdump_render - JSON rendering of a pp_parse result (see ppdump_render.h).
 *
 * Everything goes through a small bounded writer (struct sink) that counts
 * every byte it is asked to write but stores only those that fit, so the
 * same code measures and writes.
 */
#include "ppdump_render.h"

#include <stdint.h>
#include <string.h>

/* A bounded output: n counts all bytes produced, the first cap - 1 of them
 * are stored (the last cell is kept for the NUL). */
struct sink {
    char *out;
    size_t cap;
    size_t n;
};

static void put_char(struct sink *s, char c)
{
    if (s->cap > 0 && s->n < s->cap - 1)
        s->out[s->n] = c;
    s->n++;
}

static void put_str(struct sink *s, const char *str)
{
    while (*str != '\0')
        put_char(s, *str++);
}

static const char hex_digits[] = "0123456789abcdef";

static void put_hex_byte(struct sink *s, uint8_t b)
{
    put_char(s, hex_digits[b >> 4]);
    put_char(s, hex_digits[b & 0xfu]);
}

static void put_uint(struct sink *s, uint64_t v)
{
    char digits[20]; /* 2^64 - 1 has 20 decimal digits */
    size_t k = 0;

    do {
        digits[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    while (k > 0)
        put_char(s, digits[--k]);
}

/* Lowercase hex of the bytes, quoted. */
static void put_hex_string(struct sink *s, const uint8_t *p, size_t len)
{
    size_t i;

    put_char(s, '"');
    for (i = 0; i < len; i++)
        put_hex_byte(s, p[i]);
    put_char(s, '"');
}

/* Bytes as a quoted JSON string. Printable ASCII passes through except '"'
 * and '\\'; every other byte (controls, DEL, and each byte >= 0x80, which
 * is not decoded as UTF-8) becomes \u00XX of its value, so the output is
 * always valid ASCII JSON. */
static void put_json_bytes(struct sink *s, const uint8_t *p, size_t len)
{
    size_t i;

    put_char(s, '"');
    for (i = 0; i < len; i++) {
        uint8_t b = p[i];
        if (b == '"' || b == '\\') {
            put_char(s, '\\');
            put_char(s, (char)b);
        } else if (b >= 0x20 && b < 0x7f) {
            put_char(s, (char)b);
        } else {
            put_str(s, "\\u00");
            put_hex_byte(s, b);
        }
    }
    put_char(s, '"');
}

/* ,"key": */
static void put_key(struct sink *s, const char *key)
{
    put_str(s, ",\"");
    put_str(s, key);
    put_str(s, "\":");
}

static void put_key_str(struct sink *s, const char *key, const char *value)
{
    put_key(s, key);
    put_char(s, '"');
    put_str(s, value);
    put_char(s, '"');
}

static void put_key_uint(struct sink *s, const char *key, uint64_t value)
{
    put_key(s, key);
    put_uint(s, value);
}

/* ------------------------------------------------------------------------
 * Addresses
 * ---------------------------------------------------------------------- */

static void put_ip4_text(struct sink *s, const uint8_t ip[4])
{
    int i;

    for (i = 0; i < 4; i++) {
        if (i > 0)
            put_char(s, '.');
        put_uint(s, ip[i]);
    }
}

/* One IPv6 group in hex, lowercase, without leading zeros. */
static void put_ip6_group(struct sink *s, unsigned g)
{
    int shift = 12;

    while (shift > 0 && ((g >> shift) & 0xfu) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        put_char(s, hex_digits[(g >> shift) & 0xfu]);
}

/* RFC 5952 text: lowercase, no leading zeros, the longest run of two or
 * more zero groups as "::" (the leftmost one on ties), and ::ffff:0:0/96
 * (IPv4-mapped) with a dotted IPv4 tail. */
static void put_ip6_text(struct sink *s, const uint8_t ip[16])
{
    unsigned groups[8];
    size_t i, run_start = 8, run_len = 0;

    for (i = 0; i < 8; i++)
        groups[i] = ((unsigned)ip[2 * i] << 8) | ip[2 * i + 1];

    if (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 &&
        groups[4] == 0 && groups[5] == 0xffffu) {
        put_str(s, "::ffff:");
        put_ip4_text(s, ip + 12);
        return;
    }

    /* Longest zero run; strict '>' keeps the leftmost on ties. */
    for (i = 0; i < 8;) {
        size_t j = i;
        while (j < 8 && groups[j] == 0)
            j++;
        if (j - i >= 2 && j - i > run_len) {
            run_start = i;
            run_len = j - i;
        }
        i = (j > i) ? j : i + 1;
    }

    for (i = 0; i < 8;) {
        if (run_len > 0 && i == run_start) {
            put_str(s, "::");
            i += run_len;
            continue;
        }
        if (i > 0 && !(run_len > 0 && i == run_start + run_len))
            put_char(s, ':');
        put_ip6_group(s, groups[i]);
        i++;
    }
}

/* "src"/"dst" and, except for UNIX, "sport"/"dport". */
static void put_endpoint(struct sink *s, const pp_header *hdr, const pp_addr *a,
                         const char *addr_key, const char *port_key)
{
    put_key(s, addr_key);
    if (hdr->family == PP_AF_UNIX) {
        put_json_bytes(s, (const uint8_t *)a->path,
                       a->path != NULL ? a->path_len : 0);
        return;
    }
    put_char(s, '"');
    if (hdr->family == PP_AF_INET6)
        put_ip6_text(s, a->ip);
    else
        put_ip4_text(s, a->ip);
    put_char(s, '"');
    put_key_uint(s, port_key, a->port);
}

/* ------------------------------------------------------------------------
 * Header fields
 * ---------------------------------------------------------------------- */

static const char *family_name(const pp_header *hdr)
{
    if (hdr->version == 1) {
        if (hdr->family == PP_AF_INET)
            return "TCP4";
        if (hdr->family == PP_AF_INET6)
            return "TCP6";
        return "UNKNOWN";
    }
    switch (((unsigned)hdr->family << 4) | hdr->transport) {
    case 0x00:
        return "UNSPEC";
    case 0x11:
        return "TCP4";
    case 0x12:
        return "UDP4";
    case 0x21:
        return "TCP6";
    case 0x22:
        return "UDP6";
    case 0x31:
        return "UNIX";
    case 0x32:
        return "UNIX_DGRAM";
    default:
        return "INVALID"; /* pp_parse never reports such a header */
    }
}

static const char *tlv_name(uint8_t type)
{
    switch (type) {
    case PP_TLV_ALPN:
        return "ALPN";
    case PP_TLV_AUTHORITY:
        return "AUTHORITY";
    case PP_TLV_CRC32C:
        return "CRC32C";
    case PP_TLV_NOOP:
        return "NOOP";
    case PP_TLV_UNIQUE_ID:
        return "UNIQUE_ID";
    case PP_TLV_SSL:
        return "SSL";
    case PP_TLV_NETNS:
        return "NETNS";
    case PP_TLV_AWS:
        return "AWS";
    case PP_TLV_AZURE:
        return "AZURE";
    case PP_TLV_GCP:
        return "GCP";
    default:
        return NULL;
    }
}

static const char *ssl_sub_name(uint8_t type)
{
    switch (type) {
    case PP_SSL_VERSION:
        return "VERSION";
    case PP_SSL_CN:
        return "CN";
    case PP_SSL_CIPHER:
        return "CIPHER";
    case PP_SSL_SIG_ALG:
        return "SIG_ALG";
    case PP_SSL_KEY_ALG:
        return "KEY_ALG";
    case PP_SSL_GROUP:
        return "GROUP";
    case PP_SSL_SIG_SCHEME:
        return "SIG_SCHEME";
    case PP_SSL_CLIENT_CERT:
        return "CLIENT_CERT";
    default:
        return NULL;
    }
}

/* SSL sub-types whose value is a string. */
static int ssl_sub_is_text(uint8_t type)
{
    return type >= PP_SSL_VERSION && type <= PP_SSL_SIG_SCHEME;
}

/* {"type":N[,"name":...],"hex":"..." ... without the closing brace. */
static void put_tlv_start(struct sink *s, const pp_tlv *t, const char *name)
{
    put_str(s, "{\"type\":");
    put_uint(s, t->type);
    if (name != NULL)
        put_key_str(s, "name", name);
    put_key(s, "hex");
    put_hex_string(s, t->value, t->len);
}

static void put_ssl_fields(struct sink *s, const pp_header *one,
                           const pp_tlv *t)
{
    pp_ssl_info info;
    pp_tlv_iter it;
    pp_tlv sub;
    int first = 1;

    if (!pp_ssl(one, &info))
        return;
    put_key_uint(s, "client", info.client);
    put_key_uint(s, "verify", info.verify);
    put_key(s, "sub");
    put_char(s, '[');
    pp_ssl_iter_init(&it, t);
    while (pp_tlv_next(&it, &sub)) {
        if (!first)
            put_char(s, ',');
        first = 0;
        put_tlv_start(s, &sub, ssl_sub_name(sub.type));
        if (ssl_sub_is_text(sub.type)) {
            put_key(s, "text");
            put_json_bytes(s, sub.value, sub.len);
        }
        put_char(s, '}');
    }
    put_char(s, ']');
}

/* GCP PSC ids above 2^53 would lose precision as JSON numbers in most
 * readers (doubles), so those are written as decimal strings. */
static void put_psc_id(struct sink *s, uint64_t id)
{
    const uint64_t exact_limit = (uint64_t)1 << 53;

    put_key(s, "psc_id");
    if (id <= exact_limit) {
        put_uint(s, id);
    } else {
        put_char(s, '"');
        put_uint(s, id);
        put_char(s, '"');
    }
}

/* The decoded keys of one TLV. Each TLV is decoded with the library's typed
 * accessor applied to a copy of the header whose TLV block is narrowed to
 * this TLV alone, so repeated types are each decoded, and a key appears
 * only when the accessor accepts that TLV. */
static void put_tlv_decoded(struct sink *s, const pp_header *hdr,
                            const pp_tlv *t)
{
    pp_header one = *hdr;
    pp_bytes b;
    uint32_t u32;
    uint64_t u64;

    one.tlvs = t->value - 3; /* the TLV's own type and length bytes */
    one.tlvs_len = 3u + (size_t)t->len;

    switch (t->type) {
    case PP_TLV_ALPN:
        if (pp_alpn(&one, &b)) {
            put_key(s, "text");
            put_json_bytes(s, b.ptr, b.len);
        }
        break;
    case PP_TLV_AUTHORITY:
        if (pp_authority(&one, &b)) {
            put_key(s, "text");
            put_json_bytes(s, b.ptr, b.len);
        }
        break;
    case PP_TLV_NETNS:
        if (pp_netns(&one, &b)) {
            put_key(s, "text");
            put_json_bytes(s, b.ptr, b.len);
        }
        break;
    case PP_TLV_SSL:
        put_ssl_fields(s, &one, t);
        break;
    case PP_TLV_AWS:
        if (pp_aws_vpce_id(&one, &b)) {
            put_key(s, "vpce_id");
            put_json_bytes(s, b.ptr, b.len);
        }
        break;
    case PP_TLV_AZURE:
        if (pp_azure_linkid(&one, &u32))
            put_key_uint(s, "linkid", u32);
        break;
    case PP_TLV_GCP:
        if (pp_gcp_psc_id(&one, &u64))
            put_psc_id(s, u64);
        break;
    default:
        break;
    }
}

static void put_tlvs(struct sink *s, const pp_header *hdr)
{
    pp_tlv_iter it;
    pp_tlv t;
    int first = 1;

    put_key(s, "tlvs");
    put_char(s, '[');
    if (hdr->version == 2) {
        pp_tlv_iter_init(&it, hdr);
        while (pp_tlv_next(&it, &t)) {
            if (!first)
                put_char(s, ',');
            first = 0;
            put_tlv_start(s, &t, tlv_name(t.type));
            put_tlv_decoded(s, hdr, &t);
            put_char(s, '}');
        }
    }
    put_char(s, ']');
}

static void put_ok(struct sink *s, int result, const pp_header *hdr)
{
    put_str(s, "{\"result\":\"ok\"");
    put_key_uint(s, "consumed", (uint64_t)result);
    put_key_uint(s, "version", hdr->version);
    put_key_str(s, "command", hdr->command == PP_CMD_PROXY ? "PROXY" : "LOCAL");
    put_key_str(s, "family", family_name(hdr));
    if (pp_has_addresses(hdr)) {
        put_endpoint(s, hdr, &hdr->src, "src", "sport");
        put_endpoint(s, hdr, &hdr->dst, "dst", "dport");
    }
    put_tlvs(s, hdr);
    put_char(s, '}');
}

static void put_incomplete(struct sink *s, const pp_header *hdr, size_t len)
{
    size_t expected = pp_expected_len(hdr);

    put_str(s, "{\"result\":\"incomplete\"");
    if (expected > len)
        put_key_uint(s, "need", (uint64_t)(expected - len));
    put_char(s, '}');
}

static void put_error(struct sink *s, int result)
{
    const char *name = pp_status_name(result);
    const char *message = pp_strerror(result);

    put_str(s, "{\"result\":\"error\"");
    put_key(s, "error");
    put_json_bytes(s, (const uint8_t *)name, strlen(name));
    put_key(s, "message");
    put_json_bytes(s, (const uint8_t *)message, strlen(message));
    put_char(s, '}');
}

size_t ppdump_render_json(char *out, size_t cap, int result,
                          const pp_header *hdr, const void *buf, size_t len)
{
    struct sink s;

    (void)buf; /* hdr's views already point into it */
    s.out = out;
    s.cap = cap;
    s.n = 0;

    if (result > 0)
        put_ok(&s, result, hdr);
    else if (result == PP_INCOMPLETE)
        put_incomplete(&s, hdr, len);
    else
        put_error(&s, result);

    if (cap > 0)
        out[s.n < cap - 1 ? s.n : cap - 1] = '\0';
    return s.n;
}
