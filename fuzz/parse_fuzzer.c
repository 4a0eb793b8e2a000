/*
 * parse_fuzzer: pp_parse on arbitrary bytes.
 *
 * Each input is parsed twice: whole, with default settings, and without its
 * first byte, with max_len and flags chosen by that byte. Every result is
 * compared with the reference semantics (ref.c); every accepted header has
 * its invariants checked, its TLVs and SSL sub-TLVs walked, every typed
 * accessor and pp_get_src/pp_get_dst called and cross-checked, and it is
 * rendered with the ppdump JSON renderer.
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "fuzz_common.h"
#include "ppdump_render.h"
#include "pphdr.h"
#include "ref.h"

static void report(const char *what, const uint8_t *buf, size_t len,
                   size_t max_len, unsigned flags, int got,
                   const ref_result *ref)
{
    fprintf(stderr, "parse_fuzzer: %s\n", what);
    fuzz_hex("input", buf, len);
    fprintf(stderr, "max_len=%zu flags=%u got=%d (%s)\n", max_len, flags, got,
            got > 0 ? "length" : pp_status_name(got));
    ref_print(ref);
    abort();
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
        ((uint32_t)p[2] << 8) | p[3];
}

static int addr_is_empty(const pp_addr *a)
{
    static const uint8_t zero[16];

    return memcmp(a->ip, zero, 16) == 0 && a->port == 0 && a->path == NULL &&
        a->path_len == 0 && a->unix_raw == NULL;
}

/* The first TLV of each type, from our own walk. */
struct tlv_index {
    const uint8_t *value[256];
    uint16_t len[256];
};

static void check_bytes_accessor(int got, const pp_bytes *b,
                                 const struct tlv_index *ix, uint8_t type)
{
    FUZZ_CHECK(got == (ix->value[type] != NULL));
    if (got) {
        FUZZ_CHECK(b->ptr == ix->value[type]);
        FUZZ_CHECK(b->len == ix->len[type]);
    }
}

/* The sub-TLVs of one SSL TLV: they tile value[5..len) exactly. */
static void check_ssl(const pp_tlv *ssl)
{
    const uint8_t *expect = ssl->value + 5;
    const uint8_t *end = ssl->value + ssl->len;
    pp_tlv_iter it;
    pp_tlv sub;
    int fuse = 70000;

    FUZZ_CHECK(ssl->len >= 5);
    pp_ssl_iter_init(&it, ssl);
    while (pp_tlv_next(&it, &sub)) {
        FUZZ_CHECK(--fuse > 0);
        FUZZ_CHECK(sub.value == expect + 3);
        FUZZ_CHECK(sub.type == expect[0]);
        FUZZ_CHECK(sub.len == ((expect[1] << 8) | expect[2]));
        FUZZ_CHECK(sub.value + sub.len <= end);
        expect = sub.value + sub.len;
    }
    FUZZ_CHECK(expect == end);
    FUZZ_CHECK(!pp_tlv_next(&it, &sub));
}

static void check_ssl_info(const pp_header *h, const struct tlv_index *ix)
{
    pp_ssl_info info;
    int got = pp_ssl(h, &info);
    const uint8_t *v = ix->value[PP_TLV_SSL];
    const pp_bytes *fields[8];
    uint8_t t;

    FUZZ_CHECK(got == (v != NULL));
    if (!got)
        return;
    FUZZ_CHECK(info.client == v[0]);
    FUZZ_CHECK(info.verify == be32(v + 1));
    fields[0] = &info.version;
    fields[1] = &info.cn;
    fields[2] = &info.cipher;
    fields[3] = &info.sig_alg;
    fields[4] = &info.key_alg;
    fields[5] = &info.group;
    fields[6] = &info.sig_scheme;
    fields[7] = &info.client_cert;
    for (t = PP_SSL_VERSION; t <= PP_SSL_CLIENT_CERT; t++) {
        /* Our expectation: the first sub-TLV of that type. */
        const uint8_t *p = v + 5, *end = v + ix->len[PP_TLV_SSL];
        const pp_bytes *f = fields[t - PP_SSL_VERSION];
        const uint8_t *want = NULL;
        size_t want_len = 0;

        while (p < end) {
            size_t l = ((size_t)p[1] << 8) | p[2];

            if (p[0] == t) {
                want = p + 3;
                want_len = l;
                break;
            }
            p += 3 + l;
        }
        FUZZ_CHECK(f->ptr == want);
        FUZZ_CHECK(f->len == want_len);
    }
}

