/* Trust table.
 *
 * Every entry is a [lo, hi] range of 128-bit addresses, IPv4 stored as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so one ordered space holds
 * both families and a dual-stack peer ::ffff:a.b.c.d matches IPv4 entries.
 * pp_trust_build sorts the ranges by lo and merges overlapping or adjacent
 * ones in place; a lookup on a built table is then one binary search.
 * Big-endian byte order makes the numeric order of addresses the order of
 * their bytes. */
#include "../pp_internal.h"

#include <stddef.h>
#include <string.h>
#ifndef PP_NO_SOCKETS
#include <netinet/in.h>
#endif

/* Longest address text that can be valid:
 * "0000:0000:0000:0000:0000:0000:255.255.255.255". */
#define TRUST_ADDR_TEXT_MAX 45u

/* A 128-bit address as two host-order words, most significant first. */
typedef struct trust_u128 {
    uint64_t high;
    uint64_t low;
} trust_u128;

/* Written out so that compilers turn it into one load and a byte swap. */
static uint64_t trust_be64(const uint8_t *p)
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
           (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
           (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
           (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

static trust_u128 trust_load(const uint8_t *p)
{
    trust_u128 v;

    v.high = trust_be64(p);
    v.low = trust_be64(p + 8);
    return v;
}

/* -1, 0 or 1 as a is below, equal to or above b. */
static int trust_cmp(trust_u128 a, trust_u128 b)
{
    if (a.high != b.high)
        return a.high < b.high ? -1 : 1;
    if (a.low != b.low)
        return a.low < b.low ? -1 : 1;
    return 0;
}

static int trust_cmp_bytes(const uint8_t *a, const uint8_t *b)
{
    return trust_cmp(trust_load(a), trust_load(b));
}

/* ---- parsing ---------------------------------------------------------- */

/* Prefix length: decimal digits, no leading zero unless it is "0", at most
 * max. Non-digits or nothing at all are a syntax error; a number that is
 * only badly written or too large is a prefix error. */
static int trust_parse_prefix(const uint8_t *p, const uint8_t *end,
                              unsigned max, unsigned *out)
{
    const uint8_t *q;
    unsigned v = 0;

    if (p == end)
        return PP_ERR_CIDR_SYNTAX;
    for (q = p; q < end; q++) {
        if (*q < '0' || *q > '9')
            return PP_ERR_CIDR_SYNTAX;
    }
    if (*p == '0' && end - p > 1)
        return PP_ERR_CIDR_PREFIX;
    for (q = p; q < end; q++) {
        /* v <= max <= 128 here, so v * 10 + 9 cannot overflow. */
        v = v * 10u + (unsigned)(*q - '0');
        if (v > max)
            return PP_ERR_CIDR_PREFIX;
    }
    *out = v;
    return PP_OK;
}

/* The address part as 16 bytes (IPv4 mapped) and its width in bits of the
 * family (32 or 128). The text is copied and closed with a '/' so that the
 * address always ends on a byte that stops the parser: a complete address
 * is then PP_OK with *stop on that byte, whatever the parser does at end. */
static int trust_parse_addr(const uint8_t *p, size_t len, uint8_t out[16],
                            unsigned *family_bits)
{
    uint8_t text[TRUST_ADDR_TEXT_MAX + 1];
    uint8_t v4[4];
    const uint8_t *stop = NULL;

    if (len == 0 || len > TRUST_ADDR_TEXT_MAX)
        return PP_ERR_CIDR_SYNTAX;
    memcpy(text, p, len);
    text[len] = '/';

    if (memchr(text, ':', len) != NULL) {
        if (pp__ip6(text, text + len + 1, out, &stop) != PP_OK ||
            stop != text + len)
            return PP_ERR_CIDR_SYNTAX;
        *family_bits = 128;
        return PP_OK;
    }
    if (pp__ip4(text, text + len + 1, v4, &stop) != PP_OK ||
        stop != text + len)
        return PP_ERR_CIDR_SYNTAX;
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, v4, 4);
    *family_bits = 32;
    return PP_OK;
}

/* "addr" or "addr/prefix" over [p, p + len) into a 16-byte network address
 * and a prefix length counted over all 128 bits. */
static int trust_parse_cidr(const uint8_t *p, size_t len, uint8_t net[16],
                            unsigned *prefix)
{
    const uint8_t *slash;
    unsigned family_bits = 0;
    unsigned bits;
    int rc;

    if (len == 0)
        return PP_ERR_CIDR_SYNTAX;
    slash = memchr(p, '/', len);
    rc = trust_parse_addr(p, slash ? (size_t)(slash - p) : len, net,
                          &family_bits);
    if (rc != PP_OK)
        return rc;
    bits = family_bits;
    if (slash != NULL) {
        rc = trust_parse_prefix(slash + 1, p + len, family_bits, &bits);
        if (rc != PP_OK)
            return rc;
    }
    /* IPv4 lives in the last 32 bits of ::ffff:0:0/96. */
    *prefix = bits + (128u - family_bits);
    return PP_OK;
}

/* The bits of byte i that belong to a prefix of the given length. The
 * shift is by 1..7 only: a whole or empty byte is handled apart. */
static uint8_t trust_mask_byte(unsigned prefix, unsigned i)
{
    unsigned first = 8u * i;
    unsigned bits;

    if (prefix <= first)
        return 0;
    bits = prefix - first;
    if (bits >= 8)
        return 0xff;
    return (uint8_t)((0xffu << (8u - bits)) & 0xffu);
}

/* Fill e with the range of net/prefix; 1 when net had host bits set. */
static int trust_set_range(pp_trust_entry *e, const uint8_t net[16],
                           unsigned prefix)
{
    unsigned i;
    int host = 0;

    for (i = 0; i < 16; i++) {
        uint8_t mask = trust_mask_byte(prefix, i);

        if ((net[i] & (uint8_t)~mask) != 0)
            host = 1;
        e->lo[i] = (uint8_t)(net[i] & mask);
        e->hi[i] = (uint8_t)(net[i] | (uint8_t)~mask);
    }
    return host;
}

/* ---- building --------------------------------------------------------- */

/* Restore the max-heap (by lo) below root, over e[0..n). */
static void trust_sift_down(pp_trust_entry *e, size_t root, size_t n)
{
    pp_trust_entry moving = e[root];
    trust_u128 key = trust_load(moving.lo);

    for (;;) {
        size_t child = 2 * root + 1;

        if (child >= n)
            break;
        if (child + 1 < n &&
            trust_cmp_bytes(e[child].lo, e[child + 1].lo) < 0)
            child++;
        if (trust_cmp(key, trust_load(e[child].lo)) >= 0)
            break;
        e[root] = e[child];
        root = child;
    }
    e[root] = moving;
}

/* In-place heapsort by lo: O(n log n) worst case, no allocation. */
static void trust_sort(pp_trust_entry *e, size_t n)
{
    size_t i;

    if (n < 2)
        return;
    for (i = n / 2; i-- > 0;)
        trust_sift_down(e, i, n);
    for (i = n - 1; i > 0; i--) {
        pp_trust_entry top = e[0];

        e[0] = e[i];
        e[i] = top;
        trust_sift_down(e, 0, i);
    }
}

/* 1 when next (with next.lo >= cur.lo) overlaps cur or starts right after
 * it. When next.lo > cur.hi, cur.hi is not the top address, so cur.hi + 1
 * does not wrap. */
static int trust_joins(const pp_trust_entry *cur, const pp_trust_entry *next)
{
    trust_u128 hi = trust_load(cur->hi);
    trust_u128 lo = trust_load(next->lo);

    if (trust_cmp(lo, hi) <= 0)
        return 1;
    hi.low++;
    if (hi.low == 0)
        hi.high++;
    return trust_cmp(lo, hi) == 0;
}

/* ---- lookup ----------------------------------------------------------- */

/* The 16-byte lookup key of an address; 0 for an unknown family. */
static int trust_key(int family, const uint8_t *addr, uint8_t key[16])
{
    if (family == PP_AF_INET) {
        memset(key, 0, 10);
        key[10] = 0xff;
        key[11] = 0xff;
        memcpy(key + 12, addr, 4);
        return 1;
    }
    if (family == PP_AF_INET6) {
        memcpy(key, addr, 16);
        return 1;
    }
    return 0;
}

static int trust_in(const pp_trust_entry *e, trust_u128 key)
{
    return trust_cmp(trust_load(e->lo), key) <= 0 &&
           trust_cmp(key, trust_load(e->hi)) <= 0;
}

/* Sorted, disjoint ranges: the only candidate is the last one whose lo is
 * not above the key. */
static int trust_search(const pp_trust_entry *e, size_t n, trust_u128 key)
{
    size_t first = 0;
    size_t after = n;

    while (first < after) {
        size_t mid = first + (after - first) / 2;

        if (trust_cmp(trust_load(e[mid].lo), key) <= 0)
            first = mid + 1;
        else
            after = mid;
    }
    return first > 0 && trust_cmp(key, trust_load(e[first - 1].hi)) <= 0;
}

static int trust_scan(const pp_trust_entry *e, size_t n, trust_u128 key)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (trust_in(&e[i], key))
            return 1;
    }
    return 0;
}

