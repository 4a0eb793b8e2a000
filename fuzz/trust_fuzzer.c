/*
 * trust_fuzzer: the trust table against a naive model.
 *
 * Every pp_trust_add is checked against a strict reference CIDR parser
 * written here (address text by ref_ip4 / ref_ip6, prefix "0" or 1..max
 * without leading zero): text the library accepts must be valid, valid
 * text must be accepted (or PP_ERR_TABLE_FULL when full), with the same
 * network and host-bits flag. pp_trust_match on built and unbuilt tables,
 * and pp_trust_match_sockaddr, must equal a linear scan of the accepted
 * CIDRs (addr & mask == net), IPv4 kept as IPv4-mapped IPv6.
 *
 * Input: byte 0: table capacity (& 15) + 1; then records, each a tag byte:
 *   0xff           pp_trust_build now
 *   tag & 3 == 0   raw text: length byte (% 64), then the text
 *   tag & 3 == 1   IPv4: 4 bytes, prefix byte (% 40); bit 4: no "/prefix"
 *   tag & 3 == 2   IPv6: 16 bytes, prefix byte (% 140); bits 4-5 choose
 *                  the text: RFC 5952, full uppercase, no "/prefix", or a
 *                  dotted IPv4 tail
 *   tag & 3 == 3   probe: family byte (1 INET, 2 INET6, else invalid),
 *                  16 address bytes
 * At the end the table is built and the edges of every accepted range
 * (first, last, one below, one above) are probed too.
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <string.h>

#include "fuzz_common.h"
#include "pphdr.h"
#include "ref.h"

#define MODEL_MAX 4096
#define PROBES_MAX 256

struct cidr {
    uint8_t net[16];
    unsigned prefix; /* 0..128, IPv4 as prefix + 96 */
};

struct model {
    struct cidr e[MODEL_MAX];
    size_t n;
    uint8_t probes[PROBES_MAX][16];
    size_t n_probes;
};

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};

/* Keep the first `prefix` bits of ip, clear the rest; 1 if any was set. */
static int mask_to(uint8_t ip[16], unsigned prefix)
{
    int host = 0;

    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = prefix >= 8 * (i + 1) ? 8
            : prefix > 8 * i                  ? prefix - 8 * i
                                              : 0;
        uint8_t mask = (uint8_t)(keep == 0 ? 0 : (0xffu << (8 - keep)) & 0xffu);

        host |= (ip[i] & ~mask) != 0;
        ip[i] &= mask;
    }
    return host;
}

/* The strict reference: 1 with *out and *host when text is a valid CIDR.
 * *prefix_range is set when only the prefix value is out of range. */
static int ref_cidr(const char *s, size_t n, struct cidr *out, int *host,
                    int *prefix_range)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    uint8_t v4[4];
    unsigned max, prefix;
    int is4;

    *prefix_range = 0;
    if (ref_ip4(s, alen, v4)) {
        is4 = 1;
        memcpy(out->net, mapped_prefix, 12);
        memcpy(out->net + 12, v4, 4);
        max = 32;
    } else if (ref_ip6(s, alen, out->net)) {
        is4 = 0;
        max = 128;
    } else {
        return 0;
    }
    prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        unsigned long v = 0;

        if (plen == 0 || (plen > 1 && p[0] == '0'))
            return 0;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9')
                return 0;
            if (v <= 1000)
                v = v * 10u + (unsigned long)(p[i] - '0');
        }
        if (v > max) {
            *prefix_range = 1;
            return 0;
        }
        prefix = (unsigned)v;
    }
    out->prefix = is4 ? prefix + 96 : prefix;
    *host = mask_to(out->net, out->prefix);
    return 1;
}

static int model_match(const struct model *m, const uint8_t addr[16])
{
    for (size_t i = 0; i < m->n; i++) {
        uint8_t a[16];

        memcpy(a, addr, 16);
        mask_to(a, m->e[i].prefix);
        if (memcmp(a, m->e[i].net, 16) == 0)
            return 1;
    }
    return 0;
}

