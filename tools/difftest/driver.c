/*
 * Driver of the differential test: generates valid v1 and v2 headers,
 * mutates some of them, and feeds each to both parsers whole, byte by
 * byte and in random chunks, with random settings. Prints the number of
 * runs and of mismatches; exit status 1 on any mismatch.
 *   difftest [INPUTS [SEED]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difftest.h"

#define MAX_IN 4096

static uint64_t rng_state = 88172645463325252ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static uint32_t below(uint32_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static int chance(unsigned percent)
{
    return below(100) < percent;
}

/* Bitwise CRC32C (reflected 0x82F63B78), for the generated CRC32C TLVs. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static size_t put(uint8_t *b, size_t n, const char *s)
{
    size_t l = strlen(s);
    memcpy(b + n, s, l);
    return n + l;
}

static size_t put_ip4(uint8_t *b, size_t n)
{
    char t[20];
    unsigned o[4], i;

    for (i = 0; i < 4; i++)
        o[i] = chance(20) ? (chance(50) ? 0 : 255) : below(256);
    snprintf(t, sizeof t, "%u.%u.%u.%u", o[0], o[1], o[2], o[3]);
    return put(b, n, t);
}

static size_t put_ip6(uint8_t *b, size_t n)
{
    char t[64];
    unsigned g[8], i, zs, zl, p = 0;
    int upper = chance(20), tail4 = chance(15);

    for (i = 0; i < 8; i++)
        g[i] = chance(35) ? 0 : (chance(50) ? below(16) : below(65536));
    if (chance(20)) { /* IPv4-mapped */
        p = (unsigned)snprintf(t, sizeof t, "::ffff:");
        memcpy(b + n, t, p);
        return put_ip4(b, n + p);
    }
    zs = below(8);
    zl = chance(60) ? below(9 - zs) : 0;
    for (i = 0; i < 8; i++) {
        if (zl >= 1 && i == zs) {
            p += (unsigned)snprintf(t + p, sizeof t - p, "::");
            i += zl - 1;
            continue;
        }
        if (tail4 && i == 6) {
            if (p > 0 && t[p - 1] != ':')
                t[p++] = ':';
            t[p] = 0;
            n = put(b, n, t);
            return put_ip4(b, n);
        }
        if (p > 0 && t[p - 1] != ':')
            t[p++] = ':';
        p += (unsigned)snprintf(t + p, sizeof t - p, upper ? "%X" : "%x", g[i]);
    }
    t[p] = 0;
    return put(b, n, t);
}

static size_t put_port(uint8_t *b, size_t n)
{
    char t[8];
    unsigned v = chance(10) ? (chance(50) ? 0 : 65535) : below(65536);

    snprintf(t, sizeof t, "%u", v);
    return put(b, n, t);
}

static size_t gen_v1(uint8_t *b)
{
    size_t n = put(b, 0, "PROXY ");
    unsigned k = below(10);

    if (k < 5) {
        n = put(b, n, "TCP4 ");
        n = put_ip4(b, n);
        n = put(b, n, " ");
        n = put_ip4(b, n);
    } else if (k < 9) {
        n = put(b, n, "TCP6 ");
        n = put_ip6(b, n);
        n = put(b, n, " ");
        n = put_ip6(b, n);
    } else {
        n = put(b, n, "UNKNOWN");
        if (chance(50)) {
            unsigned m = below(90), i;
            b[n++] = ' ';
            for (i = 0; i < m; i++)
                b[n++] = (uint8_t)(' ' + below(95));
        }
        return put(b, n, "\r\n");
    }
    n = put(b, n, " ");
    n = put_port(b, n);
    n = put(b, n, " ");
    n = put_port(b, n);
    return put(b, n, "\r\n");
}

static size_t put_tlv(uint8_t *b, size_t n, uint8_t type, const uint8_t *v,
                      size_t len)
{
    b[n] = type;
    b[n + 1] = (uint8_t)(len >> 8);
    b[n + 2] = (uint8_t)len;
    if (v != NULL)
        memcpy(b + n + 3, v, len);
    else
        for (size_t i = 0; i < len; i++)
            b[n + 3 + i] = (uint8_t)rnd();
    return n + 3 + len;
}