static void check_cloud(const pp_header *h, const struct tlv_index *ix)
{
    pp_bytes b;
    uint32_t linkid = 0;
    uint64_t psc = 0;
    const uint8_t *v;
    size_t l;
    int got;

    /* AWS: the first 0xEA TLV, subtype 1, then a non-empty id. */
    got = pp_aws_vpce_id(h, &b);
    v = ix->value[PP_TLV_AWS];
    l = ix->len[PP_TLV_AWS];
    if (v != NULL && l >= 2 && v[0] == 0x01) {
        FUZZ_CHECK(got == 1);
        FUZZ_CHECK(b.ptr == v + 1 && b.len == l - 1);
    } else {
        FUZZ_CHECK(got == 0 || (v != NULL && l == 1 && v[0] == 0x01));
    }

    /* Azure: the first 0xEE TLV, subtype 1, 4 bytes little-endian. */
    got = pp_azure_linkid(h, &linkid);
    v = ix->value[PP_TLV_AZURE];
    l = ix->len[PP_TLV_AZURE];
    FUZZ_CHECK(got == (v != NULL && l == 5 && v[0] == 0x01));
    if (got)
        FUZZ_CHECK(linkid ==
                   ((uint32_t)v[1] | (uint32_t)v[2] << 8 |
                    (uint32_t)v[3] << 16 | (uint32_t)v[4] << 24));

    /* GCP: the first 0xE0 TLV, exactly 8 bytes big-endian. */
    got = pp_gcp_psc_id(h, &psc);
    v = ix->value[PP_TLV_GCP];
    l = ix->len[PP_TLV_GCP];
    FUZZ_CHECK(got == (v != NULL && l == 8));
    if (got)
        FUZZ_CHECK(psc == (((uint64_t)be32(v) << 32) | be32(v + 4)));
}

/* Walk the TLV block; check it tiles [tlvs, tlvs + tlvs_len) and the
 * rules the parser promises; then every accessor against the walk. */