/* Compare every way of asking with the model. */
static void probe(const pp_trust *t, const struct model *m, int family,
                  const uint8_t *ip)
{
    uint8_t key[16];
    int want, got;

    if (family == PP_AF_INET) {
        memcpy(key, mapped_prefix, 12);
        memcpy(key + 12, ip, 4);
    } else {
        memcpy(key, ip, 16);
    }
    if (family != PP_AF_INET && family != PP_AF_INET6)
        return; /* the typed lookups take no other family */
    want = model_match(m, key);
    got = family == PP_AF_INET ? pp_trust_match_ip4(t, ip)
                               : pp_trust_match_ip6(t, ip);
    if (got != want) {
        fprintf(stderr,
                "trust_fuzzer: pp_trust_match_ip%c = %d, "
                "model %d (table %s, %zu entries)\n",
                family == PP_AF_INET ? '4' : '6', got, want,
                t->state_donotuse.internal_donotuse.built ? "built" : "unbuilt",
                t->count);
        fuzz_hex("address", ip, family == PP_AF_INET ? 4 : 16);
        for (size_t i = 0; i < m->n; i++) {
            fprintf(stderr, "  accepted /%u ", m->e[i].prefix);
            fuzz_hex("net", m->e[i].net, 16);
        }
        abort();
    }
    if (family == PP_AF_INET) {
        struct sockaddr_in sin;

        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, ip, 4);
        FUZZ_CHECK(pp_trust_match_sockaddr(t, (const struct sockaddr *)&sin) ==
                   want);
    } else if (family == PP_AF_INET6) {
        struct sockaddr_in6 sin6;

        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, ip, 16);
        FUZZ_CHECK(pp_trust_match_sockaddr(t, (const struct sockaddr *)&sin6) ==
                   want);
        /* The mapped form as plain IPv4 too. */
        if (memcmp(ip, mapped_prefix, 12) == 0)
            FUZZ_CHECK(pp_trust_match_ip4(t, ip + 12) == want);
    }
}

static void probe_all_families(const pp_trust *t, const struct model *m,
                               const uint8_t ip[16])
{
    probe(t, m, PP_AF_INET6, ip);
    probe(t, m, PP_AF_INET, ip + 12);
}