static size_t gen_v2(uint8_t *b)
{
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static const uint8_t fams[] = {0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32};
    static const uint8_t types[] = {0x01, 0x02, 0x04, 0x05, 0x20,
                                    0x30, 0xE0, 0xEA, 0xEE, 0x99};
    uint8_t fam = fams[below(sizeof fams)];
    size_t block = fam == 0 ? 0 : fam >> 4 == 1 ? 12 : fam >> 4 == 2 ? 36 : 216;
    size_t n = 16, i, crc_at = 0;
    unsigned ntlv = chance(40) ? 0 : below(6);

    memcpy(b, sig, 12);
    b[12] = chance(80) ? 0x21 : 0x20;
    b[13] = fam;
    for (i = 0; i < block; i++)
        b[n++] = (uint8_t)rnd();
    if (fam >> 4 == 3) { /* UNIX: paths up to a NUL, sometimes none */
        size_t k;
        for (k = 0; k < 2; k++) {
            size_t pl = below(110);
            for (i = 0; i < pl && i < 108; i++)
                b[16 + 108 * k + i] = (uint8_t)('a' + below(26));
            if (pl < 108)
                b[16 + 108 * k + pl] = 0;
        }
    }
    if (chance(10)) /* LOCAL with a short block */
        n = 16 + below((unsigned)block + 1);
    if (chance(20)) {
        crc_at = n + 3;
        n = put_tlv(b, n, 0x03, (const uint8_t *)"\0\0\0\0", 4);
    }
    for (i = 0; i < ntlv; i++) {
        uint8_t t = types[below(sizeof types)];
        if (t == 0x20) {
            uint8_t v[200];
            size_t vl = 5, s, ns = below(4);
            v[0] = (uint8_t)below(8);
            memset(v + 1, 0, 4);
            for (s = 0; s < ns; s++) {
                uint8_t st = (uint8_t)(0x21 + below(8));
                vl = put_tlv(v, vl, st, NULL, below(30));
            }
            n = put_tlv(b, n, t, v, vl);
        } else if (t == 0x05) {
            n = put_tlv(b, n, t, NULL, chance(10) ? 129 : below(129));
        } else {
            n = put_tlv(b, n, t, NULL, below(chance(5) ? 600 : 40));
        }
    }
    if (chance(5))
        n = put_tlv(b, n, 0x04, NULL, below(3000));
    b[14] = (uint8_t)((n - 16) >> 8);
    b[15] = (uint8_t)(n - 16);
    if (crc_at != 0) {
        uint32_t c = crc32c(b, n);
        if (chance(5))
            c ^= 1;
        b[crc_at] = (uint8_t)c;
        b[crc_at + 1] = (uint8_t)(c >> 8);
        b[crc_at + 2] = (uint8_t)(c >> 16);
        b[crc_at + 3] = (uint8_t)(c >> 24);
    }
    return n;
}

static size_t mutate(uint8_t *b, size_t n)
{
    static const char interesting[] = " \r\n:.0123456789afAFPXTCU/\0\xff";
    unsigned k = 1 + below(3), i;

    for (i = 0; i < k; i++) {
        size_t at = below((uint32_t)n + 1);
        switch (below(7)) {
        case 0:
            if (at < n)
                b[at] ^= (uint8_t)(1u << below(8));
            break;
        case 1:
            if (at < n)
                b[at] = (uint8_t)interesting[below(sizeof interesting - 1)];
            break;
        case 2: /* insert */
            if (n < MAX_IN - 1) {
                memmove(b + at + 1, b + at, n - at);
                b[at] = (uint8_t)interesting[below(sizeof interesting - 1)];
                n++;
            }
            break;
        case 3: /* delete */
            if (at < n) {
                memmove(b + at, b + at + 1, n - at - 1);
                n--;
            }
            break;
        case 4: /* truncate */
            n = at;
            break;
        case 5:
            if (at < n)
                b[at] = (uint8_t)rnd();
            break;
        default: /* v2 length bytes */
            if (n > 16)
                b[14 + below(2)] = (uint8_t)rnd();
            break;
        }
    }
    return n;
}

static int dt_same_addr(const dt_addr *a, const dt_addr *b)
{
    return memcmp(a->ip, b->ip, 16) == 0 && a->port == b->port &&
        a->path == b->path && a->path_len == b->path_len &&
        a->unix_raw == b->unix_raw;
}