static void check_tlvs(const pp_header *h, const uint8_t *buf)
{
    static struct tlv_index ix;
    static const uint8_t probe_types[] = {
        0x00,        PP_TLV_ALPN,      PP_TLV_AUTHORITY, PP_TLV_CRC32C,
        PP_TLV_NOOP, PP_TLV_UNIQUE_ID, PP_TLV_SSL,       PP_TLV_NETNS,
        PP_TLV_GCP,  PP_TLV_AWS,       PP_TLV_AZURE,     0xff};
    const uint8_t *expect = h->tlvs;
    pp_tlv_iter it;
    pp_tlv t;
    size_t sum = 0, i;
    int crcs = 0;
    pp_bytes b;

    memset((void *)&ix, 0, sizeof ix);
    if (h->tlvs == NULL) {
        FUZZ_CHECK(h->tlvs_len == 0);
    } else {
        FUZZ_CHECK(h->tlvs_len > 0);
        FUZZ_CHECK(h->tlvs >= buf + 16);
        FUZZ_CHECK(h->tlvs + h->tlvs_len == buf + h->length);
    }
    pp_tlv_iter_init(&it, h);
    while (pp_tlv_next(&it, &t)) {
        FUZZ_CHECK(h->tlvs != NULL);
        FUZZ_CHECK(t.value == expect + 3);
        FUZZ_CHECK(t.type == expect[0]);
        FUZZ_CHECK(t.len == ((expect[1] << 8) | expect[2]));
        sum += 3 + (size_t)t.len;
        FUZZ_CHECK(sum <= h->tlvs_len);
        if (ix.value[t.type] == NULL) {
            ix.value[t.type] = t.value;
            ix.len[t.type] = t.len;
        }
        if (t.type == PP_TLV_CRC32C) {
            FUZZ_CHECK(t.len == 4);
            FUZZ_CHECK(++crcs == 1);
        }
        if (t.type == PP_TLV_UNIQUE_ID)
            FUZZ_CHECK(t.len <= PP_UNIQUE_ID_MAX);
        if (t.type == PP_TLV_SSL)
            check_ssl(&t);
        expect = t.value + t.len;
    }
    FUZZ_CHECK(sum == h->tlvs_len);
    FUZZ_CHECK(!pp_tlv_next(&it, &t));

    for (i = 0; i < sizeof probe_types; i++) {
        uint8_t type = probe_types[i];
        int got = pp_tlv_find(h, type, &t);

        FUZZ_CHECK(got == (ix.value[type] != NULL));
        if (got)
            FUZZ_CHECK(t.type == type && t.value == ix.value[type] &&
                       t.len == ix.len[type]);
    }
    check_bytes_accessor(pp_alpn(h, &b), &b, &ix, PP_TLV_ALPN);
    check_bytes_accessor(pp_authority(h, &b), &b, &ix, PP_TLV_AUTHORITY);
    check_bytes_accessor(pp_unique_id(h, &b), &b, &ix, PP_TLV_UNIQUE_ID);
    check_bytes_accessor(pp_netns(h, &b), &b, &ix, PP_TLV_NETNS);
    check_ssl_info(h, &ix);
    check_cloud(h, &ix);
}

static void check_sockaddr(const pp_header *h, int which)
{
    const pp_addr *a = which == 0 ? &h->src : &h->dst;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int rc =
        which == 0 ? pp_get_src(h, &ss, &sslen) : pp_get_dst(h, &ss, &sslen);

    if (!pp_has_addresses(h)) {
        FUZZ_CHECK(rc == PP_ERR_ARG);
        return;
    }
    FUZZ_CHECK(rc == PP_OK);
    if (h->family == PP_AF_INET) {
        struct sockaddr_in sin;

        FUZZ_CHECK(sslen == sizeof sin);
        memcpy(&sin, &ss, sizeof sin);
        FUZZ_CHECK(sin.sin_family == AF_INET);
        FUZZ_CHECK(ntohs(sin.sin_port) == a->port);
        FUZZ_CHECK(memcmp(&sin.sin_addr, a->ip, 4) == 0);
    } else if (h->family == PP_AF_INET6) {
        struct sockaddr_in6 sin6;

        FUZZ_CHECK(sslen == sizeof sin6);
        memcpy(&sin6, &ss, sizeof sin6);
        FUZZ_CHECK(sin6.sin6_family == AF_INET6);
        FUZZ_CHECK(ntohs(sin6.sin6_port) == a->port);
        FUZZ_CHECK(memcmp(&sin6.sin6_addr, a->ip, 16) == 0);
    } else {
        struct sockaddr_un sun;

        FUZZ_CHECK(h->family == PP_AF_UNIX);
        FUZZ_CHECK(sslen <= sizeof sun);
        FUZZ_CHECK(sslen >=
                   offsetof(struct sockaddr_un, sun_path) + a->path_len);
        memcpy(&sun, &ss, sizeof sun);
        FUZZ_CHECK(sun.sun_family == AF_UNIX);
        FUZZ_CHECK(memcmp(sun.sun_path, a->path, a->path_len) == 0);
    }
}