/* The text for a formatted record. */
static size_t format_cidr(fuzz_in *in, uint8_t tag, char *text)
{
    size_t got, k;
    const uint8_t *p;
    uint8_t ip[16];
    unsigned prefix;

    memset(ip, 0, sizeof ip);
    if ((tag & 3) == 1) {
        p = fuzz_bytes(in, 4, &got);
        memcpy(ip, p, got);
        prefix = fuzz_u8(in) % 40u;
        k = (size_t)sprintf(text, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
        if (!(tag & 0x10))
            k += (size_t)sprintf(text + k, "/%u", prefix);
        return k;
    }
    p = fuzz_bytes(in, 16, &got);
    memcpy(ip, p, got);
    prefix = fuzz_u8(in) % 140u;
    switch ((tag >> 4) & 3) {
    case 1:
        k = 0;
        for (int i = 0; i < 8; i++)
            k += (size_t)sprintf(text + k, i ? ":%04X" : "%04X",
                                 (unsigned)((ip[2 * i] << 8) | ip[2 * i + 1]));
        break;
    case 3:
        k = 0;
        for (int i = 0; i < 6; i++)
            k += (size_t)sprintf(
                text + k, "%x:", (unsigned)((ip[2 * i] << 8) | ip[2 * i + 1]));
        k += (size_t)sprintf(text + k, "%u.%u.%u.%u", ip[12], ip[13], ip[14],
                             ip[15]);
        break;
    default:
        k = ref_ip6_text(ip, text);
        break;
    }
    if (((tag >> 4) & 3) != 2)
        k += (size_t)sprintf(text + k, "/%u", prefix);
    return k;
}

static void add_one(pp_trust *t, struct model *m, const char *text, size_t n)
{
    struct cidr c;
    int host = 0, range = 0, got_host = -1;
    int valid = ref_cidr(text, n, &c, &host, &range);
    size_t before = t->count;
    char *copy = malloc(n > 0 ? n : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, text, n);
    rc = pp_trust_add(t, copy, n, &got_host);
    free(copy);
    if (!valid) {
        int ok = rc == PP_ERR_CIDR_SYNTAX || rc == PP_ERR_CIDR_PREFIX;

        if (range)
            ok = rc == PP_ERR_CIDR_PREFIX;
        if (!ok) {
            fprintf(stderr,
                    "trust_fuzzer: pp_trust_add accepted invalid "
                    "text (rc %d %s)\n",
                    rc, pp_status_name(rc));
            fuzz_hex("text", text, n);
            abort();
        }
        FUZZ_CHECK(got_host == 0 && t->count == before);
        return;
    }
    if (before >= t->cap) {
        FUZZ_CHECK(rc == PP_ERR_TABLE_FULL);
        FUZZ_CHECK(t->count == before);
        return;
    }
    if (rc != PP_OK) {
        fprintf(stderr,
                "trust_fuzzer: pp_trust_add refused valid text "
                "(rc %d %s)\n",
                rc, pp_status_name(rc));
        fuzz_hex("text", text, n);
        abort();
    }
    FUZZ_CHECK(got_host == host);
    FUZZ_CHECK(t->count == before + 1 &&
               !t->state_donotuse.internal_donotuse.built);
    if (m->n < MODEL_MAX)
        m->e[m->n++] = c;
}

/* After pp_trust_build: ordered, disjoint, not touching. */
static void check_built(const pp_trust *t)
{
    for (size_t i = 0; i < t->count; i++) {
        FUZZ_CHECK(memcmp(t->entries[i].lo, t->entries[i].hi, 16) <= 0);
        if (i > 0) {
            uint8_t next[16];
            int k;

            /* previous hi + 1 must be below this lo */
            memcpy(next, t->entries[i - 1].hi, 16);
            for (k = 15; k >= 0 && ++next[k] == 0; k--)
                ;
            FUZZ_CHECK(k >= 0);
            FUZZ_CHECK(memcmp(next, t->entries[i].lo, 16) < 0);
        }
    }
}

/* First and last address of a CIDR, and one beyond each. */
static void edge_probes(const pp_trust *t, const struct model *m,
                        const struct cidr *c)
{
    uint8_t lo[16], hi[16], x[16];
    int k;

    memcpy(lo, c->net, 16);
    memcpy(hi, c->net, 16);
    for (unsigned b = c->prefix; b < 128; b++)
        hi[b / 8] |= (uint8_t)(0x80u >> (b % 8));
    probe_all_families(t, m, lo);
    probe_all_families(t, m, hi);
    memcpy(x, lo, 16);
    for (k = 15; k >= 0 && x[k]-- == 0; k--)
        ;
    if (k >= 0)
        probe_all_families(t, m, x);
    memcpy(x, hi, 16);
    for (k = 15; k >= 0 && ++x[k] == 0; k--)
        ;
    if (k >= 0)
        probe_all_families(t, m, x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model m;
    fuzz_in in = {data, size};
    pp_trust_entry *storage;
    pp_trust t;
    size_t cap, i;

    if (size == 0)
        return 0;
    memset(&m, 0, sizeof m);
    cap = (size_t)(fuzz_u8(&in) & 15u) + 1;
    storage = malloc(cap * sizeof *storage);
    FUZZ_CHECK(storage != NULL);
    pp_trust_init(&t, storage, cap);
    FUZZ_CHECK(t.count == 0);

    while (in.left > 0) {
        uint8_t tag = fuzz_u8(&in);
        char text[128];
        size_t n, got;
        const uint8_t *p;

        if (tag == 0xff) {
            pp_trust_build(&t);
            FUZZ_CHECK(t.state_donotuse.internal_donotuse.built);
            check_built(&t);
            continue;
        }
        switch (tag & 3) {
        case 0:
            n = fuzz_u8(&in) % 64u;
            p = fuzz_bytes(&in, n, &got);
            add_one(&t, &m, (const char *)p, got);
            break;
        case 1:
        case 2:
            n = format_cidr(&in, tag, text);
            add_one(&t, &m, text, n);
            break;
        default: {
            uint8_t fam = fuzz_u8(&in), ip[16];

            memset(ip, 0, sizeof ip);
            p = fuzz_bytes(&in, 16, &got);
            memcpy(ip, p, got);
            probe(&t, &m,
                  fam == 1       ? PP_AF_INET
                      : fam == 2 ? PP_AF_INET6
                                 : fam,
                  ip);
            if (m.n_probes < PROBES_MAX)
                memcpy(m.probes[m.n_probes++], ip, 16);
            break;
        }
        }
    }
    /* Unbuilt (maybe), then built: the same answers. */
    for (int pass = 0; pass < 2; pass++) {
        for (i = 0; i < m.n; i++)
            edge_probes(&t, &m, &m.e[i]);
        for (i = 0; i < m.n_probes; i++)
            probe_all_families(&t, &m, m.probes[i]);
        pp_trust_build(&t);
        check_built(&t);
    }
    free(storage);
    return 0;
}