/* Field by field, by name. */
static const char *dt_diff(const dt_result *a, const dt_result *b)
{
    if (a->last != b->last)
        return "status";
    if (a->calls != b->calls)
        return "status or expected_len of some call";
    if (a->expected_len != b->expected_len)
        return "expected_len";
    if (a->has_addresses != b->has_addresses)
        return "has_addresses";
    if (a->length != b->length)
        return "length";
    if (a->version != b->version)
        return "version";
    if (a->command != b->command)
        return "command";
    if (a->family != b->family)
        return "family";
    if (a->transport != b->transport)
        return "transport";
    if (!dt_same_addr(&a->src, &b->src))
        return "src";
    if (!dt_same_addr(&a->dst, &b->dst))
        return "dst";
    if (a->tlvs != b->tlvs || a->tlvs_len != b->tlvs_len)
        return "tlvs";
    if (a->again != b->again || a->again_tlvs != b->again_tlvs ||
        a->again_path != b->again_path)
        return "a repeated call on a copy";
    return NULL;
}

static void dump(const uint8_t *b, size_t n, const size_t *cuts, size_t nc,
                 size_t max_len, unsigned flags, const char *what,
                 const dt_result *o, const dt_result *c)
{
    size_t i;

    fprintf(stderr, "MISMATCH (%s): max_len %zu flags %u, %zu calls, len %zu\n",
            what, max_len, flags, nc, n);
    fprintf(stderr, "  old status %d length %zu, new status %d length %zu\n",
            o->last, o->length, c->last, c->length);
    fprintf(stderr, "  cuts:");
    for (i = 0; i < nc && i < 40; i++)
        fprintf(stderr, " %zu", cuts[i]);
    fprintf(stderr, "\n  bytes:");
    for (i = 0; i < n && i < 200; i++)
        fprintf(stderr, " %02x", b[i]);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    static uint8_t buf[MAX_IN + 64];
    static size_t cuts[MAX_IN + 2];
    unsigned long inputs = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    unsigned long i, runs = 0, mismatches = 0, valid = 0;

    if (argc > 2)
        rng_state ^= strtoull(argv[2], NULL, 10) * 0x9E3779B97F4A7C15ull;
    for (i = 0; i < inputs; i++) {
        size_t n = chance(50) ? gen_v1(buf) : gen_v2(buf);
        size_t max_len = 0, nc, mode;
        unsigned flags = 0;

        if (chance(60))
            n = mutate(buf, n);
        if (chance(30)) { /* application bytes after the header */
            size_t extra = below(40), k;
            for (k = 0; k < extra && n < MAX_IN; k++)
                buf[n++] = (uint8_t)rnd();
        }
        if (chance(25)) {
            static const size_t fixed[] = {1,  14,  15,  16,  17, 28,
                                           52, 106, 107, 108, 200};
            max_len = chance(50) ? fixed[below(sizeof fixed / sizeof fixed[0])]
                                 : (n > 2 ? n - 2 + below(5) : below(300));
        }
        if (chance(10))
            flags = 1 + below(3);
        for (mode = 0; mode < 3; mode++) {
            dt_result o, c;
            const char *what;

            nc = 0;
            if (mode == 0) {
                cuts[nc++] = n;
            } else if (mode == 1) {
                size_t k = chance(20) ? 0 : 1;
                for (; k <= n; k++)
                    cuts[nc++] = k;
            } else {
                size_t at = 0;
                while (at < n) {
                    at += 1 + below(chance(50) ? 8 : 64);
                    if (at > n)
                        at = n;
                    cuts[nc++] = at;
                }
                if (nc == 0)
                    cuts[nc++] = 0;
            }
            dt_run_old(buf, n, cuts, nc, max_len, flags, &o);
            dt_run_new(buf, n, cuts, nc, max_len, flags, &c);
            runs++;
            if (o.last > 0)
                valid++;
            what = dt_diff(&o, &c);
            if (what != NULL) {
                if (mismatches < 10)
                    dump(buf, n, cuts, nc, max_len, flags, what, &o, &c);
                mismatches++;
            }
        }
    }
    printf("%lu inputs, %lu runs (whole, byte by byte, random chunks), "
           "%lu ending in a header, %lu mismatches\n",
           inputs, runs, valid, mismatches);
    return mismatches != 0;
}