static void check_address(const pp_header *h, const pp_addr *a,
                          const uint8_t *raw, const uint8_t *ip, uint16_t port)
{
    if (h->family == PP_AF_UNIX) {
        const void *nul = memchr(raw, 0, PP_UNIX_PATH_LEN);
        size_t n =
            nul ? (size_t)((const uint8_t *)nul - raw) : PP_UNIX_PATH_LEN;

        FUZZ_CHECK(a->unix_raw == raw);
        FUZZ_CHECK(a->path == (const char *)raw);
        FUZZ_CHECK(a->path_len == n);
        FUZZ_CHECK(a->port == 0);
        return;
    }
    FUZZ_CHECK(memcmp(a->ip, ip, h->family == PP_AF_INET ? 4 : 16) == 0);
    FUZZ_CHECK(a->port == port);
    FUZZ_CHECK(a->path == NULL && a->path_len == 0 && a->unix_raw == NULL);
}

/* A complete header was accepted: compare with the reference and check
 * what the API promises about it. */
static void check_header(const pp_header *h, const uint8_t *buf, size_t len,
                         int r, const ref_result *ref)
{
    int has = pp_has_addresses(h);

    FUZZ_CHECK((size_t)r <= len);
    FUZZ_CHECK(h->length == (size_t)r);
    FUZZ_CHECK(pp_expected_len(h) == (size_t)r);
    if (h->max_len != 0)
        FUZZ_CHECK(h->length <= h->max_len);
    FUZZ_CHECK(h->version == ref->version);
    FUZZ_CHECK(h->command == ref->command);
    FUZZ_CHECK(h->family == ref->family);
    FUZZ_CHECK(h->transport == ref->transport);
    FUZZ_CHECK(has ==
               (h->command == PP_CMD_PROXY && h->family >= PP_AF_INET &&
                h->family <= PP_AF_UNIX));
    if (h->version == 1) {
        FUZZ_CHECK(!(h->flags & PP_F_NO_V1));
        FUZZ_CHECK(h->length <= PP_V1_MAX_LEN);
        FUZZ_CHECK(h->tlvs == NULL && h->tlvs_len == 0);
    } else {
        FUZZ_CHECK(!(h->flags & PP_F_NO_V2));
        FUZZ_CHECK(h->length == 16 + (((size_t)buf[14] << 8) | buf[15]));
    }
    if (has) {
        const uint8_t *src_raw = buf + 16;
        const uint8_t *dst_raw = buf + 16 + PP_UNIX_PATH_LEN;

        check_address(h, &h->src, src_raw, ref->src_ip, ref->src_port);
        check_address(h, &h->dst, dst_raw, ref->dst_ip, ref->dst_port);
    } else {
        FUZZ_CHECK(addr_is_empty(&h->src) && addr_is_empty(&h->dst));
    }
    if (ref->tlv_len == 0) {
        FUZZ_CHECK(h->tlvs == NULL && h->tlvs_len == 0);
    } else {
        FUZZ_CHECK(h->tlvs == buf + ref->tlv_off);
        FUZZ_CHECK(h->tlvs_len == ref->tlv_len);
    }
    check_tlvs(h, buf);
    check_sockaddr(h, 0);
    check_sockaddr(h, 1);
}

/* The ppdump rendering: measure, write exactly, and truncate. */
static void check_render(int r, const pp_header *h, const uint8_t *buf,
                         size_t len)
{
    size_t n = ppdump_render_json(NULL, 0, r, h, buf, len), i, cut;
    char *out = malloc(n + 1);

    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(ppdump_render_json(out, n + 1, r, h, buf, len) == n);
    FUZZ_CHECK(out[n] == '\0' && strlen(out) == n);
    FUZZ_CHECK(n >= 2 && out[0] == '{' && out[n - 1] == '}');
    for (i = 0; i < n; i++)
        FUZZ_CHECK(out[i] >= 0x20 && out[i] <= 0x7e);
    cut = n / 2 + 1;
    {
        char *small = malloc(cut);

        FUZZ_CHECK(small != NULL);
        FUZZ_CHECK(ppdump_render_json(small, cut, r, h, buf, len) == n);
        FUZZ_CHECK(small[cut - 1] == '\0');
        FUZZ_CHECK(memcmp(small, out, cut - 1) == 0);
        free(small);
    }
    free(out);
}

