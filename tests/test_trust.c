/* Trust table tests: CIDR parsing (ranges, host bits, exact error codes),
 * /0 /32 /128 edges, IPv4-mapped matching, a full table, merging by
 * pp_trust_build, and a property test that compares every lookup (built
 * and unbuilt) with a naive matcher written here from the CIDR definition
 * (addr & mask == net & mask), independent of the library's ranges. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pphdr.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

/* pp_trust_add on a heap copy of exactly len bytes (no NUL after it), so
 * that ASan or valgrind catch any read past the text. */
static int add_exact(pp_trust *t, const char *text, size_t len, int *host)
{
    char *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, text, len);
    rc = pp_trust_add(t, copy, len, host);
    free(copy);
    return rc;
}

static int add_str(pp_trust *t, const char *text, int *host)
{
    return add_exact(t, text, strlen(text), host);
}

/* Address text to bytes: "a.b.c.d" gives PP_AF_INET and 4 bytes, text
 * with ':' gives PP_AF_INET6 and 16 bytes. */
static int parse_addr(const char *text, uint8_t out[16])
{
    if (strchr(text, ':') != NULL) {
        if (inet_pton(AF_INET6, text, out) != 1)
            fail_msg("bad test address %s", text);
        return PP_AF_INET6;
    }
    if (inet_pton(AF_INET, text, out) != 1)
        fail_msg("bad test address %s", text);
    return PP_AF_INET;
}

static void parse_addr16(const char *text, uint8_t out[16])
{
    if (inet_pton(AF_INET6, text, out) != 1)
        fail_msg("bad test address %s", text);
}

static void mapped_of(const uint8_t v4[4], uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

static int is_mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

static int match_sockaddr(const pp_trust *t, int family, const uint8_t *a)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    if (family == PP_AF_INET) {
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(1234);
        memcpy(&sin.sin_addr, a, 4);
        return pp_trust_match_sockaddr(t, (const struct sockaddr *)&sin);
    }
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(1234);
    memcpy(&sin6.sin6_addr, a, 16);
    return pp_trust_match_sockaddr(t, (const struct sockaddr *)&sin6);
}

static const char *addr_text(int family, const uint8_t *a, char *buf)
{
    return inet_ntop(family == PP_AF_INET ? AF_INET : AF_INET6, a, buf,
                     INET6_ADDRSTRLEN);
}

/* ---- parsing: valid entries ----------------------------------------------- */