/* ---- API -------------------------------------------------------------- */

void pp_trust_init(pp_trust *t, pp_trust_entry *storage, size_t cap)
{
    if (t == NULL)
        return;
    t->entries = storage;
    t->cap = storage != NULL ? cap : 0;
    t->count = 0;
    t->built = 0;
}

int pp_trust_add(pp_trust *t, const char *text, size_t len, int *host_bits)
{
    uint8_t net[16];
    unsigned prefix = 0;
    int host;
    int rc;

    if (host_bits != NULL)
        *host_bits = 0;
    if (t == NULL || (text == NULL && len != 0))
        return PP_ERR_ARG;
    rc = trust_parse_cidr((const uint8_t *)text, len, net, &prefix);
    if (rc != PP_OK)
        return rc;
    if (t->entries == NULL || t->count >= t->cap)
        return PP_ERR_TABLE_FULL;
    host = trust_set_range(&t->entries[t->count], net, prefix);
    t->count++;
    t->built = 0;
    if (host_bits != NULL)
        *host_bits = host;
    return PP_OK;
}

void pp_trust_build(pp_trust *t)
{
    pp_trust_entry *e;
    size_t kept = 0;
    size_t i;

    if (t == NULL || t->entries == NULL) {
        if (t != NULL)
            t->built = 1;
        return;
    }
    e = t->entries;
    trust_sort(e, t->count);
    /* e[0..kept) is the merged result; e[kept - 1] absorbs what joins it. */
    for (i = 0; i < t->count; i++) {
        if (kept > 0 && trust_joins(&e[kept - 1], &e[i])) {
            if (trust_cmp_bytes(e[i].hi, e[kept - 1].hi) > 0)
                memcpy(e[kept - 1].hi, e[i].hi, 16);
        } else {
            if (kept != i)
                e[kept] = e[i];
            kept++;
        }
    }
    t->count = kept;
    t->built = 1;
}

int pp_trust_match(const pp_trust *t, int family, const uint8_t *addr)
{
    uint8_t bytes[16];
    trust_u128 key;

    if (t == NULL || addr == NULL || t->entries == NULL)
        return 0;
    if (!trust_key(family, addr, bytes))
        return 0;
    key = trust_load(bytes);
    if (t->built)
        return trust_search(t->entries, t->count, key);
    return trust_scan(t->entries, t->count, key);
}

#ifndef PP_NO_SOCKETS
int pp_trust_match_sockaddr(const pp_trust *t, const struct sockaddr *sa)
{
    uint8_t addr[16];

    if (sa == NULL)
        return 0;
    /* Copy the address bytes out: sa may point at any sockaddr storage. */
    if (sa->sa_family == AF_INET) {
        memcpy(addr, (const unsigned char *)sa +
                         offsetof(struct sockaddr_in, sin_addr), 4);
        return pp_trust_match(t, PP_AF_INET, addr);
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(addr, (const unsigned char *)sa +
                         offsetof(struct sockaddr_in6, sin6_addr), 16);
        return pp_trust_match(t, PP_AF_INET6, addr);
    }
    return 0;
}
#endif