static void check_one(const uint8_t *buf, size_t len, size_t max_len,
                      unsigned flags)
{
    pp_header h;
    ref_result ref;
    int r;

    pp_header_init(&h);
    h.max_len = max_len;
    h.flags = flags;
    r = pp_parse(&h, len > 0 ? buf : NULL, len);
    ref_parse(&ref, buf, len, max_len, flags);
    if (!ref_accepts(&ref, r))
        report("result differs from the reference", buf, len, max_len, flags, r,
               &ref);
    /* The same bytes again: the same answer. */
    if (pp_parse(&h, len > 0 ? buf : NULL, len) != r)
        report("second call differs", buf, len, max_len, flags, r, &ref);
    FUZZ_CHECK(pp_status_name(r) != NULL && pp_strerror(r) != NULL);
    if (r > 0)
        check_header(&h, buf, len, r, &ref);
    check_render(r, &h, buf, len);
}

/* The iterators on bytes no parser checked: they must stay inside them
 * and stop at the first TLV that would run past the end. */
static void check_raw_iteration(const uint8_t *data, size_t size)
{
    pp_header h;
    pp_tlv_iter it;
    pp_tlv t, ssl;
    pp_bytes b;
    pp_ssl_info info;
    uint32_t linkid;
    uint64_t psc;
    const uint8_t *expect = data, *end;

    if (size == 0)
        return;
    pp_header_init(&h);
    h.tlvs = data;
    h.tlvs_len = size;
    end = data + size;
    pp_tlv_iter_init(&it, &h);
    while (pp_tlv_next(&it, &t)) {
        FUZZ_CHECK(t.value == expect + 3 && t.value + t.len <= end);
        expect = t.value + t.len;
    }
    /* It stopped where no further whole TLV fits. */
    FUZZ_CHECK(expect == end || end - expect < 3 ||
               (size_t)(end - expect) - 3 <
                   (((size_t)expect[1] << 8) | expect[2]));
    /* Accessors on the same bytes: no over-read, views inside. */
    if (pp_alpn(&h, &b))
        FUZZ_CHECK(b.ptr >= data && b.ptr + b.len <= end);
    if (pp_aws_vpce_id(&h, &b))
        FUZZ_CHECK(b.ptr >= data && b.ptr + b.len <= end);
    (void)pp_azure_linkid(&h, &linkid);
    (void)pp_gcp_psc_id(&h, &psc);
    if (pp_ssl(&h, &info) && info.cn.ptr != NULL)
        FUZZ_CHECK(info.cn.ptr >= data && info.cn.ptr + info.cn.len <= end);

    /* The whole input as the value of an SSL TLV. */
    ssl.type = PP_TLV_SSL;
    ssl.len = (uint16_t)(size > 65535 ? 65535 : size);
    ssl.value = data;
    end = data + ssl.len;
    expect = data + 5;
    pp_ssl_iter_init(&it, &ssl);
    while (pp_tlv_next(&it, &t)) {
        FUZZ_CHECK(ssl.len >= 5);
        FUZZ_CHECK(t.value == expect + 3 && t.value + t.len <= end);
        expect = t.value + t.len;
    }
}

/* pp_crc32c (maybe SSE4.2) against the bitwise reference, in two pieces. */
static void check_crc(const uint8_t *data, size_t size)
{
    size_t cut = size > 0 ? data[size - 1] % (size + 1) : 0;
    uint32_t c = pp_crc32c(0, data, cut);

    c = pp_crc32c(c, data + cut, size - cut);
    FUZZ_CHECK(c == ref_crc32c(0, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_lens[8] = {0, 0, 5, 28, 60, 106, 107, 232};

    check_one(data, size, 0, 0);
    if (size > 0) {
        uint8_t c = data[0];

        check_one(data + 1, size - 1, max_lens[(c >> 2) & 7], c & 3u);
    }
    check_crc(data, size);
    check_raw_iteration(data, size);
    return 0;
}