static const struct valid_case {
    const char *text;
    const char *lo; /* expected range, as IPv6 text */
    const char *hi;
    int host_bits;
} valid_cases[] = {
    {"10.0.0.0/8", "::ffff:10.0.0.0", "::ffff:10.255.255.255", 0},
    {"10.1.2.3/8", "::ffff:10.0.0.0", "::ffff:10.255.255.255", 1},
    {"192.0.2.7", "::ffff:192.0.2.7", "::ffff:192.0.2.7", 0},
    {"192.0.2.7/32", "::ffff:192.0.2.7", "::ffff:192.0.2.7", 0},
    {"192.0.2.128/25", "::ffff:192.0.2.128", "::ffff:192.0.2.255", 0},
    {"192.0.2.129/25", "::ffff:192.0.2.128", "::ffff:192.0.2.255", 1},
    {"192.0.2.127/25", "::ffff:192.0.2.0", "::ffff:192.0.2.127", 1},
    {"172.16.0.0/12", "::ffff:172.16.0.0", "::ffff:172.31.255.255", 0},
    {"172.31.0.0/12", "::ffff:172.16.0.0", "::ffff:172.31.255.255", 1},
    {"10.0.0.1/31", "::ffff:10.0.0.0", "::ffff:10.0.0.1", 1},
    {"128.0.0.0/1", "::ffff:128.0.0.0", "::ffff:255.255.255.255", 0},
    {"0.0.0.0/0", "::ffff:0.0.0.0", "::ffff:255.255.255.255", 0},
    {"255.255.255.255/0", "::ffff:0.0.0.0", "::ffff:255.255.255.255", 1},
    {"0.0.0.0", "::ffff:0.0.0.0", "::ffff:0.0.0.0", 0},
    {"255.255.255.255", "::ffff:255.255.255.255", "::ffff:255.255.255.255", 0},
    {"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
     0},
    {"2001:DB8::1/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
     1},
    {"::1/128", "::1", "::1", 0},
    {"::1", "::1", "::1", 0},
    {"::", "::", "::", 0},
    {"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
    {"::1/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
    {"fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
    {"fe80::/9", "fe80::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
    {"8000::/1", "8000::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
    {"2001:db8::8000/113", "2001:db8::8000", "2001:db8::ffff", 0},
    {"2001:db8::1:8000/112", "2001:db8::1:0", "2001:db8::1:ffff", 1},
    {"1:2:3:4:5:6:7:8/127", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:9", 0},
    {"1:2:3:4:5:6:7:9/127", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:9", 1},
    {"2001:db8:0:0:1:0:0:1/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff",
     1},
    {"0000:0000:0000:0000:0000:0000:255.255.255.255/128", "::255.255.255.255",
     "::255.255.255.255", 0},
    /* IPv6 text with an IPv4 tail is an IPv6 entry, prefix over 128. */
    {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0", "::ffff:10.255.255.255", 0},
    {"::ffff:0.0.0.0/96", "::ffff:0.0.0.0", "::ffff:255.255.255.255", 0},
};

static void test_parse_valid(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < COUNT(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        pp_trust_entry storage[1];
        pp_trust t;
        uint8_t lo[16], hi[16];
        int host = -1;
        int rc;

        memset(storage, 0xa5, sizeof storage);
        pp_trust_init(&t, storage, 1);
        rc = add_str(&t, c->text, &host);
        if (rc != PP_OK)
            fail_msg("%s: status %d", c->text, rc);
        parse_addr16(c->lo, lo);
        parse_addr16(c->hi, hi);
        if (memcmp(storage[0].lo, lo, 16) != 0 ||
            memcmp(storage[0].hi, hi, 16) != 0)
            fail_msg("%s: wrong range", c->text);
        if (host != c->host_bits)
            fail_msg("%s: host_bits %d, expected %d", c->text, host,
                     c->host_bits);
        assert_int_equal(t.count, 1);

        /* host_bits may be NULL. */
        pp_trust_init(&t, storage, 1);
        assert_int_equal(add_str(&t, c->text, NULL), PP_OK);
        assert_int_equal(t.count, 1);
    }
}

/* ---- parsing: invalid entries ------------------------------------------- */

static const struct invalid_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    int status;
} invalid_cases[] = {
    {"", 0, PP_ERR_CIDR_SYNTAX},
    {"/", 0, PP_ERR_CIDR_SYNTAX},
    {"/8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0//8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8/9", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8/", 0, PP_ERR_CIDR_SYNTAX},
    {" 10.0.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0 /8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/ 8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8 ", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8\n", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0\t", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/-1", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/+8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/0x8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8a", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/a", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"10.0.0./8", 0, PP_ERR_CIDR_SYNTAX},
    {"010.0.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"256.0.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"10", 0, PP_ERR_CIDR_SYNTAX},
    {"10/8", 0, PP_ERR_CIDR_SYNTAX},
    {"0x0a.0.0.0/8", 0, PP_ERR_CIDR_SYNTAX},
    {"abc", 0, PP_ERR_CIDR_SYNTAX},
    {"localhost", 0, PP_ERR_CIDR_SYNTAX},
    {"1.2.3.4:80", 0, PP_ERR_CIDR_SYNTAX},
    {"fe80::1%eth0/64", 0, PP_ERR_CIDR_SYNTAX},
    {"fe80::1%eth0", 0, PP_ERR_CIDR_SYNTAX},
    {"[::1]/128", 0, PP_ERR_CIDR_SYNTAX},
    {"[::1]", 0, PP_ERR_CIDR_SYNTAX},
    {"::1/", 0, PP_ERR_CIDR_SYNTAX},
    {":::1/128", 0, PP_ERR_CIDR_SYNTAX},
    {"1::2::3/64", 0, PP_ERR_CIDR_SYNTAX},
    {"1:2:3:4:5:6:7:8:9/64", 0, PP_ERR_CIDR_SYNTAX},
    {"1:2:3:4:5:6:7::8/64", 0, PP_ERR_CIDR_SYNTAX},
    {"12345::/16", 0, PP_ERR_CIDR_SYNTAX},
    {"::ffff:1.2.3/104", 0, PP_ERR_CIDR_SYNTAX},
    {"::ffff:01.2.3.4", 0, PP_ERR_CIDR_SYNTAX},
    {"g::/16", 0, PP_ERR_CIDR_SYNTAX},
    {"00000:0000:0000:0000:0000:0000:255.255.255.255", 0, PP_ERR_CIDR_SYNTAX},
    /* NUL bytes inside the given length are junk. */
    {"10.0.0.0\0/8", 11, PP_ERR_CIDR_SYNTAX},
    {"10.0.0.0/8\0", 11, PP_ERR_CIDR_SYNTAX},
    {"\0", 1, PP_ERR_CIDR_SYNTAX},
    /* Well-formed digits, bad prefix length. */
    {"10.0.0.0/33", 0, PP_ERR_CIDR_PREFIX},
    {"10.0.0.0/128", 0, PP_ERR_CIDR_PREFIX},
    {"10.0.0.0/08", 0, PP_ERR_CIDR_PREFIX},
    {"10.0.0.0/00", 0, PP_ERR_CIDR_PREFIX},
    {"10.0.0.0/032", 0, PP_ERR_CIDR_PREFIX},
    {"10.0.0.0/99999999999999999999999", 0, PP_ERR_CIDR_PREFIX},
    {"::/129", 0, PP_ERR_CIDR_PREFIX},
    {"::1/200", 0, PP_ERR_CIDR_PREFIX},
    {"::/0128", 0, PP_ERR_CIDR_PREFIX},
    {"::/00", 0, PP_ERR_CIDR_PREFIX},
    {"2001:db8::/4294967328", 0, PP_ERR_CIDR_PREFIX},
};

static void test_parse_invalid(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < COUNT(invalid_cases); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        pp_trust_entry storage[1];
        pp_trust t;
        int host = 7;
        int rc;

        pp_trust_init(&t, storage, 1);
        rc = add_exact(&t, c->text, len, &host);
        if (rc != c->status)
            fail_msg("\"%s\": status %d, expected %d", c->text, rc, c->status);
        assert_int_equal(t.count, 0);
        assert_int_equal(host, 0);
    }
}

/* The text is len bytes, not a C string. */
static void test_parse_length(void **state)
{
    static const char text[] = "10.0.0.0/8junk";
    pp_trust_entry storage[4];
    pp_trust t;
    uint8_t a[16];

    (void)state;
    pp_trust_init(&t, storage, 4);
    assert_int_equal(add_exact(&t, text, 10, NULL), PP_OK); /* 10.0.0.0/8 */
    assert_int_equal(add_exact(&t, text, 9, NULL), PP_ERR_CIDR_SYNTAX);
    assert_int_equal(add_exact(&t, text, 11, NULL), PP_ERR_CIDR_SYNTAX);
    assert_int_equal(t.count, 1);
    /* The first 9 bytes are "192.0.2.7": a host, /32. */
    assert_int_equal(add_exact(&t, "192.0.2.7/32", 9, NULL), PP_OK);
    assert_int_equal(t.count, 2);
    parse_addr16("::ffff:192.0.2.7", a);
    assert_memory_equal(storage[1].lo, a, 16);
    assert_memory_equal(storage[1].hi, a, 16);
    assert_int_equal(add_exact(&t, "192.0.2.7/32", 8, NULL),
                     PP_ERR_CIDR_SYNTAX);

    /* NULL text: empty is a syntax error, non-empty a bad argument. */
    assert_int_equal(pp_trust_add(&t, NULL, 0, NULL), PP_ERR_CIDR_SYNTAX);
    assert_int_equal(pp_trust_add(&t, NULL, 5, NULL), PP_ERR_ARG);
    assert_int_equal(pp_trust_add(NULL, "10.0.0.0/8", 10, NULL), PP_ERR_ARG);
    assert_int_equal(t.count, 2);
}

/* ---- matching: edges and mapped addresses -------------------------------- */

#define MAX_CIDRS 6
#define MAX_QUERIES 12

static const struct match_case {
    const char *cidrs[MAX_CIDRS];
    struct {
        const char *addr;
        int expect;
    } q[MAX_QUERIES];
} match_cases[] = {
    {{"0.0.0.0/0"},
     {{"0.0.0.0", 1},
      {"255.255.255.255", 1},
      {"10.1.2.3", 1},
      {"::ffff:1.2.3.4", 1},
      {"::ffff:0.0.0.0", 1},
      {"::", 0},
      {"::1", 0},
      {"::fffe:ffff:ffff", 0},
      {"::1:0:0:0", 0},
      {"::1.2.3.4", 0},
      {"2001:db8::1", 0},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0}}},
    {{"::/0"},
     {{"::", 1},
      {"::1", 1},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
      {"0.0.0.0", 1},
      {"255.255.255.255", 1},
      {"2001:db8::", 1}}},
    {{"192.0.2.7/32"},
     {{"192.0.2.7", 1},
      {"192.0.2.6", 0},
      {"192.0.2.8", 0},
      {"::ffff:192.0.2.7", 1},
      {"::192.0.2.7", 0},
      {"64:ff9b::192.0.2.7", 0},
      {"::ffff:192.0.2.8", 0}}},
    {{"0.0.0.0/32"},
     {{"0.0.0.0", 1},
      {"0.0.0.1", 0},
      {"::ffff:0:0", 1},
      {"::fffe:ffff:ffff", 0},
      {"::", 0}}},
    {{"255.255.255.255/32"},
     {{"255.255.255.255", 1},
      {"255.255.255.254", 0},
      {"::1:0:0:0", 0},
      {"::ffff:255.255.255.255", 1}}},
    {{"0.0.0.0/1"}, {{"0.0.0.0", 1}, {"127.255.255.255", 1}, {"128.0.0.0", 0}}},
    {{"128.0.0.0/1"},
     {{"128.0.0.0", 1},
      {"255.255.255.255", 1},
      {"127.255.255.255", 0},
      {"::1:0:0:0", 0}}},
    {{"::1/128"}, {{"::1", 1}, {"::", 0}, {"::2", 0}, {"0.0.0.1", 0}}},
    {{"::/128"}, {{"::", 1}, {"::1", 0}, {"0.0.0.0", 0}}},
    {{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
     {{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 0},
      {"::", 0}}},
    {{"8000::/1"},
     {{"8000::", 1},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
      {"7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
      {"10.0.0.1", 0}}},
    {{"::/1"},
     {{"::", 1},
      {"7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
      {"8000::", 0},
      {"10.0.0.1", 1}}},
    {{"::ffff:0:0/96"},
     {{"0.0.0.0", 1},
      {"255.255.255.255", 1},
      {"192.0.2.1", 1},
      {"::fffe:ffff:ffff", 0},
      {"::1:0:0:0", 0}}},
    {{"::ffff:10.0.0.0/104"},
     {{"10.1.2.3", 1}, {"11.0.0.0", 0}, {"9.255.255.255", 0}}},
    {{"10.0.0.0/8", "2001:db8::/32"},
     {{"10.0.0.0", 1},
      {"10.255.255.255", 1},
      {"9.255.255.255", 0},
      {"11.0.0.0", 0},
      {"::ffff:10.200.0.1", 1},
      {"::10.200.0.1", 0},
      {"64:ff9b::10.0.0.1", 0},
      {"2001:db8::", 1},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1},
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 0},
      {"2001:db9::", 0}}},
    {{"192.0.2.0/24", "198.51.100.7", "2001:db8::1", "fe80::/10"},
     {{"192.0.2.200", 1},
      {"198.51.100.7", 1},
      {"198.51.100.6", 0},
      {"198.51.100.8", 0},
      {"2001:db8::1", 1},
      {"2001:db8::2", 0},
      {"fe80::1", 1},
      {"febf::1", 1},
      {"fec0::", 0},
      {"192.0.3.0", 0}}},
    {{NULL}, {{"10.0.0.1", 0}, {"::1", 0}, {"::", 0}}},
};

/* The typed lookup for an address of the given PP_AF_* family. */
static int match_family(const pp_trust *t, int family, const uint8_t *a)
{
    assert_true(family == PP_AF_INET || family == PP_AF_INET6);
    return family == PP_AF_INET ? pp_trust_match_ip4(t, a)
                                : pp_trust_match_ip6(t, a);
}

/* Check one address (and its other forms: mapped IPv6 for an IPv4
 * address, IPv4 for a mapped one, sockaddr) against the expected result. */
static void check_query(const pp_trust *t, const char *text, int expect,
                        const char *when)
{
    uint8_t a[16], other[16];
    int family = parse_addr(text, a);
    int got = match_family(t, family, a);

    if (got != expect)
        fail_msg("%s %s: match %d, expected %d", when, text, got, expect);
    if (match_sockaddr(t, family, a) != expect)
        fail_msg("%s %s: sockaddr match differs", when, text);
    if (family == PP_AF_INET) {
        mapped_of(a, other);
        if (pp_trust_match_ip6(t, other) != expect)
            fail_msg("%s %s: mapped form differs", when, text);
    } else if (is_mapped(a)) {
        if (pp_trust_match_ip4(t, a + 12) != expect)
            fail_msg("%s %s: IPv4 form differs", when, text);
    }
}

static void test_match_cases(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < COUNT(match_cases); i++) {
        const struct match_case *c = &match_cases[i];
        pp_trust_entry storage[MAX_CIDRS];
        pp_trust t;

        pp_trust_init(&t, storage, MAX_CIDRS);
        for (j = 0; j < MAX_CIDRS && c->cidrs[j] != NULL; j++)
            assert_int_equal(add_str(&t, c->cidrs[j], NULL), PP_OK);
        for (j = 0; j < MAX_QUERIES && c->q[j].addr != NULL; j++)
            check_query(&t, c->q[j].addr, c->q[j].expect, "unbuilt");
        pp_trust_build(&t);
        assert_int_equal(t.state_donotuse.internal_donotuse.built, 1);
        for (j = 0; j < MAX_QUERIES && c->q[j].addr != NULL; j++)
            check_query(&t, c->q[j].addr, c->q[j].expect, "built");
    }
}

/* Families other than INET/INET6, NULL arguments, other socket families:
 * 0 even though the table trusts every address. */
static void test_match_rejects(void **state)
{
    pp_trust_entry storage[2];
    pp_trust t;
    uint8_t any[16];
    struct sockaddr_un sun;
    struct sockaddr_storage ss;
    int built;

    (void)state;
    memset(any, 0, sizeof any);
    pp_trust_init(&t, storage, 2);
    assert_int_equal(add_str(&t, "0.0.0.0/0", NULL), PP_OK);
    assert_int_equal(add_str(&t, "::/0", NULL), PP_OK);
    for (built = 0; built < 2; built++) {
        if (built)
            pp_trust_build(&t);
        assert_int_equal(pp_trust_match_ip4(&t, any), 1);
        assert_int_equal(pp_trust_match_ip6(&t, any), 1);
        assert_int_equal(pp_trust_match_ip4(&t, NULL), 0);
        assert_int_equal(pp_trust_match_ip6(&t, NULL), 0);
        assert_int_equal(pp_trust_match_ip4(NULL, any), 0);
        assert_int_equal(pp_trust_match_ip6(NULL, any), 0);

        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        assert_int_equal(
            pp_trust_match_sockaddr(&t, (const struct sockaddr *)&sun), 0);
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_UNSPEC;
        assert_int_equal(
            pp_trust_match_sockaddr(&t, (const struct sockaddr *)&ss), 0);
        assert_int_equal(pp_trust_match_sockaddr(&t, NULL), 0);
        assert_int_equal(match_sockaddr(NULL, PP_AF_INET, any), 0);
    }

    /* An empty or storage-less table matches nothing. */
    pp_trust_init(&t, NULL, 0);
    assert_int_equal(pp_trust_match_ip4(&t, any), 0);
    pp_trust_build(&t);
    assert_int_equal(pp_trust_match_ip6(&t, any), 0);
}

/* ---- full table ------------------------------------------------------------ */

static void test_full(void **state)
{
    pp_trust_entry storage[3];
    pp_trust t;
    uint8_t a[16];
    int host = 5;

    (void)state;
    pp_trust_init(&t, storage, 2);
    assert_int_equal(add_str(&t, "10.0.0.0/9", NULL), PP_OK);
    assert_int_equal(add_str(&t, "10.128.0.0/9", NULL), PP_OK);
    assert_int_equal(add_str(&t, "192.0.2.1/24", &host), PP_ERR_TABLE_FULL);
    assert_int_equal(host, 0);
    /* Parse errors are still reported as such on a full table. */
    assert_int_equal(add_str(&t, "192.0.2.0/", NULL), PP_ERR_CIDR_SYNTAX);
    assert_int_equal(add_str(&t, "192.0.2.0/40", NULL), PP_ERR_CIDR_PREFIX);
    assert_int_equal(t.count, 2);
    /* The storage past cap is never written. */
    memset(&storage[2], 0x5a, sizeof storage[2]);
    assert_int_equal(add_str(&t, "::1", NULL), PP_ERR_TABLE_FULL);
    assert_int_equal(storage[2].lo[0], 0x5a);
    parse_addr("192.0.2.1", a);
    assert_int_equal(pp_trust_match_ip4(&t, a), 0);

    /* Merging frees room: two halves of 10/8 become one entry. */
    pp_trust_build(&t);
    assert_int_equal(t.count, 1);
    assert_int_equal(add_str(&t, "192.0.2.1/24", NULL), PP_OK);
    assert_int_equal(pp_trust_match_ip4(&t, a), 1);
    assert_int_equal(add_str(&t, "::1", NULL), PP_ERR_TABLE_FULL);

    pp_trust_init(&t, storage, 0);
    assert_int_equal(add_str(&t, "10.0.0.0/8", NULL), PP_ERR_TABLE_FULL);
    pp_trust_init(&t, NULL, 5);
    assert_int_equal(t.cap, 0);
    assert_int_equal(add_str(&t, "10.0.0.0/8", NULL), PP_ERR_TABLE_FULL);
}

/* ---- build: sorting and merging -------------------------------------------- */

#define MAX_RANGES 6

static const struct build_case {
    const char *cidrs[MAX_CIDRS];
    const char *ranges[MAX_RANGES][2]; /* expected lo, hi in order */
} build_cases[] = {
    /* adjacent halves */
    {{"10.0.0.0/9", "10.128.0.0/9"},
     {{"::ffff:10.0.0.0", "::ffff:10.255.255.255"}}},
    /* contained, either order; duplicates */
    {{"10.0.0.0/8", "10.1.0.0/16"},
     {{"::ffff:10.0.0.0", "::ffff:10.255.255.255"}}},
    {{"10.1.0.0/16", "10.0.0.0/8"},
     {{"::ffff:10.0.0.0", "::ffff:10.255.255.255"}}},
    {{"10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8"},
     {{"::ffff:10.0.0.0", "::ffff:10.255.255.255"}}},
    /* a gap of one address keeps two ranges; filling it joins them */
    {{"192.0.2.0/25", "192.0.2.129/32"},
     {{"::ffff:192.0.2.0", "::ffff:192.0.2.127"},
      {"::ffff:192.0.2.129", "::ffff:192.0.2.129"}}},
    {{"192.0.2.129/32", "192.0.2.0/25", "192.0.2.128"},
     {{"::ffff:192.0.2.0", "::ffff:192.0.2.129"}}},
    /* a chain given out of order */
    {{"10.0.0.0/24", "10.0.2.0/24", "10.0.1.0/24"},
     {{"::ffff:10.0.0.0", "::ffff:10.0.2.255"}}},
    {{"12.0.0.1", "10.5.0.0/16", "11.0.0.0/8", "10.0.0.0/8"},
     {{"::ffff:10.0.0.0", "::ffff:11.255.255.255"},
      {"::ffff:12.0.0.1", "::ffff:12.0.0.1"}}},
    /* adjacency across the edges of the IPv4-mapped block */
    {{"255.255.255.255", "::1:0:0:0/128"},
     {{"::ffff:255.255.255.255", "::1:0:0:0"}}},
    {{"0.0.0.0", "::fffe:ffff:ffff"}, {{"::fffe:ffff:ffff", "::ffff:0.0.0.0"}}},
    /* everything, and the top address */
    {{"2001:db8::/32", "::/0", "10.0.0.0/8"},
     {{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}}},
    {{"8000::/1", "::/1"}, {{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}}},
    {{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"},
     {{"::", "::"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}}},
    {{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
     {{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}}},
    /* disjoint, sorted across families by address */
    {{"192.0.2.0/24", "10.0.0.0/8", "2001:db8::/32", "::1", "172.16.0.0/12"},
     {{"::1", "::1"},
      {"::ffff:10.0.0.0", "::ffff:10.255.255.255"},
      {"::ffff:172.16.0.0", "::ffff:172.31.255.255"},
      {"::ffff:192.0.2.0", "::ffff:192.0.2.255"},
      {"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}}},
    {{NULL}, {{NULL, NULL}}},
};

static void test_build(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < COUNT(build_cases); i++) {
        const struct build_case *c = &build_cases[i];
        pp_trust_entry storage[MAX_CIDRS];
        pp_trust t;
        size_t want = 0;
        int round;

        pp_trust_init(&t, storage, MAX_CIDRS);
        for (j = 0; j < MAX_CIDRS && c->cidrs[j] != NULL; j++)
            assert_int_equal(add_str(&t, c->cidrs[j], NULL), PP_OK);
        while (want < MAX_RANGES && c->ranges[want][0] != NULL)
            want++;
        /* A second build of a built table changes nothing. */
        for (round = 0; round < 2; round++) {
            pp_trust_build(&t);
            assert_int_equal(t.state_donotuse.internal_donotuse.built, 1);
            if (t.count != want)
                fail_msg("case %zu: %zu ranges, expected %zu", i, t.count,
                         want);
            for (j = 0; j < want; j++) {
                uint8_t lo[16], hi[16];

                parse_addr16(c->ranges[j][0], lo);
                parse_addr16(c->ranges[j][1], hi);
                if (memcmp(storage[j].lo, lo, 16) != 0 ||
                    memcmp(storage[j].hi, hi, 16) != 0)
                    fail_msg("case %zu: range %zu differs", i, j);
            }
        }
    }
}

/* An add after build leaves the table unbuilt, and lookups stay right
 * even when the new entry sorts before the others. */
static void test_add_after_build(void **state)
{
    pp_trust_entry storage[4];
    pp_trust t;
    uint8_t a[16];

    (void)state;
    pp_trust_init(&t, storage, 4);
    assert_int_equal(add_str(&t, "10.0.0.0/8", NULL), PP_OK);
    assert_int_equal(add_str(&t, "192.0.2.0/24", NULL), PP_OK);
    assert_int_equal(add_str(&t, "2001:db8::/32", NULL), PP_OK);
    pp_trust_build(&t);
    assert_int_equal(t.state_donotuse.internal_donotuse.built, 1);
    assert_int_equal(add_str(&t, "::1", NULL), PP_OK);
    assert_int_equal(t.state_donotuse.internal_donotuse.built, 0);
    parse_addr("::1", a);
    assert_int_equal(pp_trust_match_ip6(&t, a), 1);
    parse_addr("192.0.2.9", a);
    assert_int_equal(pp_trust_match_ip4(&t, a), 1);
    /* A failed add does not touch the built flag. */
    pp_trust_build(&t);
    assert_int_equal(add_str(&t, "nope", NULL), PP_ERR_CIDR_SYNTAX);
    assert_int_equal(t.state_donotuse.internal_donotuse.built, 1);
}

/* ---- property test ----------------------------------------------------------- */

/* splitmix64: small, fixed seed, same sequence everywhere. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

static void rng_bytes(uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next();
}

/* One entry as the test knows it: the CIDR as written. */
typedef struct ref_entry {
    int family;      /* PP_AF_INET or PP_AF_INET6 */
    uint8_t net[16]; /* 4 or 16 bytes, host bits as written */
    unsigned prefix; /* 0..32 or 0..128 */
} ref_entry;

/* The first nbits bits of a and b are equal: (a & mask) == (b & mask). */
static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned nbits)
{
    unsigned i;
    unsigned rem = nbits % 8;

    for (i = 0; i < nbits / 8; i++) {
        if (a[i] != b[i])
            return 0;
    }
    if (rem != 0) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rem));

        return ((a[i] ^ b[i]) & mask) == 0;
    }
    return 1;
}

/* Naive match straight from the CIDR definition. An IPv4 entry matches an
 * IPv4 address or its IPv4-mapped IPv6 form; an IPv6 entry matches an IPv6
 * address, and an IPv4 address through its mapped form (the header's
 * documented meaning: IPv4 is ::ffff:a.b.c.d). */
static int ref_match(const ref_entry *e, size_t n, int family,
                     const uint8_t *addr)
{
    uint8_t v6[16];
    const uint8_t *v4 = NULL;
    size_t i;

    if (family == PP_AF_INET) {
        v4 = addr;
        mapped_of(addr, v6);
    } else {
        memcpy(v6, addr, 16);
        if (is_mapped(addr))
            v4 = addr + 12;
    }
    for (i = 0; i < n; i++) {
        if (e[i].family == PP_AF_INET) {
            if (v4 != NULL && prefix_equal(v4, e[i].net, e[i].prefix))
                return 1;
        } else if (prefix_equal(v6, e[i].net, e[i].prefix)) {
            return 1;
        }
    }
    return 0;
}

static int ref_host_bits(const ref_entry *e)
{
    unsigned width = e->family == PP_AF_INET ? 32 : 128;
    unsigned i;

    for (i = e->prefix; i < width; i++) {
        if (e->net[i / 8] & (0x80u >> (i % 8)))
            return 1;
    }
    return 0;
}

/* Set (value 1) or clear (0) every bit from bit `from` to the end. */
static void fill_host(uint8_t *a, unsigned width, unsigned from, int value)
{
    unsigned i;

    for (i = from; i < width; i++) {
        uint8_t bit = (uint8_t)(0x80u >> (i % 8));

        if (value)
            a[i / 8] = (uint8_t)(a[i / 8] | bit);
        else
            a[i / 8] = (uint8_t)(a[i / 8] & (uint8_t)~bit);
    }
}

/* a +/- 1 over n bytes, wrapping. */
static void step(uint8_t *a, size_t n, int up)
{
    size_t i = n;

    while (i-- > 0) {
        if (up) {
            if (++a[i] != 0)
                break;
        } else {
            if (a[i]-- != 0)
                break;
        }
    }
}

/* Addresses that cluster (so entries overlap and touch) and that sit at
 * the edges of the IPv4-mapped block and of the address space. */
static void gen_v4(uint8_t a[4])
{
    rng_bytes(a, 4);
    switch (rng_below(5)) {
    case 0:
        a[0] = 10;
        break;
    case 1:
        a[0] = 192, a[1] = 0, a[2] = 2;
        break;
    case 2:
        memset(a, 0, 3);
        break;
    case 3:
        memset(a, 0xff, 3);
        break;
    default:
        break;
    }
}

static void gen_v6(uint8_t a[16])
{
    rng_bytes(a, 16);
    switch (rng_below(7)) {
    case 0:
        a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
        if (rng_below(2))
            memset(a + 4, 0, 10);
        break;
    case 1:
        gen_v4(a + 12);
        mapped_of(a + 12, a);
        break;
    case 2: /* just below ::ffff:0:0 or just above ::ffff:ffff:ffff */
        memset(a, 0, 13);
        if (rng_below(2))
            a[10] = 0xff, a[11] = 0xfe, a[12] = 0xff;
        else
            a[9] = 1;
        break;
    case 3:
        memset(a, 0, 14);
        break;
    case 4:
        memset(a, 0xff, 14);
        break;
    default:
        break;
    }
}

static void format_entry(const ref_entry *e, char *buf, size_t cap)
{
    int n;
    char ip[INET6_ADDRSTRLEN];
    unsigned width = e->family == PP_AF_INET ? 32 : 128;
    const uint8_t *a = e->net;

    if (e->family == PP_AF_INET) {
        n = snprintf(buf, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    } else if (rng_below(2)) {
        assert_non_null(inet_ntop(AF_INET6, a, ip, sizeof ip));
        n = snprintf(buf, cap, "%s", ip);
    } else {
        const char *fmt = rng_below(2) ? "%x:%x:%x:%x:%x:%x:%x:%x"
                                       : "%X:%X:%X:%X:%X:%X:%X:%X";
        n = snprintf(buf, cap, fmt, a[0] << 8 | a[1], a[2] << 8 | a[3],
                     a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9],
                     a[10] << 8 | a[11], a[12] << 8 | a[13],
                     a[14] << 8 | a[15]);
    }
    assert_true(n > 0 && (size_t)n < cap);
    if (e->prefix != width || rng_below(2))
        snprintf(buf + n, cap - (size_t)n, "/%u", e->prefix);
}

typedef struct query {
    int family;
    uint8_t addr[16];
} query;

#define PROP_TABLES 300
#define PROP_MAX_ENTRIES 300
#define PROP_RANDOM_QUERIES 200
#define PROP_MAX_QUERIES (4 * PROP_MAX_ENTRIES + 2 * PROP_RANDOM_QUERIES)

/* How many checked lookups were expected to match and not to: the
 * generator must produce plenty of both for the test to mean anything. */
static size_t prop_hits, prop_misses;

static void check_all(const pp_trust *t, const ref_entry *ref, size_t n,
                      const query *q, size_t nq, size_t table)
{
    size_t i;

    for (i = 0; i < nq; i++) {
        int expect = ref_match(ref, n, q[i].family, q[i].addr);
        int got = match_family(t, q[i].family, q[i].addr);
        char buf[INET6_ADDRSTRLEN];

        if (expect)
            prop_hits++;
        else
            prop_misses++;

        if (got != expect)
            fail_msg("table %zu (%zu entries, %s): %s matched %d, "
                     "expected %d",
                     table, n,
                     t->state_donotuse.internal_donotuse.built ? "built"
                                                               : "unbuilt",
                     addr_text(q[i].family, q[i].addr, buf), got, expect);
        if (match_sockaddr(t, q[i].family, q[i].addr) != expect)
            fail_msg("table %zu: sockaddr %s differs", table,
                     addr_text(q[i].family, q[i].addr, buf));
        /* The other form of the same IPv4 address answers the same. */
        if (q[i].family == PP_AF_INET) {
            uint8_t m[16];

            mapped_of(q[i].addr, m);
            if (pp_trust_match_ip6(t, m) != expect)
                fail_msg("table %zu: mapped %s differs", table,
                         addr_text(q[i].family, q[i].addr, buf));
        } else if (is_mapped(q[i].addr)) {
            if (pp_trust_match_ip4(t, q[i].addr + 12) !=
                ref_match(ref, n, PP_AF_INET, q[i].addr + 12))
                fail_msg("table %zu: IPv4 form of %s differs", table,
                         addr_text(q[i].family, q[i].addr, buf));
        }
    }
}

/* After build: sorted by lo, each lo <= hi, and each range starts more
 * than one address after the previous one ends (no overlap, no touch). */
static void check_built_shape(const pp_trust *t, size_t table)
{
    size_t i;

    for (i = 0; i < t->count; i++) {
        const pp_trust_entry *e = &t->entries[i];

        if (memcmp(e->lo, e->hi, 16) > 0)
            fail_msg("table %zu: range %zu has lo > hi", table, i);
        if (i > 0) {
            uint8_t after[16];

            memcpy(after, t->entries[i - 1].hi, 16);
            step(after, 16, 1);
            if (memcmp(t->entries[i - 1].hi, e->lo, 16) >= 0 ||
                memcmp(after, e->lo, 16) >= 0)
                fail_msg("table %zu: ranges %zu and %zu overlap or touch",
                         table, i - 1, i);
        }
    }
}

static void test_property(void **state)
{
    static pp_trust_entry storage[PROP_MAX_ENTRIES];
    static ref_entry ref[PROP_MAX_ENTRIES];
    static query q[PROP_MAX_QUERIES];
    size_t table;

    (void)state;
    rng_state = 0x5eed2024u;
    prop_hits = prop_misses = 0;
    for (table = 0; table < PROP_TABLES; table++) {
        /* Table shape: size, share of IPv4, how short prefixes get. */
        size_t n = table == 0 ? 0
            : table == 1      ? 1
            : table == 2      ? PROP_MAX_ENTRIES
                              : rng_below(PROP_MAX_ENTRIES + 1);
        unsigned v4_share = rng_below(3); /* 0, 1/2, all */
        static const unsigned spread4[] = {4, 12, 33};
        static const unsigned spread6[] = {8, 40, 129};
        unsigned s4 = spread4[rng_below(3)];
        unsigned s6 = spread6[rng_below(3)];
        pp_trust t;
        size_t i, nq = 0;

        pp_trust_init(&t, storage, PROP_MAX_ENTRIES);
        for (i = 0; i < n; i++) {
            ref_entry *e = &ref[i];
            char text[80];
            int host = -1;
            int rc;
            int v4 = v4_share == 0 ? 0 : v4_share == 2 ? 1 : (int)rng_below(2);
            unsigned width = v4 ? 32 : 128;

            memset(e, 0, sizeof *e);
            e->family = v4 ? PP_AF_INET : PP_AF_INET6;
            if (v4)
                gen_v4(e->net);
            else
                gen_v6(e->net);
            e->prefix = width - rng_below(v4 ? s4 : s6);
            if (rng_below(2))
                fill_host(e->net, width, e->prefix, 0);
            format_entry(e, text, sizeof text);
            rc = add_str(&t, text, &host);
            if (rc != PP_OK)
                fail_msg("table %zu: add %s: status %d", table, text, rc);
            if (host != ref_host_bits(e))
                fail_msg("table %zu: %s: host_bits %d", table, text, host);

            /* Queries at both ends of the entry and one step outside. */
            {
                size_t bytes = width / 8;
                int k;

                for (k = 0; k < 4; k++) {
                    q[nq].family = e->family;
                    memcpy(q[nq].addr, e->net, bytes);
                    fill_host(q[nq].addr, width, e->prefix, k & 1);
                    if (k >= 2)
                        step(q[nq].addr, bytes, k & 1);
                    nq++;
                }
            }
        }
        for (i = 0; i < PROP_RANDOM_QUERIES; i++) {
            q[nq].family = PP_AF_INET;
            gen_v4(q[nq].addr);
            nq++;
            q[nq].family = PP_AF_INET6;
            gen_v6(q[nq].addr);
            nq++;
        }
        assert_int_equal(t.count, n);

        check_all(&t, ref, n, q, nq, table);
        pp_trust_build(&t);
        assert_true(t.count <= n);
        assert_true(n == 0 || t.count > 0);
        check_built_shape(&t, table);
        check_all(&t, ref, n, q, nq, table);
    }
    print_message("property: %zu lookups expected to match, %zu not\n",
                  prop_hits, prop_misses);
    assert_true(prop_hits > (prop_hits + prop_misses) / 5);
    assert_true(prop_misses > (prop_hits + prop_misses) / 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_length),
        cmocka_unit_test(test_match_cases),
        cmocka_unit_test(test_match_rejects),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_add_after_build),
        cmocka_unit_test(test_property),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
