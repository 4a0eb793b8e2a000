/* Parser tests: pp_parse and everything that reads its result (TLV
 * iteration, typed accessors), pp_crc32c, status names, version.
 *
 * Written from the PROXY protocol spec and the parser semantics of the
 * project brief, not from the library: v2 inputs are assembled here byte by
 * byte (build_v2_spec), and CRC32C comes from the bitwise reference in
 * tests/common.c. Each
 * table case goes through one harness (run_valid / run_invalid):
 *   - all bytes in one call, then a second call (results are sticky);
 *   - every prefix alone, copied so that it ends right before a PROT_NONE
 *     page: a read past the bytes given faults (the over-read test);
 *   - every split into two calls;
 *   - one byte at a time, each call in a new heap buffer holding exactly the
 *     bytes so far (ASan/valgrind catch over-reads and stale pointers), then
 *     one byte more.
 * Valid cases: incomplete until the header's last byte, then its length and
 * every field checked. Invalid cases: incomplete, then exactly the expected
 * status from some length on, never anything else; where the table gives
 * `at`, the error must appear exactly when `at` bytes are in (not earlier,
 * not later). */
#define _DEFAULT_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "pphdr.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ========================================================================
 * Failure reporting: a failed check names the case and the step, makes the
 * helper return 0 (that case stops), and the other cases still run. Each
 * test function fails at its end if any case failed.
 * ====================================================================== */

static const char *g_case = "-";
static char g_case_buf[128];
static unsigned g_failures;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
note_failure(int line, const char *fmt, ...)
{
    va_list ap;

    g_failures++;
    fprintf(stderr, "FAIL [%s] (line %d): ", g_case, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            note_failure(__LINE__, __VA_ARGS__);                               \
            return 0;                                                          \
        }                                                                      \
    } while (0)

static void begin_test(void)
{
    g_failures = 0;
    g_case = "-";
}

static void end_test(void)
{
    if (g_failures != 0) {
        print_error("%u case(s) failed, see FAIL lines above\n", g_failures);
        fail();
    }
}

/* Name the case: its given name, else its input with bytes escaped. */
static void set_case(const char *name, const uint8_t *p, size_t n)
{
    size_t i, o = 0;

    if (name != NULL) {
        g_case = name;
        return;
    }
    for (i = 0; i < n && o + 8 < sizeof g_case_buf; i++) {
        uint8_t c = p[i];
        if (c == '\r') {
            g_case_buf[o++] = '\\';
            g_case_buf[o++] = 'r';
        } else if (c == '\n') {
            g_case_buf[o++] = '\\';
            g_case_buf[o++] = 'n';
        } else if (c >= 0x20 && c < 0x7f && c != '\\') {
            g_case_buf[o++] = (char)c;
        } else {
            o += (size_t)snprintf(g_case_buf + o, sizeof g_case_buf - o,
                                  "\\x%02x", c);
        }
    }
    if (i < n)
        g_case_buf[o++] = '~';
    g_case_buf[o] = '\0';
    g_case = g_case_buf;
}

/* A readable name for a pp_parse result. */
static const char *st(int r)
{
    const char *s;

    if (r > 0)
        return "length";
    s = pp_status_name(r);
    return s != NULL ? s : "(null name)";
}

static const char *hex16(const uint8_t *p)
{
    static char out[40];
    size_t i;

    for (i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    return out;
}

/* ========================================================================
 * Byte strings for the tables, and the v2 builder.
 * ====================================================================== */

enum { BL_BYTES, BL_PATTERN, BL_ZEROS };

struct blob {
    const char *p;
    size_t n;
    int kind;
};

#define B(s)                                                                   \
    {                                                                          \
        (s), sizeof(s) - 1, BL_BYTES                                           \
    }
#define PAT(len)                                                               \
    {                                                                          \
        NULL, (len), BL_PATTERN                                                \
    } /* 'A'..'Z' repeated, no NUL */
#define ZEROS(len)                                                             \
    {                                                                          \
        NULL, (len), BL_ZEROS                                                  \
    }

/* TLV types for the builder: the low byte is the wire type. */
enum {
    T_WIRE0 = 0x100,                    /* wire type 0x00 (0 ends lists) */
    T_CRC_GOOD = 0x200 | PP_TLV_CRC32C, /* CRC32C with the right value */
    T_CRC_BAD = 0x400 | PP_TLV_CRC32C   /* CRC32C with a wrong value */
};

/* A TLV: its value is v[0], v[1], then the sub-TLVs (for SSL), each
 * written with its computed length. Lists end at type 0. */
struct tlv_spec {
    int type;
    struct blob v[2];
    const struct tlv_spec *sub;
};

#define TLV(t, ...)                                                            \
    {                                                                          \
        .type = (t), .v = { __VA_ARGS__ }                                      \
    }
#define CRC_OK                                                                 \
    {                                                                          \
        .type = T_CRC_GOOD                                                     \
    }
#define CRC_BAD                                                                \
    {                                                                          \
        .type = T_CRC_BAD                                                      \
    }
/* An SSL TLV: 5 bytes client+verify, then sub-TLVs. */
#define SSL_TLV(head, ...)                                                     \
    {                                                                          \
        .type = PP_TLV_SSL, .v = {B(head)}, .sub = (const struct tlv_spec[])   \
        {                                                                      \
            __VA_ARGS__,                                                       \
            {                                                                  \
                .type = 0                                                      \
            }                                                                  \
        }                                                                      \
    }

/* A v2 header: signature, bytes 12 and 13, the computed length, then the
 * block, the TLVs and raw bytes (all inside the length), then the tail
 * (application data after the header). */
struct v2_spec {
    uint8_t cmd, fam;
    struct blob block[4];
    struct tlv_spec tlv[12];
    struct blob raw;
    struct blob tail;
};

#define SIG "\r\n\r\n\0\r\nQUIT\n"
/* 192.0.2.1:54321 -> 198.51.100.7:443 */
#define INET_BLOCK                                                             \
    "\xc0\x00\x02\x01"                                                         \
    "\xc6\x33\x64\x07"                                                         \
    "\xd4\x31"                                                                 \
    "\x01\xbb"
#define INET_ADDRS                                                             \
    .src = "192.0.2.1", .dst = "198.51.100.7", .sport = 54321, .dport = 443
/* [2001:db8::1]:80 -> [fe80::1234]:65535 */
#define INET6_BLOCK                                                            \
    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"         \
    "\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x12\x34"         \
    "\x00\x50"                                                                 \
    "\xff\xff"
#define INET6_ADDRS                                                            \
    .src = "2001:db8::1", .dst = "fe80::1234", .sport = 80, .dport = 65535

/* Where the builder put each top-level TLV (offset of its type byte). */
struct rec {
    uint8_t type;
    size_t off;
    size_t len;
};

#define BUILD_MAX (16 + 65535 + 4096)

struct built {
    uint8_t *p;
    size_t len;     /* all bytes, tail included */
    size_t hdr_len; /* 16 + L */
    size_t ntlv;
    struct rec tlv[16];
};

static uint8_t g_build[BUILD_MAX];

static void put_blob(struct built *b, const struct blob *bl)
{
    size_t i;

    assert_true(b->len + bl->n <= BUILD_MAX);
    for (i = 0; i < bl->n; i++) {
        if (bl->kind == BL_BYTES)
            b->p[b->len + i] = (uint8_t)bl->p[i];
        else if (bl->kind == BL_PATTERN)
            b->p[b->len + i] = (uint8_t)('A' + i % 26);
        else
            b->p[b->len + i] = 0;
    }
    b->len += bl->n;
}

/* Write one TLV; returns the offset of its type byte. */
static size_t put_tlv(struct built *b, const struct tlv_spec *t)
{
    size_t start = b->len, vlen;
    const struct tlv_spec *s;

    assert_true(b->len + 3 <= BUILD_MAX);
    b->p[b->len] = (uint8_t)(t->type & 0xFF);
    b->len += 3;
    if ((t->type & 0xFF) == PP_TLV_CRC32C && t->type > 0xFF) {
        memset(b->p + b->len, 0, 4); /* value filled in by build_v2_spec */
        b->len += 4;
    }
    put_blob(b, &t->v[0]);
    put_blob(b, &t->v[1]);
    for (s = t->sub; s != NULL && s->type != 0; s++)
        put_tlv(b, s);
    vlen = b->len - start - 3;
    assert_true(vlen <= 0xFFFF);
    b->p[start + 1] = (uint8_t)(vlen >> 8);
    b->p[start + 2] = (uint8_t)(vlen & 0xFF);
    return start;
}

static void build_v2_spec(struct built *b, const struct v2_spec *s)
{
    size_t i, L, crc_at[4], ncrc = 0;
    int crc_bad[4];
    uint32_t crc;

    memset(b, 0, sizeof *b);
    b->p = g_build;
    b->len = build_v2(b->p, s->cmd, s->fam, NULL, 0);
    for (i = 0; i < COUNT(s->block); i++)
        put_blob(b, &s->block[i]);
    for (i = 0; i < COUNT(s->tlv) && s->tlv[i].type != 0; i++) {
        size_t off = put_tlv(b, &s->tlv[i]);
        assert_true(b->ntlv < COUNT(b->tlv));
        b->tlv[b->ntlv].type = b->p[off];
        b->tlv[b->ntlv].off = off;
        b->tlv[b->ntlv].len = b->len - off - 3;
        b->ntlv++;
        if (s->tlv[i].type == T_CRC_GOOD || s->tlv[i].type == T_CRC_BAD) {
            assert_true(ncrc < COUNT(crc_at));
            crc_bad[ncrc] = s->tlv[i].type == T_CRC_BAD;
            crc_at[ncrc++] = off + 3;
        }
    }
    put_blob(b, &s->raw);
    L = b->len - 16;
    assert_true(L <= 0xFFFF);
    b->p[14] = (uint8_t)(L >> 8);
    b->p[15] = (uint8_t)(L & 0xFF);
    b->hdr_len = b->len;
    /* CRC32C of the whole header while the CRC32C values are still zero,
     * stored big-endian; a bad one has its lowest bit flipped. */
    crc = ref_crc32c(0, b->p, b->hdr_len);
    for (i = 0; i < ncrc; i++) {
        uint32_t v = crc_bad[i] ? crc ^ 1u : crc;
        b->p[crc_at[i]] = (uint8_t)(v >> 24);
        b->p[crc_at[i] + 1] = (uint8_t)(v >> 16);
        b->p[crc_at[i] + 2] = (uint8_t)(v >> 8);
        b->p[crc_at[i] + 3] = (uint8_t)v;
    }
    put_blob(b, &s->tail);
}

/* ========================================================================
 * The harness.
 * ====================================================================== */

/* First byte of a PROT_NONE page; inputs are copied to end right there. */
static uint8_t *g_guard;
static size_t g_arena, g_page;

static int group_setup(void **state)
{
    uint8_t *m;

    (void)state;
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    g_arena = (BUILD_MAX / g_page + 1) * g_page;
    m = mmap(NULL, g_arena + g_page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    if (mprotect(m + g_arena, g_page, PROT_NONE) != 0)
        return -1;
    g_guard = m + g_arena;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    munmap(g_guard - g_arena, g_arena + g_page);
    return 0;
}

/* n bytes of p, ending right before the guard page (NULL for 0 bytes). */
static const uint8_t *at_guard(const void *p, size_t n)
{
    if (n == 0)
        return NULL;
    assert_true(n <= g_arena);
    memmove(g_guard - n, p, n);
    return g_guard - n;
}

struct input {
    const uint8_t *p;
    size_t len;
    size_t max_len;
    unsigned flags;
};

static void fresh(pp_header *h, const struct input *in)
{
    memset(h, 0, sizeof *h);
    h->max_len = in->max_len;
    h->flags = in->flags;
}

/* A new heap buffer of exactly n bytes: the input's first n bytes, then
 * 'X' past its end (to feed "one byte more"). */
static uint8_t *heap_copy(const struct input *in, size_t n)
{
    uint8_t *b = malloc(n);

    assert_non_null(b);
    memcpy(b, in->p, n < in->len ? n : in->len);
    if (n > in->len)
        memset(b + in->len, 'X', n - in->len);
    return b;
}

/* Junk the buffer before freeing it: a parser that kept a pointer into it
 * would read garbage (and ASan reports the use after free). */
static void discard(uint8_t *b, size_t n)
{
    memset(b, 0xA5, n);
    free(b);
}

typedef int (*fields_fn)(const void *ctx, const pp_header *h,
                         const uint8_t *buf);

static int want_valid(size_t n, size_t hdr_len)
{
    return n < hdr_len ? PP_INCOMPLETE : (int)hdr_len;
}

/* pp_expected_len after n bytes of a valid input: v2 knows 16 + L from its
 * 16th byte on, v1 only once complete. */
static size_t want_expected(const struct input *in, size_t n, size_t hdr_len)
{
    if (n >= hdr_len)
        return hdr_len;
    if (in->p[0] == '\r' && n >= 16)
        return hdr_len;
    return 0;
}

static int run_valid(const struct input *in, size_t hdr_len, fields_fn fields,
                     const void *ctx)
{
    pp_header h;
    const uint8_t *g;
    uint8_t *b;
    size_t n;
    int r, ok;

    /* All bytes in one call, then again: same length, same fields. */
    fresh(&h, in);
    r = pp_parse(&h, in->p, in->len);
    CHECK(r == (int)hdr_len, "one call: got %d (%s), want %zu", r, st(r),
          hdr_len);
    CHECK(h.length == hdr_len, "length field %zu, want %zu", h.length, hdr_len);
    CHECK(pp_expected_len(&h) == hdr_len, "pp_expected_len %zu, want %zu",
          pp_expected_len(&h), hdr_len);
    if (!fields(ctx, &h, in->p))
        return 0;
    r = pp_parse(&h, in->p, in->len);
    CHECK(r == (int)hdr_len, "second call: got %d (%s), want %zu", r, st(r),
          hdr_len);
    if (!fields(ctx, &h, in->p))
        return 0;

    /* Every prefix alone, against the guard page. */
    for (n = 0; n <= in->len; n++) {
        g = at_guard(in->p, n);
        fresh(&h, in);
        r = pp_parse(&h, g, n);
        CHECK(r == want_valid(n, hdr_len),
              "prefix of %zu bytes: got %d (%s), want %d", n, r, st(r),
              want_valid(n, hdr_len));
        CHECK(pp_expected_len(&h) == want_expected(in, n, hdr_len),
              "pp_expected_len after %zu bytes: got %zu, want %zu", n,
              pp_expected_len(&h), want_expected(in, n, hdr_len));
        if (n == hdr_len && !fields(ctx, &h, g))
            return 0;
    }

    /* Every split into two calls. */
    for (n = 1; n < in->len; n++) {
        fresh(&h, in);
        r = pp_parse(&h, in->p, n);
        CHECK(r == want_valid(n, hdr_len),
              "split at %zu, first call: got %d (%s)", n, r, st(r));
        r = pp_parse(&h, in->p, in->len);
        CHECK(r == (int)hdr_len, "split at %zu, second call: got %d (%s)", n, r,
              st(r));
        if (!fields(ctx, &h, in->p))
            return 0;
    }

    /* One byte at a time, each call in a new buffer, then one byte more. */
    fresh(&h, in);
    for (n = 1; n <= in->len + 1; n++) {
        b = heap_copy(in, n);
        r = pp_parse(&h, b, n);
        ok = r == want_valid(n, hdr_len) &&
            pp_expected_len(&h) == want_expected(in, n, hdr_len);
        if (ok && n == hdr_len)
            ok = fields(ctx, &h, b);
        discard(b, n);
        CHECK(ok,
              "byte at a time, %zu bytes: got %d (%s), want %d, "
              "expected_len %zu",
              n, r, st(r), want_valid(n, hdr_len), pp_expected_len(&h));
    }
    return 1;
}

static int g_res[BUILD_MAX + 1];

static int run_invalid(const struct input *in, int want, size_t at)
{
    pp_header h;
    uint8_t *b;
    size_t n, first = 0;
    int r;

    /* All bytes in one call, then again. */
    fresh(&h, in);
    r = pp_parse(&h, in->p, in->len);
    CHECK(r == want, "one call: got %d (%s), want %d (%s)", r, st(r), want,
          st(want));
    r = pp_parse(&h, in->p, in->len);
    CHECK(r == want, "second call: got %d (%s), want %d (%s)", r, st(r), want,
          st(want));

    /* Every prefix alone, against the guard page: incomplete, then the
     * error from some length on. */
    assert_true(in->len < COUNT(g_res));
    for (n = 0; n <= in->len; n++) {
        fresh(&h, in);
        r = g_res[n] = pp_parse(&h, at_guard(in->p, n), n);
        CHECK(r == PP_INCOMPLETE || r == want,
              "prefix of %zu bytes: got %d (%s), want incomplete or %s", n, r,
              st(r), st(want));
        if (first != 0)
            CHECK(r == want, "prefix of %zu bytes is %s, %zu bytes gave %s", n,
                  st(r), first, st(want));
        else if (r == want)
            first = n;
    }
    if (at != 0)
        CHECK(first == at,
              "error first reported with %zu bytes, want "
              "exactly %zu",
              first, at);

    /* Every split into two calls. */
    for (n = 1; n < in->len; n++) {
        fresh(&h, in);
        r = pp_parse(&h, in->p, n);
        CHECK(r == g_res[n], "split at %zu, first call: got %s, alone %s", n,
              st(r), st(g_res[n]));
        r = pp_parse(&h, in->p, in->len);
        CHECK(r == want, "split at %zu, second call: got %d (%s)", n, r, st(r));
    }

    /* One byte at a time in new buffers, then one byte more: the error
     * appears where it does alone and stays. */
    fresh(&h, in);
    for (n = 1; n <= in->len + 1; n++) {
        int w = n <= in->len ? g_res[n] : want;
        b = heap_copy(in, n);
        r = pp_parse(&h, b, n);
        discard(b, n);
        CHECK(r == w, "byte at a time, %zu bytes: got %d (%s), want %s", n, r,
              st(r), st(w));
    }
    return 1;
}

/* ========================================================================
 * Field checks shared by v1 and v2.
 * ====================================================================== */

static int check_ip(const char *which, const pp_addr *a, uint8_t family,
                    const char *text, uint16_t port)
{
    uint8_t want[16];

    memset(want, 0, sizeof want);
    CHECK(inet_pton(family == PP_AF_INET ? AF_INET : AF_INET6, text, want) == 1,
          "test table: %s is not an address", text);
    CHECK(memcmp(a->ip, want, 16) == 0, "%s address: got %s, want %s", which,
          hex16(a->ip), text);
    CHECK(a->port == port, "%s port: got %u, want %u", which, a->port, port);
    CHECK(a->path == NULL && a->path_len == 0 && a->unix_raw == NULL,
          "%s: UNIX fields set for an IP address", which);
    return 1;
}

static int check_unix(const char *which, const pp_addr *a, const uint8_t *field,
                      size_t path_len)
{
    static const uint8_t zero[16];

    CHECK(a->unix_raw == field, "%s unix_raw does not point at its field",
          which);
    CHECK((const uint8_t *)a->path == field,
          "%s path does not point at its field", which);
    CHECK(a->path_len == path_len, "%s path_len: got %zu, want %zu", which,
          a->path_len, path_len);
    CHECK(a->port == 0 && memcmp(a->ip, zero, 16) == 0,
          "%s: ip/port set for a UNIX address", which);
    return 1;
}

static int check_no_addr(const char *which, const pp_addr *a)
{
    static const uint8_t zero[16];

    CHECK(memcmp(a->ip, zero, 16) == 0 && a->port == 0 && a->path == NULL &&
              a->path_len == 0 && a->unix_raw == NULL,
          "%s: address reported for a header without addresses (ip %s "
          "port %u)",
          which, hex16(a->ip), a->port);
    return 1;
}

/* Expected cloud accessor results; all zero: each accessor returns 0. */
struct cloud {
    const char *aws;
    int azure_ok;
    uint32_t azure;
    int gcp_ok;
    uint64_t gcp;
};

static int check_cloud(const pp_header *h, const struct cloud *cl)
{
    pp_bytes b = {NULL, 0};
    uint32_t az = 0;
    uint64_t g = 0;
    int got;

    got = pp_aws_vpce_id(h, &b);
    CHECK(got == (cl->aws != NULL), "pp_aws_vpce_id: got %d", got);
    if (cl->aws != NULL)
        CHECK(b.len == strlen(cl->aws) && memcmp(b.ptr, cl->aws, b.len) == 0,
              "pp_aws_vpce_id: got \"%.*s\", want \"%s\"", (int)b.len,
              (const char *)b.ptr, cl->aws);
    got = pp_azure_linkid(h, &az);
    CHECK(got == cl->azure_ok, "pp_azure_linkid: got %d, want %d", got,
          cl->azure_ok);
    if (cl->azure_ok)
        CHECK(az == cl->azure,
              "pp_azure_linkid: got 0x%08" PRIx32 ", want 0x%08" PRIx32, az,
              cl->azure);
    got = pp_gcp_psc_id(h, &g);
    CHECK(got == cl->gcp_ok, "pp_gcp_psc_id: got %d, want %d", got, cl->gcp_ok);
    if (cl->gcp_ok)
        CHECK(g == cl->gcp,
              "pp_gcp_psc_id: got 0x%016" PRIx64 ", want 0x%016" PRIx64, g,
              cl->gcp);
    return 1;
}

static const struct rec *first_rec(const struct rec *r, size_t n, uint8_t type)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (r[i].type == type)
            return &r[i];
    return NULL;
}

/* pp_ssl and the SSL sub-TLV iterator against a decoding done here from
 * the spec: client (1 byte), verify (4, big-endian), sub-TLVs; each field
 * is the first sub-TLV of its type. */
static int check_ssl(const pp_header *h, const uint8_t *buf,
                     const struct rec *ssl)
{
    static const char *const names[8] = {"version",    "cn",         "cipher",
                                         "sig_alg",    "key_alg",    "group",
                                         "sig_scheme", "client_cert"};
    pp_ssl_info info;
    pp_bytes *field[8];
    const uint8_t *want_ptr[8], *v, *p, *end;
    size_t want_len[8], i, len;
    pp_tlv t, sub;
    pp_tlv_iter it;
    int got;

    field[0] = &info.version;
    field[1] = &info.cn;
    field[2] = &info.cipher;
    field[3] = &info.sig_alg;
    field[4] = &info.key_alg;
    field[5] = &info.group;
    field[6] = &info.sig_scheme;
    field[7] = &info.client_cert;
    /* Non-NULL junk: absent fields must be set to NULL/0 by pp_ssl. */
    memset(&info, 0, sizeof info);
    for (i = 0; i < 8; i++) {
        field[i]->ptr = buf;
        field[i]->len = 12345;
        want_ptr[i] = NULL;
        want_len[i] = 0;
    }
    got = pp_ssl(h, &info);
    if (ssl == NULL) {
        CHECK(got == 0, "pp_ssl: got %d without an SSL TLV", got);
        return 1;
    }
    CHECK(got == 1, "pp_ssl: got %d with an SSL TLV", got);
    v = buf + ssl->off + 3;
    end = v + ssl->len;
    CHECK(info.client == v[0], "pp_ssl client: got 0x%02x, want 0x%02x",
          info.client, v[0]);
    CHECK(info.verify == be32(v + 1),
          "pp_ssl verify: got 0x%08" PRIx32 ", want 0x%08" PRIx32, info.verify,
          be32(v + 1));

    CHECK(pp_tlv_find(h, PP_TLV_SSL, &t) == 1, "pp_tlv_find(SSL) failed");
    pp_ssl_iter_init(&it, &t);
    for (p = v + 5; p < end; p += 3 + len) {
        CHECK(end - p >= 3, "test data: SSL sub-TLVs do not tile");
        len = (size_t)p[1] << 8 | p[2];
        CHECK(len <= (size_t)(end - p) - 3,
              "test data: SSL sub-TLVs do not tile");
        CHECK(pp_tlv_next(&it, &sub) == 1,
              "SSL iterator stopped before the sub-TLV at offset %zu",
              (size_t)(p - buf));
        CHECK(sub.type == p[0] && sub.len == len && sub.value == p + 3,
              "SSL sub-TLV at offset %zu: got type 0x%02x len %u, want type "
              "0x%02x len %zu",
              (size_t)(p - buf), sub.type, sub.len, p[0], len);
        if (p[0] >= PP_SSL_VERSION && p[0] <= PP_SSL_CLIENT_CERT &&
            want_ptr[p[0] - PP_SSL_VERSION] == NULL) {
            want_ptr[p[0] - PP_SSL_VERSION] = p + 3;
            want_len[p[0] - PP_SSL_VERSION] = len;
        }
    }
    CHECK(pp_tlv_next(&it, &sub) == 0, "SSL iterator yields extra sub-TLVs");
    for (i = 0; i < 8; i++)
        CHECK(field[i]->ptr == want_ptr[i] && field[i]->len == want_len[i],
              "pp_ssl %s: got %s len %zu, want %s len %zu", names[i],
              field[i]->ptr == NULL ? "NULL" : "pointer", field[i]->len,
              want_ptr[i] == NULL ? "NULL" : "pointer", want_len[i]);
    return 1;
}

static const struct {
    const char *name;
    int (*fn)(const pp_header *, pp_bytes *);
    uint8_t type;
} bytes_accessors[] = {
    {"pp_alpn", pp_alpn, PP_TLV_ALPN},
    {"pp_authority", pp_authority, PP_TLV_AUTHORITY},
    {"pp_unique_id", pp_unique_id, PP_TLV_UNIQUE_ID},
    {"pp_netns", pp_netns, PP_TLV_NETNS},
};

/* The TLV view, iterator, pp_tlv_find and accessors against the TLVs the
 * builder wrote (r[0..n), in wire order). */
static int check_tlvs(const pp_header *h, const uint8_t *buf, size_t region_off,
                      size_t region_len, const struct rec *r, size_t n,
                      const struct cloud *cl)
{
    pp_tlv_iter it;
    pp_tlv t;
    size_t i;
    unsigned type;

    if (region_len == 0) {
        CHECK(h->tlvs == NULL && h->tlvs_len == 0,
              "tlvs: got %zu bytes, want none", h->tlvs_len);
    } else {
        CHECK(h->tlvs == buf + region_off, "tlvs does not point at offset %zu",
              region_off);
        CHECK(h->tlvs_len == region_len, "tlvs_len: got %zu, want %zu",
              h->tlvs_len, region_len);
    }

    pp_tlv_iter_init(&it, h);
    for (i = 0; i < n; i++) {
        CHECK(pp_tlv_next(&it, &t) == 1,
              "TLV iterator stopped after %zu of %zu TLVs", i, n);
        CHECK(t.type == r[i].type && t.len == r[i].len &&
                  t.value == buf + r[i].off + 3,
              "TLV %zu: got type 0x%02x len %u, want type 0x%02x len %zu at "
              "offset %zu",
              i, t.type, t.len, r[i].type, r[i].len, r[i].off + 3);
    }
    CHECK(pp_tlv_next(&it, &t) == 0, "TLV iterator yields more than %zu", n);
    CHECK(pp_tlv_next(&it, &t) == 0, "TLV iterator restarts after its end");

    for (type = 0; type < 256; type++) {
        const struct rec *f = first_rec(r, n, (uint8_t)type);
        int got;
        memset(&t, 0, sizeof t);
        got = pp_tlv_find(h, (uint8_t)type, &t);
        CHECK(got == (f != NULL), "pp_tlv_find(0x%02x): got %d", type, got);
        if (f != NULL)
            CHECK(t.type == type && t.len == f->len &&
                      t.value == buf + f->off + 3,
                  "pp_tlv_find(0x%02x) did not give the first one", type);
    }

    for (i = 0; i < COUNT(bytes_accessors); i++) {
        const struct rec *f = first_rec(r, n, bytes_accessors[i].type);
        pp_bytes out = {NULL, 0};
        int got = bytes_accessors[i].fn(h, &out);
        CHECK(got == (f != NULL), "%s: got %d", bytes_accessors[i].name, got);
        if (f != NULL)
            CHECK(out.ptr == buf + f->off + 3 && out.len == f->len,
                  "%s: got %zu bytes, want the TLV's %zu",
                  bytes_accessors[i].name, out.len, f->len);
    }
    if (!check_ssl(h, buf, first_rec(r, n, PP_TLV_SSL)))
        return 0;
    return check_cloud(h, cl);
}

/* ========================================================================
 * v1: valid lines.
 * ====================================================================== */

struct v1_valid {
    const char *name;      /* NULL: the escaped input names the case */
    struct blob in;        /* the line, maybe followed by other bytes */
    size_t hdr_len;        /* 0: the whole input is the line */
    uint8_t family;        /* PP_AF_INET/INET6; PP_AF_UNSPEC: UNKNOWN */
    const char *src, *dst; /* expected addresses, as text */
    uint16_t sport, dport;
    size_t max_len;
    unsigned flags;
};

#define TCP4 .family = PP_AF_INET
#define TCP6 .family = PP_AF_INET6
#define UNKNOWN .family = PP_AF_UNSPEC
#define F39 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
#define LINE32 "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
#define LINE32_FIELDS                                                          \
    TCP4, .src = "1.2.3.4", .dst = "5.6.7.8", .sport = 1, .dport = 2

static const struct v1_valid v1_valid[] = {
    {.in = B("PROXY TCP4 192.168.0.1 10.0.0.255 56324 443\r\n"),
     TCP4,
     .src = "192.168.0.1",
     .dst = "10.0.0.255",
     .sport = 56324,
     .dport = 443},
    {.in = B("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
     TCP4,
     .src = "0.0.0.0",
     .dst = "255.255.255.255",
     .sport = 0,
     .dport = 65535},
    {.in = B("PROXY TCP4 10.20.30.40 100.200.199.9 65534 10\r\n"),
     TCP4,
     .src = "10.20.30.40",
     .dst = "100.200.199.9",
     .sport = 65534,
     .dport = 10},
    {.name = "v1 then application data",
     .hdr_len = 32,
     .in = B(LINE32 "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
     LINE32_FIELDS},
    {.name = "v1 then more than 107 bytes of data",
     .hdr_len = 32,
     .in = B(LINE32 "0123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789"),
     LINE32_FIELDS},
    {.name = "v1 then a second v1 header: only the first",
     .hdr_len = 32,
     .in = B(LINE32 "PROXY TCP4 9.9.9.9 8.8.8.8 3 4\r\n"),
     LINE32_FIELDS},
    {.name = "v1 then a v2 header: only the first",
     .hdr_len = 32,
     .in = B(LINE32 SIG "\x21\x11\x00\x0c" INET_BLOCK),
     LINE32_FIELDS},
    {.in = B("PROXY TCP6 2001:db8::1 ::1 12345 443\r\n"),
     TCP6,
     .src = "2001:db8:0:0:0:0:0:1",
     .dst = "0:0:0:0:0:0:0:1",
     .sport = 12345,
     .dport = 443},
    {.in = B("PROXY TCP6 :: ::1 0 0\r\n"),
     TCP6,
     .src = "0:0:0:0:0:0:0:0",
     .dst = "0:0:0:0:0:0:0:1"},
    {.in = B("PROXY TCP6 1:: ::ffff:1.2.3.4 1 2\r\n"),
     TCP6,
     .src = "1:0:0:0:0:0:0:0",
     .dst = "0:0:0:0:0:ffff:102:304",
     .sport = 1,
     .dport = 2},
    {.in = B("PROXY TCP6 1:2:3:4:5:6:1.2.3.4 "
             "2001:0DB8:ABCD:EF01:2345:6789:AbCd:eF00 1 2\r\n"),
     TCP6,
     .src = "1:2:3:4:5:6:102:304",
     .dst = "2001:db8:abcd:ef01:2345:6789:abcd:ef00",
     .sport = 1,
     .dport = 2},
    {.in = B("PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 1 2\r\n"),
     TCP6,
     .src = "1:2:3:4:5:6:7:0",
     .dst = "0:2:3:4:5:6:7:8",
     .sport = 1,
     .dport = 2},
    {.in = B("PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000 "
             "FFFF:ffff:FFFF:ffff:FFFF:ffff:FFFF:ffff 65535 65535\r\n"),
     TCP6,
     .src = "::",
     .dst = F39,
     .sport = 65535,
     .dport = 65535},
    {.in = B("PROXY TCP6 ::1.2.3.4 1:2:3:4:5::1.2.3.4 1 2\r\n"),
     TCP6,
     .src = "0:0:0:0:0:0:102:304",
     .dst = "1:2:3:4:5:0:102:304",
     .sport = 1,
     .dport = 2},
    {.in = B("PROXY TCP6 fe80::1:2 1::8 1 2\r\n"),
     TCP6,
     .src = "fe80:0:0:0:0:0:1:2",
     .dst = "1:0:0:0:0:0:0:8",
     .sport = 1,
     .dport = 2},
    {.in = B("PROXY TCP6 ::ffff:0.0.0.0 ::ffff:255.255.255.255 1 2\r\n"),
     TCP6,
     .src = "0:0:0:0:0:ffff:0:0",
     .dst = "0:0:0:0:0:ffff:ffff:ffff",
     .sport = 1,
     .dport = 2},
    {.name = "maximal TCP6 line, 107 bytes",
     .hdr_len = 107,
     .in = B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.25.4 " F39
             " 65535 65535\r\n"),
     TCP6,
     .src = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:1904",
     .dst = F39,
     .sport = 65535,
     .dport = 65535},
    {.in = B("PROXY UNKNOWN\r\n"), UNKNOWN},
    {.in = B("PROXY UNKNOWN \r\n"), UNKNOWN},
    {.in = B("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"), UNKNOWN},
    {.in = B("PROXY UNKNOWN  double  spaces\tand\ttabs \r\n"), UNKNOWN},
    {.name = "UNKNOWN with NUL and binary bytes",
     .in = B("PROXY UNKNOWN \0\0junk\x01\xff\x7f\0 \r\n"),
     UNKNOWN},
    {.name = "UNKNOWN then application data",
     .hdr_len = 15,
     .in = B("PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n\r\n"),
     UNKNOWN},
    {.name = "maximal UNKNOWN line, 107 bytes (the spec's example)",
     .hdr_len = 107,
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\n"),
     UNKNOWN},
    {.name = "maximal UNKNOWN line, then application data",
     .hdr_len = 107,
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\nGET / HTTP/1.1"),
     UNKNOWN},
    {.name = "v1 line of exactly max_len bytes",
     .max_len = 32,
     .in = B(LINE32),
     LINE32_FIELDS},
    {.name = "max_len 15: the shortest line fits",
     .max_len = 15,
     .in = B("PROXY UNKNOWN\r\n"),
     UNKNOWN},
    {.name = "max_len above 107 leaves the 107-byte line alone",
     .max_len = 1000,
     .hdr_len = 107,
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\n"),
     UNKNOWN},
    {.name = "PP_F_NO_V2 accepts v1",
     .flags = PP_F_NO_V2,
     .in = B(LINE32),
     LINE32_FIELDS},
};

static int check_v1_fields(const void *ctx, const pp_header *h,
                           const uint8_t *buf)
{
    static const struct cloud none;
    const struct v1_valid *c = ctx;
    int tcp = c->family != PP_AF_UNSPEC;

    CHECK(h->version == 1, "version %u", h->version);
    CHECK(h->command == PP_CMD_PROXY, "command %u", h->command);
    CHECK(h->family == c->family, "family %u, want %u", h->family, c->family);
    CHECK(h->transport == (tcp ? PP_TRANSPORT_STREAM : PP_TRANSPORT_UNSPEC),
          "transport %u", h->transport);
    CHECK(pp_has_addresses(h) == tcp, "pp_has_addresses %d",
          pp_has_addresses(h));
    if (tcp) {
        if (!check_ip("src", &h->src, c->family, c->src, c->sport) ||
            !check_ip("dst", &h->dst, c->family, c->dst, c->dport))
            return 0;
    } else if (!check_no_addr("src", &h->src) ||
               !check_no_addr("dst", &h->dst)) {
        return 0;
    }
    return check_tlvs(h, buf, 0, 0, NULL, 0, &none);
}

static void test_v1_valid(void **state)
{
    size_t i;

    (void)state;
    begin_test();
    for (i = 0; i < COUNT(v1_valid); i++) {
        const struct v1_valid *c = &v1_valid[i];
        struct input in;
        in.p = (const uint8_t *)c->in.p;
        in.len = c->in.n;
        in.max_len = c->max_len;
        in.flags = c->flags;
        set_case(c->name, in.p, in.len);
        run_valid(&in, c->hdr_len != 0 ? c->hdr_len : c->in.n, check_v1_fields,
                  c);
    }
    end_test();
}

/* ========================================================================
 * Invalid inputs given as bytes: v1, not PROXY at all, the v2 fixed part,
 * version flags. `at`: the error must appear exactly when that many bytes
 * are in (0: only checked to appear consistently).
 * ====================================================================== */

struct bad_bytes {
    const char *name;
    struct blob in;
    int status;
    size_t at;
    size_t max_len;
    unsigned flags;
};

#define L4 "PROXY TCP4 "
#define L6 "PROXY TCP6 "
#define INET_HDR SIG "\x21\x11\x00\x0c" INET_BLOCK

static const struct bad_bytes bad_bytes[] = {
    /* Not a PROXY header at all. */
    {.in = B("GET / HTTP/1.1\r\n"), .status = PP_ERR_NOT_PROXY, .at = 1},
    {.name = "TLS ClientHello",
     .in = B("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03"),
     .status = PP_ERR_NOT_PROXY,
     .at = 1},
    {.in = B("POST / HTTP/1.1\r\n"), .status = PP_ERR_NOT_PROXY, .at = 2},
    {.in = B("PRI * HTTP/2.0\r\n"), .status = PP_ERR_NOT_PROXY, .at = 3},
    {.in = B("PROXX TCP4"), .status = PP_ERR_NOT_PROXY, .at = 5},
    {.in = B("PROX\r\n"), .status = PP_ERR_NOT_PROXY, .at = 5},
    {.in = B("proxy TCP4"), .status = PP_ERR_NOT_PROXY, .at = 1},
    {.in = B(" PROXY TCP4"), .status = PP_ERR_NOT_PROXY, .at = 1},
    {.in = B("\r\nX"), .status = PP_ERR_NOT_PROXY, .at = 3},
    {.in = B("\r\r\n"), .status = PP_ERR_NOT_PROXY, .at = 2},
    {.in = B("\n"), .status = PP_ERR_NOT_PROXY, .at = 1},
    {.in = B("\0"), .status = PP_ERR_NOT_PROXY, .at = 1},
    {.in = B("\r\n\r\n\0\r\nQUIT\r"), .status = PP_ERR_NOT_PROXY, .at = 12},

    /* v1: "PROXY" and its separator. */
    {.in = B("PROXYX"), .status = PP_ERR_V1_SYNTAX, .at = 6},
    {.in = B("PROXY\r\n"), .status = PP_ERR_V1_SYNTAX, .at = 6},
    {.in = B("PROXY\n"), .status = PP_ERR_V1_SYNTAX, .at = 6},
    {.in = B("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 6},
    {.in = B("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 7},
    {.in = B("PROXY \r\n"), .status = PP_ERR_V1_SYNTAX, .at = 7},
    {.in = B("PROXY \n"), .status = PP_ERR_V1_CRLF, .at = 7},

    /* v1: the protocol token. */
    {.in = B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 10},
    {.in = B("PROXY TCP4X 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 11},
    {.in = B("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 10},
    {.in = B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 7},
    {.in = B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 8},
    {.in = B("PROXY T\r\n"), .status = PP_ERR_V1_FAMILY, .at = 8},
    {.in = B("PROXY UNKNOWNX\r\n"), .status = PP_ERR_V1_FAMILY, .at = 14},
    {.in = B("PROXY UNKNOW\r\n"), .status = PP_ERR_V1_FAMILY, .at = 13},
    {.in = B("PROXY UNKNOWN\t\r\n"), .status = PP_ERR_V1_FAMILY, .at = 14},
    {.in = B("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 11},
    /* Whole lines take a word-compare path: its token checks too. */
    {.in = B("PROXY UNP6 2001:db8::1 ::1 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 9},
    {.in = B("PROXY UNP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 9},
    {.in = B("PROXY TCX4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 9},
    {.in = B("PROXY UNKNOWP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_FAMILY,
     .at = 13},

    /* v1: separators, missing and extra fields, CR and LF. */
    {.in = B("PROXY TCP4\r\n"), .status = PP_ERR_V1_SYNTAX, .at = 11},
    {.in = B("PROXY TCP4\n"), .status = PP_ERR_V1_CRLF, .at = 11},
    {.in = B("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 12},
    {.in = B("PROXY TCP4 1.2.3.4\r\n"), .status = PP_ERR_V1_SYNTAX, .at = 19},
    {.in = B("PROXY TCP4 1.2.3.4\n"), .status = PP_ERR_V1_CRLF, .at = 19},
    {.in = B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 20},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 27},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 27},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 \r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 28},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 30},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 30},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 \r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 31},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80  443\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 31},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 34},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443 8\r\n"),
     .status = PP_ERR_V1_SYNTAX,
     .at = 34},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 34},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\r\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 35},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rX"),
     .status = PP_ERR_V1_CRLF,
     .at = 35},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\0"),
     .status = PP_ERR_V1_CRLF,
     .at = 35},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"
             "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 32},

    /* v1: IPv4 source addresses (the field starts at byte 11). */
    {.in = B(L4 "127.1 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 17},
    {.in = B(L4 "010.0.0.1 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 13},
    {.in = B(L4 "01.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 13},
    {.in = B(L4 "1.2.3.04 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "256.1.1.1 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 14},
    {.in = B(L4 "999.1.1.1 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 14},
    {.in = B(L4 "1.2.3.256 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 20},
    {.in = B(L4 "2130706433 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 15},
    {.in = B(L4 "1 5.6.7.8 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 13},
    {.in = B(L4 "1.2.3.4.5 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "1.2.3. 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 18},
    {.in = B(L4 "1..2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 14},
    {.in = B(L4 ".1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 12},
    {.in = B(L4 "1.2.3.4x 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "1.2.3.4/8 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "1.2.3.-4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 18},
    {.in = B(L4 "0x1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 13},
    {.in = B(L4 "1.2.3.4\0 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "1.2.3.4\t5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L4 "\t1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 12},
    {.name = "IPv6 text in TCP4",
     .in = B(L4 "::1 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 12},
    {.name = "IPv6 text in TCP4 (starting with a digit)",
     .in = B(L4 "1:2::3 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 13},
    /* ... the destination (from byte 19), unfinished at CR or LF. */
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 25},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 25},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 27},
    {.in = B("PROXY TCP4 1.2.3.4 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 20},

    /* v1: ports (source from byte 27, destination from byte 30). */
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 29},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 00 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 29},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 32},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 99999 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 32},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 655350 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 33},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 100000 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 33},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 28},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 28},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80x 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 30},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 1e3 443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 29},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80\t443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 30},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 35},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 0443\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 32},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443x\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 34},
    {.in = B("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\t\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 34},

    /* v1: IPv6 source addresses (the field starts at byte 11). */
    {.name = "IPv4 text in TCP6",
     .in = B(L6 "1.2.3.4 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "IPv4 text as TCP6 destination",
     .in = B(L6 "::1 1.2.3.4 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "8 groups plus ::",
     .in = B(L6 "1:2:3:4:5:6:7:8:: ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = ":: then 8 groups",
     .in = B(L6 "::1:2:3:4:5:6:7:8 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "8 groups with :: inside",
     .in = B(L6 "1:2:3:4::5:6:7:8 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "6 groups, ::, and a dotted tail",
     .in = B(L6 "1:2:3:4:5:6::1.2.3.4 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "7 groups and a dotted tail",
     .in = B(L6 "1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.name = "9 groups",
     .in = B(L6 "1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "::: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 14},
    {.in = B(L6 "1::2::3 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 17},
    {.in = B(L6 "::1::2 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "12345:: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 16},
    {.in = B(L6 "00000:: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 16},
    {.in = B(L6 "::1%eth0 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 15},
    {.in = B(L6 "fe80::1%25 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 19},
    {.in = B(L6 "[::1] ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 12},
    {.name = "dotted tail not last",
     .in = B(L6 "::1.2.3.4:5 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 21},
    {.in = B(L6 "1:2:3:4:5:6:7 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 25},
    {.in = B(L6 ":1:: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 13},
    {.in = B(L6 ": ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 13},
    {.in = B(L6 "1: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 14},
    {.in = B(L6 "g:: ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS, .at = 12},
    {.in = B(L6 "::ffff:1.2.3 ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 24},
    {.in = B(L6 "::ffff:01.2.3.4 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "::ffff:1.2.3.04 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "::ffff:256.1.1.1 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "::ffff:1.2.3.4.5 ::1 1 2\r\n"), .status = PP_ERR_V1_ADDRESS},
    {.in = B(L6 "::ffff:1.2.3.4x ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 26},
    {.in = B(L6 "1:2:3:4:5:6:7:8x ::1 1 2\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 27},
    {.in = B(L6 "::1 ::1\r\n"), .status = PP_ERR_V1_SYNTAX, .at = 19},

    /* v1: UNKNOWN. */
    {.in = B("PROXY UNKNOWN\n"), .status = PP_ERR_V1_CRLF, .at = 14},
    {.in = B("PROXY UNKNOWN junk\nmore\r\n"),
     .status = PP_ERR_V1_CRLF,
     .at = 19},
    {.in = B("PROXY UNKNOWN\rX"), .status = PP_ERR_V1_CRLF, .at = 15},
    {.in = B("PROXY UNKNOWN\r\0"), .status = PP_ERR_V1_CRLF, .at = 15},
    {.in = B("PROXY UNKNOWN junk\r\r\n"), .status = PP_ERR_V1_CRLF, .at = 20},

    /* v1: length. */
    {.name = "106 bytes without CR (UNKNOWN)",
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 65535X"),
     .status = PP_ERR_V1_TOO_LONG,
     .at = 106},
    {.name = "108-byte UNKNOWN line",
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 655350\r\n"),
     .status = PP_ERR_V1_TOO_LONG,
     .at = 106},
    {.name = "116-byte TCP6 line of valid fields",
     .in = B(L6 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
                "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
                "65535 65535\r\n"),
     .status = PP_ERR_V1_TOO_LONG,
     .at = 106},
    {.name = "lone LF at byte 94 of a long UNKNOWN line: not too long",
     .in = B("PROXY UNKNOWN " F39 " " F39 "\n 65535 65535 and more bytes"),
     .status = PP_ERR_V1_CRLF,
     .at = 94},
    {.name = "bad TCP6 destination ending at byte 103: not too long",
     .in = B(L6 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
                "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555 "
                "65535 65535\r\n"),
     .status = PP_ERR_V1_ADDRESS,
     .at = 103},
    {.name = "CR as byte 106, not followed by LF",
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\rX"),
     .status = PP_ERR_V1_CRLF,
     .at = 107},
    {.name = "max_len 200 keeps the v1 limit",
     .in = B("PROXY UNKNOWN " F39 " " F39 " 65535 655350\r\n"),
     .status = PP_ERR_V1_TOO_LONG,
     .at = 106,
     .max_len = 200},
    {.name = "v1 line one byte over max_len",
     .in = B(LINE32),
     .status = PP_ERR_TOO_LONG,
     .at = 30,
     .max_len = 31},
    {.name = "v1 line over max_len 20",
     .in = B(LINE32),
     .status = PP_ERR_TOO_LONG,
     .at = 19,
     .max_len = 20},
    {.name = "v1 error before max_len is reached",
     .in = B("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"),
     .status = PP_ERR_V1_PORT,
     .at = 29,
     .max_len = 31},
    /* No header fits a limit below 15 (v1) or 16 (v2): said at byte 1. */
    {.name = "max_len 5: too long at the first byte of a v1 line",
     .in = B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
     .status = PP_ERR_TOO_LONG,
     .at = 1,
     .max_len = 5},
    {.name = "max_len 14: no v1 line fits",
     .in = B("PROXY UNKNOWN\r\n"),
     .status = PP_ERR_TOO_LONG,
     .at = 1,
     .max_len = 14},
    {.name = "max_len 15: no v2 header fits",
     .in = B(SIG "\x20\x00\x00\x00"),
     .status = PP_ERR_TOO_LONG,
     .at = 1,
     .max_len = 15},

    /* v2 fixed part (byte 12: version and command; 13: family). */
    {.in = B(SIG "\x11\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_VERSION,
     .at = 13},
    {.name = "bad version and bad command: version first",
     .in = B(SIG "\x12\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_VERSION,
     .at = 13},
    {.in = B(SIG "\x31\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_VERSION,
     .at = 13},
    {.in = B(SIG "\x22\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_COMMAND,
     .at = 13},
    {.in = B(SIG "\x2f\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_COMMAND,
     .at = 13},
    {.in = B(SIG "\x21\x13\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_FAMILY,
     .at = 14},
    {.in = B(SIG "\x21\x40\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_FAMILY,
     .at = 14},
    {.in = B(SIG "\x21\x10\x00\x0c" INET_BLOCK),
     .status = PP_ERR_V2_FAMILY,
     .at = 14},
    {.in = B(SIG "\x21\x01\x00\x00"), .status = PP_ERR_V2_FAMILY, .at = 14},
    {.name = "LOCAL with a bad family byte",
     .in = B(SIG "\x20\x41\x00\x00"),
     .status = PP_ERR_V2_FAMILY,
     .at = 14},

    /* Version flags. */
    {.name = "v1 with PP_F_NO_V1",
     .in = B(LINE32),
     .status = PP_ERR_VERSION_DISABLED,
     .at = 5,
     .flags = PP_F_NO_V1},
    {.name = "\"PROXYX\" with PP_F_NO_V1",
     .in = B("PROXYX"),
     .status = PP_ERR_VERSION_DISABLED,
     .at = 5,
     .flags = PP_F_NO_V1},
    {.name = "POST with PP_F_NO_V1",
     .in = B("POST / HTTP/1.1\r\n"),
     .status = PP_ERR_NOT_PROXY,
     .at = 2,
     .flags = PP_F_NO_V1},
    {.name = "v2 with PP_F_NO_V2",
     .in = B(INET_HDR),
     .status = PP_ERR_VERSION_DISABLED,
     .at = 12,
     .flags = PP_F_NO_V2},
    {.name = "v2 bad version with PP_F_NO_V2",
     .in = B(SIG "\x11\x11\x00\x0c" INET_BLOCK),
     .status = PP_ERR_VERSION_DISABLED,
     .at = 12,
     .flags = PP_F_NO_V2},
    {.name = "not v2 with PP_F_NO_V2",
     .in = B("\r\n\r\nX"),
     .status = PP_ERR_NOT_PROXY,
     .at = 5,
     .flags = PP_F_NO_V2},
    {.name = "GET with both versions disabled",
     .in = B("GET /"),
     .status = PP_ERR_NOT_PROXY,
     .at = 1,
     .flags = PP_F_NO_V1 | PP_F_NO_V2},
};

static void test_bad_bytes(void **state)
{
    size_t i;

    (void)state;
    begin_test();
    for (i = 0; i < COUNT(bad_bytes); i++) {
        const struct bad_bytes *c = &bad_bytes[i];
        struct input in;
        in.p = (const uint8_t *)c->in.p;
        in.len = c->in.n;
        in.max_len = c->max_len;
        in.flags = c->flags;
        set_case(c->name, in.p, in.len);
        run_invalid(&in, c->status, c->at);
    }
    end_test();
}

/* ========================================================================
 * v2: valid headers, built by build_v2_spec.
 * ====================================================================== */

struct v2_valid {
    const char *name;
    struct v2_spec s;
    const char *src, *dst; /* INET/INET6 addresses, as text */
    uint16_t sport, dport;
    size_t src_path_len, dst_path_len; /* UNIX */
    struct cloud cloud;
    size_t max_len;
    unsigned flags;
};

#define PROXY_TCP4 .cmd = 0x21, .fam = 0x11, .block = {B(INET_BLOCK)}
#define PROXY_TCP6 .cmd = 0x21, .fam = 0x21, .block = {B(INET6_BLOCK)}

static const struct v2_valid v2_valid[] = {
    /* Every family byte. */
    {.name = "PROXY TCP4", .s = {PROXY_TCP4}, INET_ADDRS},
    {.name = "PROXY UDP4",
     .s = {.cmd = 0x21, .fam = 0x12, .block = {B(INET_BLOCK)}},
     INET_ADDRS},
    {.name = "PROXY TCP6", .s = {PROXY_TCP6}, INET6_ADDRS},
    {.name = "PROXY UDP6",
     .s = {.cmd = 0x21, .fam = 0x22, .block = {B(INET6_BLOCK)}},
     INET6_ADDRS},
    {.name = "PROXY UNIX stream, NUL-terminated paths",
     .s = {.cmd = 0x21,
           .fam = 0x31,
           .block = {B("/run/src.sock"), ZEROS(95), B("/tmp/d"), ZEROS(102)}},
     .src_path_len = 13,
     .dst_path_len = 6},
    {.name = "PROXY UNIX dgram, path without NUL, abstract name",
     .s = {.cmd = 0x21,
           .fam = 0x32,
           .block = {PAT(108), B("\0abstract-name"), ZEROS(94)}},
     .src_path_len = 108,
     .dst_path_len = 0},
    {.name = "PROXY UNIX, bytes after the NUL are not the path",
     .s = {.cmd = 0x21,
           .fam = 0x31,
           .block = {B("/a\0garbage"), PAT(98), B("\0"), PAT(107)}},
     .src_path_len = 2,
     .dst_path_len = 0},
    {.name = "PROXY UNIX, NUL as the last byte of the field",
     .s = {.cmd = 0x21, .fam = 0x31, .block = {PAT(107), B("\0"), PAT(108)}},
     .src_path_len = 107,
     .dst_path_len = 108},
    {.name = "PROXY UNSPEC, L = 0", .s = {.cmd = 0x21, .fam = 0x00}},
    {.name = "PROXY UNSPEC, TLVs from byte 16",
     .s = {.cmd = 0x21,
           .fam = 0x00,
           .tlv = {TLV(PP_TLV_ALPN, B("h2")), TLV(PP_TLV_NOOP, B(""))}}},

    /* LOCAL: any length, addresses never reported. */
    {.name = "LOCAL UNSPEC, L = 0", .s = {.cmd = 0x20, .fam = 0x00}},
    {.name = "LOCAL TCP4, L = 0", .s = {.cmd = 0x20, .fam = 0x11}},
    {.name = "LOCAL TCP4, 5 bytes looking like a bad TLV, skipped",
     .s = {.cmd = 0x20, .fam = 0x11, .block = {B("\x03\x00\x01\x00\x00")}}},
    {.name = "LOCAL UDP6, 35 bytes skipped",
     .s = {.cmd = 0x20, .fam = 0x22, .block = {PAT(35)}}},
    {.name = "LOCAL UNIX dgram, 215 bytes skipped",
     .s = {.cmd = 0x20, .fam = 0x32, .block = {PAT(215)}}},
    {.name = "LOCAL TCP4 with its block and TLVs",
     .s = {.cmd = 0x20,
           .fam = 0x11,
           .block = {B(INET_BLOCK)},
           .tlv = {TLV(PP_TLV_AUTHORITY, B("example.org"))}}},
    {.name = "LOCAL TCP6 with its block and a NOOP",
     .s = {.cmd = 0x20,
           .fam = 0x21,
           .block = {B(INET6_BLOCK)},
           .tlv = {TLV(PP_TLV_NOOP, PAT(9))}}},
    {.name = "LOCAL UNSPEC health check with CRC32C and SSL",
     .s = {.cmd = 0x20,
           .fam = 0x00,
           .tlv = {CRC_OK,
                   SSL_TLV("\x00"
                           "\x00\x00\x00\x00",
                           TLV(PP_SSL_VERSION, B("TLSv1.3")))}}},

    /* TLVs. */
    {.name = "HAProxy's TLV set and order",
     .s = {PROXY_TCP4,
           .tlv = {CRC_OK, TLV(PP_TLV_ALPN, B("h2")),
                   TLV(PP_TLV_AUTHORITY, B("www.example.com")),
                   TLV(PP_TLV_UNIQUE_ID, PAT(128)),
                   SSL_TLV("\x07"
                           "\x00\x00\x00\x00",
                           TLV(PP_SSL_VERSION, B("TLSv1.3")),
                           TLV(PP_SSL_CN, B("client.example")),
                           TLV(PP_SSL_KEY_ALG, B("RSA2048")),
                           TLV(PP_SSL_SIG_ALG, B("SHA256")),
                           TLV(PP_SSL_CIPHER, B("TLS_AES_128_GCM_SHA256"))),
                   TLV(PP_TLV_NETNS, B("blue")), TLV(PP_TLV_NOOP, ZEROS(3))}},
     INET_ADDRS},
    {.name = "SSL with every sub-TLV and unknown sub-types",
     .s = {PROXY_TCP6,
           .tlv = {SSL_TLV(
               "\x05"
               "\x00\x00\x00\x01",
               TLV(PP_SSL_VERSION, B("TLSv1.2")), TLV(PP_SSL_CN, B("cn")),
               TLV(PP_SSL_CIPHER, B("ECDHE-RSA-AES128-GCM-SHA256")),
               TLV(PP_SSL_SIG_ALG, B("SHA256")),
               TLV(PP_SSL_KEY_ALG, B("EC256")), TLV(PP_SSL_GROUP, B("X25519")),
               TLV(PP_SSL_SIG_SCHEME, B("rsa_pss_rsae_sha256")),
               TLV(PP_SSL_CLIENT_CERT, B("\x30\x03\x02\x01\x05")),
               TLV(0x2f, B("?")), TLV(0x99, B("")))}},
     INET6_ADDRS},
    {.name = "SSL with a repeated sub-TLV: pp_ssl takes the first",
     .s = {PROXY_TCP4,
           .tlv = {SSL_TLV("\x01"
                           "\x00\x00\x00\x00",
                           TLV(PP_SSL_CN, B("first")),
                           TLV(PP_SSL_CN, B("second")))}},
     INET_ADDRS},
    {.name = "SSL of exactly 5 bytes",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_SSL,
                       B("\x01"
                         "\x00\x00\x00\x00"))}},
     INET_ADDRS},
    {.name = "SSL with a 3000-byte client certificate",
     .s = {PROXY_TCP4,
           .tlv = {SSL_TLV("\x07"
                           "\xff\xff\xff\xff",
                           TLV(PP_SSL_CLIENT_CERT, PAT(3000)),
                           TLV(PP_SSL_CN, B("big")))}},
     INET_ADDRS},
    {.name = "UNIQUE_ID of 128 bytes, NETNS",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_UNIQUE_ID, PAT(128)),
                   TLV(PP_TLV_NETNS, B("ns1"))}},
     INET_ADDRS},
    {.name = "empty values, unknown types, repeated types",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_ALPN, B("")), TLV(T_WIRE0, B("zero")),
                   TLV(0x7f, B("x")), TLV(PP_TLV_NOOP, B("")),
                   TLV(0xf0, B("first")), TLV(PP_TLV_NOOP, B("pad")),
                   TLV(0xf0, B("second")), TLV(0xff, B("")),
                   TLV(PP_TLV_UNIQUE_ID, B("")), TLV(PP_TLV_ALPN, B("h2"))}},
     INET_ADDRS},
    {.name = "CRC32C as the last TLV",
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_ALPN, B("http/1.1")), CRC_OK}},
     INET_ADDRS},
    {.name = "CRC32C in a UNIX header",
     .s = {.cmd = 0x21,
           .fam = 0x31,
           .block = {B("/s"), ZEROS(106), B("/d"), ZEROS(106)},
           .tlv = {CRC_OK}},
     .src_path_len = 2,
     .dst_path_len = 2},

    /* Cloud TLVs. */
    {.name = "AWS VPC endpoint id",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_AWS,
                       B("\x01"
                         "vpce-08d2bf15fac5001c9"))}},
     INET_ADDRS,
     .cloud = {.aws = "vpce-08d2bf15fac5001c9"}},
    {.name = "Azure LINKID, little-endian",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_AZURE,
                       B("\x01"
                         "\x78\x56\x34\x12"))}},
     INET_ADDRS,
     .cloud = {.azure_ok = 1, .azure = 0x12345678u}},
    {.name = "GCP PSC id, big-endian",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_GCP, B("\x01\x02\x03\x04\x05\x06\x07\x08"))}},
     INET_ADDRS,
     .cloud = {.gcp_ok = 1, .gcp = 0x0102030405060708u}},
    {.name = "all three cloud TLVs",
     .s = {PROXY_TCP6,
           .tlv = {TLV(PP_TLV_GCP, B("\xfe\xdc\xba\x98\x76\x54\x32\x10")),
                   TLV(PP_TLV_AZURE,
                       B("\x01"
                         "\x01\x00\x00\x80")),
                   TLV(PP_TLV_AWS,
                       B("\x01"
                         "vpce-1"))}},
     INET6_ADDRS,
     .cloud = {.aws = "vpce-1",
               .azure_ok = 1,
               .azure = 0x80000001u,
               .gcp_ok = 1,
               .gcp = 0xfedcba9876543210u}},
    {.name = "AWS TLV with another subtype",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_AWS,
                       B("\x02"
                         "vpce-x"))}},
     INET_ADDRS},
    {.name = "AWS TLV empty",
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_AWS, B(""))}},
     INET_ADDRS},
    {.name = "Azure TLV of 4 bytes",
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_AZURE, B("\x01\x78\x56\x34"))}},
     INET_ADDRS},
    {.name = "Azure TLV of 6 bytes",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_AZURE, B("\x01\x78\x56\x34\x12\x00"))}},
     INET_ADDRS},
    {.name = "Azure TLV with another subtype",
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_AZURE, B("\x02\x78\x56\x34\x12"))}},
     INET_ADDRS},
    {.name = "GCP TLV of 7 bytes",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_GCP, B("\x01\x02\x03\x04\x05\x06\x07"))}},
     INET_ADDRS},
    {.name = "GCP TLV of 9 bytes",
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_GCP, B("\x01\x02\x03\x04\x05\x06\x07\x08\x09"))}},
     INET_ADDRS},

    /* What follows the header is not part of it. */
    {.name = "data after the header that looks like TLVs",
     .s = {PROXY_TCP4, .tlv = {CRC_OK, TLV(PP_TLV_ALPN, B("h2"))},
           .tail = B("\x01\x00\x02"
                     "h2"
                     "\x03\x00\x04"
                     "GET / HTTP/1.1\r\n")},
     INET_ADDRS},
    {.name = "a second v2 header after the first",
     .s = {PROXY_TCP4,
           .tail = B(SIG "\x21\x11\x00\x0c"
                         "\x0a\x00\x00\x01"
                         "\x0a\x00\x00\x02"
                         "\x00\x01"
                         "\x00\x02")},
     INET_ADDRS},
    {.name = "a v1 line after a v2 header",
     .s = {PROXY_TCP4, .tail = B("PROXY UNKNOWN\r\n")},
     INET_ADDRS},
    {.name = "LOCAL L = 0 then data",
     .s = {.cmd = 0x20, .fam = 0x11, .tail = B("\x00\x00\x00")}},

    /* Settings. */
    {.name = "header of exactly max_len bytes",
     .max_len = 36,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_NOOP, B("abcde"))}},
     INET_ADDRS},
    {.name = "LOCAL L = 0 with max_len 16",
     .max_len = 16,
     .s = {.cmd = 0x20, .fam = 0x00}},
    {.name = "PP_F_NO_V1 accepts v2",
     .flags = PP_F_NO_V1,
     .s = {PROXY_TCP4},
     INET_ADDRS},
};

/* Family block length from byte 13, from the spec. */
static size_t fam_block(uint8_t fam)
{
    switch (fam >> 4) {
    case PP_AF_INET:
        return 12;
    case PP_AF_INET6:
        return 36;
    case PP_AF_UNIX:
        return 216;
    default:
        return 0;
    }
}

struct v2_ctx {
    const struct v2_valid *c;
    const struct built *b;
};

static int check_v2_fields(const void *ctx, const pp_header *h,
                           const uint8_t *buf)
{
    const struct v2_ctx *x = ctx;
    const struct v2_valid *c = x->c;
    uint8_t cmd = c->s.cmd & 0x0F, af = c->s.fam >> 4, tr = c->s.fam & 0x0F;
    size_t L = x->b->hdr_len - 16, block = fam_block(c->s.fam);
    int addrs = cmd == PP_CMD_PROXY && af != PP_AF_UNSPEC;

    CHECK(h->version == 2, "version %u", h->version);
    CHECK(h->command == cmd, "command %u, want %u", h->command, cmd);
    CHECK(h->family == af, "family %u, want %u", h->family, af);
    CHECK(h->transport == tr, "transport %u, want %u", h->transport, tr);
    CHECK(pp_has_addresses(h) == addrs, "pp_has_addresses %d, want %d",
          pp_has_addresses(h), addrs);
    if (addrs && af == PP_AF_UNIX) {
        if (!check_unix("src", &h->src, buf + 16, c->src_path_len) ||
            !check_unix("dst", &h->dst, buf + 16 + 108, c->dst_path_len))
            return 0;
    } else if (addrs) {
        if (!check_ip("src", &h->src, af, c->src, c->sport) ||
            !check_ip("dst", &h->dst, af, c->dst, c->dport))
            return 0;
    } else if (!check_no_addr("src", &h->src) ||
               !check_no_addr("dst", &h->dst)) {
        return 0;
    }
    return check_tlvs(h, buf, 16 + block, L >= block ? L - block : 0, x->b->tlv,
                      x->b->ntlv, &c->cloud);
}

static void test_v2_valid(void **state)
{
    size_t i;

    (void)state;
    begin_test();
    for (i = 0; i < COUNT(v2_valid); i++) {
        const struct v2_valid *c = &v2_valid[i];
        struct built b;
        struct v2_ctx x;
        struct input in;
        build_v2_spec(&b, &c->s);
        x.c = c;
        x.b = &b;
        in.p = b.p;
        in.len = b.len;
        in.max_len = c->max_len;
        in.flags = c->flags;
        set_case(c->name, NULL, 0);
        run_valid(&in, b.hdr_len, check_v2_fields, &x);
    }
    end_test();
}

/* ========================================================================
 * v2: invalid headers, built by build_v2_spec. Offsets: the INET block is bytes
 * 16..27, so its first TLV header is complete at 31 bytes.
 * ====================================================================== */

struct v2_invalid {
    const char *name;
    struct v2_spec s;
    int status;
    size_t at;
    size_t max_len;
    unsigned flags;
};

static const struct v2_invalid v2_invalid[] = {
    /* Length below the address block (PROXY only), max_len. */
    {.name = "PROXY TCP4, L = 11",
     .status = PP_ERR_V2_ADDR_LEN,
     .at = 16,
     .s = {.cmd = 0x21, .fam = 0x11, .block = {PAT(11)}}},
    {.name = "PROXY UDP4, L = 0",
     .status = PP_ERR_V2_ADDR_LEN,
     .at = 16,
     .s = {.cmd = 0x21, .fam = 0x12}},
    {.name = "PROXY TCP6, L = 35",
     .status = PP_ERR_V2_ADDR_LEN,
     .at = 16,
     .s = {.cmd = 0x21, .fam = 0x21, .block = {PAT(35)}}},
    {.name = "PROXY UNIX, L = 215",
     .status = PP_ERR_V2_ADDR_LEN,
     .at = 16,
     .s = {.cmd = 0x21, .fam = 0x31, .block = {PAT(215)}}},
    {.name = "address length checked before max_len",
     .status = PP_ERR_V2_ADDR_LEN,
     .at = 16,
     .max_len = 20,
     .s = {.cmd = 0x21, .fam = 0x11, .block = {PAT(11)}}},
    {.name = "header one byte over max_len",
     .status = PP_ERR_TOO_LONG,
     .at = 16,
     .max_len = 35,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_NOOP, B("abcde"))}}},
    {.name = "LOCAL over max_len",
     .status = PP_ERR_TOO_LONG,
     .at = 16,
     .max_len = 40,
     .s = {.cmd = 0x20, .fam = 0x00, .tlv = {TLV(PP_TLV_NOOP, PAT(27))}}},

    /* TLVs not tiling the region. */
    {.name = "TLV running past the end",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {PROXY_TCP4,
           .raw = B("\x01\x00\x05"
                    "ab")}},
    {.name = "TLV running past the end into application data",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {PROXY_TCP4,
           .raw = B("\x01\x00\x05"
                    "ab"),
           .tail = B("cdefg")}},
    {.name = "TLV running 1 byte past the end",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {PROXY_TCP4,
           .raw = B("\x01\x00\x03"
                    "ab"),
           .tail = B("c")}},
    {.name = "second TLV running past the end",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 36,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_ALPN, B("h2"))},
           .raw = B("\x02\x00\x10"
                    "abc")}},
    {.name = "1 byte left after a TLV",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_ALPN, B("h2"))}, .raw = B("\x04")}},
    {.name = "2 bytes left after a TLV",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_ALPN, B("h2"))},
           .raw = B("\x04\x00")}},
    {.name = "1-byte TLV region",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 16,
     .s = {PROXY_TCP4, .raw = B("\x00")}},
    {.name = "PROXY UNSPEC, 2-byte TLV region",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 16,
     .s = {.cmd = 0x21, .fam = 0x00, .raw = B("\x01\x00")}},
    {.name = "LOCAL UNSPEC, 1-byte TLV region",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 16,
     .s = {.cmd = 0x20, .fam = 0x00, .raw = B("\x01")}},
    {.name = "LOCAL TCP4 with block, TLV past the end",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 31,
     .s = {.cmd = 0x20,
           .fam = 0x11,
           .block = {B(INET_BLOCK)},
           .raw = B("\x01\x00\x09")}},
    {.name = "LOCAL TCP6, L = block + 1",
     .status = PP_ERR_TLV_TRUNCATED,
     .at = 16,
     .s = {.cmd = 0x20,
           .fam = 0x21,
           .block = {B(INET6_BLOCK)},
           .raw = B("\x05")}},

    /* CRC32C. */
    {.name = "CRC32C of 3 bytes",
     .status = PP_ERR_TLV_CRC32C,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_CRC32C, B("\0\0\0"))}}},
    {.name = "CRC32C of 5 bytes",
     .status = PP_ERR_TLV_CRC32C,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_CRC32C, B("\0\0\0\0\0"))}}},
    {.name = "CRC32C of 0 bytes",
     .status = PP_ERR_TLV_CRC32C,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_CRC32C, B(""))}}},
    {.name = "two CRC32C TLVs",
     .status = PP_ERR_TLV_CRC32C,
     .at = 38,
     .s = {PROXY_TCP4, .tlv = {CRC_OK, CRC_OK}}},
    {.name = "two CRC32C TLVs apart",
     .status = PP_ERR_TLV_CRC32C,
     .at = 43,
     .s = {PROXY_TCP4, .tlv = {CRC_OK, TLV(PP_TLV_ALPN, B("h2")), CRC_OK}}},
    {.name = "CRC32C wrong value",
     .status = PP_ERR_CRC32C_MISMATCH,
     .at = 35,
     .s = {PROXY_TCP4, .tlv = {CRC_BAD}}},
    {.name = "CRC32C wrong value, LOCAL UNSPEC",
     .status = PP_ERR_CRC32C_MISMATCH,
     .at = 26,
     .s = {.cmd = 0x20,
           .fam = 0x00,
           .tlv = {CRC_BAD, TLV(PP_TLV_NOOP, B(""))}}},
    {.name = "CRC32C wrong value, then a bad UNIQUE_ID: TLV error first",
     .status = PP_ERR_TLV_UNIQUE_ID,
     .at = 38,
     .s = {PROXY_TCP4, .tlv = {CRC_BAD, TLV(PP_TLV_UNIQUE_ID, PAT(129))}}},

    /* UNIQUE_ID. */
    {.name = "UNIQUE_ID of 129 bytes",
     .status = PP_ERR_TLV_UNIQUE_ID,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_UNIQUE_ID, PAT(129))}}},
    {.name = "UNIQUE_ID of 129 bytes in LOCAL with a block",
     .status = PP_ERR_TLV_UNIQUE_ID,
     .at = 31,
     .s = {.cmd = 0x20,
           .fam = 0x11,
           .block = {B(INET_BLOCK)},
           .tlv = {TLV(PP_TLV_UNIQUE_ID, PAT(129))}}},

    /* SSL. */
    {.name = "SSL of 4 bytes",
     .status = PP_ERR_TLV_SSL,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0"))}}},
    {.name = "SSL of 0 bytes",
     .status = PP_ERR_TLV_SSL,
     .at = 31,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_SSL, B(""))}}},
    {.name = "SSL of 4 bytes in LOCAL UNSPEC",
     .status = PP_ERR_TLV_SSL,
     .at = 19,
     .s = {.cmd = 0x20,
           .fam = 0x00,
           .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0"))}}},
    {.name = "SSL sub-TLV running past the SSL TLV",
     .status = PP_ERR_TLV_SSL,
     .at = 44,
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0\0"),
                       B("\x21\x00\x09"
                         "TLSv1")),
                   TLV(PP_TLV_AUTHORITY, B("after"))}}},
    {.name = "SSL with 1 byte left after its sub-TLVs",
     .status = PP_ERR_TLV_SSL,
     .at = 42,
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0\0"),
                       B("\x21\x00\x02"
                         "v1"
                         "\x22"))}}},
    {.name = "SSL with 2 bytes left after its sub-TLVs",
     .status = PP_ERR_TLV_SSL,
     .at = 43,
     .s = {PROXY_TCP4,
           .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0\0"),
                       B("\x21\x00\x02"
                         "v1"
                         "\x22\x00"))}}},
    {.name = "SSL of 6 bytes: a lone byte after verify",
     .status = PP_ERR_TLV_SSL,
     .at = 37,
     .s = {PROXY_TCP4, .tlv = {TLV(PP_TLV_SSL, B("\x01\0\0\0\0\x21"))}}},
};

static void test_v2_invalid(void **state)
{
    size_t i;

    (void)state;
    begin_test();
    for (i = 0; i < COUNT(v2_invalid); i++) {
        const struct v2_invalid *c = &v2_invalid[i];
        struct built b;
        struct input in;
        build_v2_spec(&b, &c->s);
        in.p = b.p;
        in.len = b.len;
        in.max_len = c->max_len;
        in.flags = c->flags;
        set_case(c->name, NULL, 0);
        run_invalid(&in, c->status, c->at);
    }
    end_test();
}

/* ========================================================================
 * Exhaustive single-byte checks.
 * ====================================================================== */

/* Byte 0: 'P' and CR start a header, anything else is not PROXY. */
static void test_first_byte(void **state)
{
    unsigned v;

    (void)state;
    begin_test();
    for (v = 0; v < 256; v++) {
        uint8_t byte = (uint8_t)v;
        struct input in = {NULL, 1, 0, 0};
        int ok;
        in.p = &byte;
        set_case(NULL, &byte, 1);
        if (byte == 'P' || byte == '\r') {
            pp_header h;
            int r;
            fresh(&h, &in);
            r = pp_parse(&h, at_guard(&byte, 1), 1);
            ok = r == PP_INCOMPLETE;
            if (!ok)
                note_failure(__LINE__, "got %d (%s), want incomplete", r,
                             st(r));
        } else {
            run_invalid(&in, PP_ERR_NOT_PROXY, 1);
        }
    }
    end_test();
}

/* Each byte of the v2 signature, changed: not PROXY, from that byte. */
static void test_v2_signature(void **state)
{
    static const uint8_t hdr[] = INET_HDR;
    uint8_t bad[sizeof hdr - 1];
    size_t i, k;

    (void)state;
    begin_test();
    for (i = 0; i < 12; i++) {
        const uint8_t repl[3] = {0x00, 0xFF, (uint8_t)(hdr[i] ^ 0x01)};
        for (k = 0; k < 3; k++) {
            struct input in = {NULL, sizeof bad, 0, 0};
            if (repl[k] == hdr[i])
                continue;
            memcpy(bad, hdr, sizeof bad);
            bad[i] = repl[k];
            in.p = bad;
            set_case(NULL, bad, i + 1);
            run_invalid(&in, PP_ERR_NOT_PROXY, i + 1);
        }
    }
    end_test();
}

/* Byte 12, all 256 values: high nibble 2 and low nibble 0 or 1 are valid,
 * else V2_VERSION (checked first) or V2_COMMAND, at 13 bytes. */
static void test_v2_byte12(void **state)
{
    static const uint8_t hdr[] = INET_HDR;
    uint8_t in_bytes[sizeof hdr - 1];
    unsigned v;

    (void)state;
    begin_test();
    for (v = 0; v < 256; v++) {
        struct input in = {NULL, sizeof in_bytes, 0, 0};
        memcpy(in_bytes, hdr, sizeof in_bytes);
        in_bytes[12] = (uint8_t)v;
        in.p = in_bytes;
        set_case(NULL, in_bytes, 13);
        if ((v >> 4) != 2) {
            run_invalid(&in, PP_ERR_V2_VERSION, 13);
        } else if ((v & 0x0F) > 1) {
            run_invalid(&in, PP_ERR_V2_COMMAND, 13);
        } else {
            pp_header h;
            int r;
            fresh(&h, &in);
            r = pp_parse(&h, at_guard(in_bytes, sizeof in_bytes),
                         sizeof in_bytes);
            if (r != (int)sizeof in_bytes)
                note_failure(__LINE__, "got %d (%s), want %zu", r, st(r),
                             sizeof in_bytes);
        }
    }
    end_test();
}

/* Byte 13, all 256 values, for PROXY and LOCAL: the 7 listed values give
 * a valid 14-byte prefix, anything else V2_FAMILY at 14 bytes. */
static void test_v2_byte13(void **state)
{
    static const uint8_t listed[] = {0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32};
    static const uint8_t hdr[] = INET_HDR;
    uint8_t in_bytes[sizeof hdr - 1];
    unsigned v, cmd;

    (void)state;
    begin_test();
    for (cmd = 0x20; cmd <= 0x21; cmd++) {
        for (v = 0; v < 256; v++) {
            struct input in = {NULL, sizeof in_bytes, 0, 0};
            int ok = memchr(listed, (int)v, sizeof listed) != NULL;
            memcpy(in_bytes, hdr, sizeof in_bytes);
            in_bytes[12] = (uint8_t)cmd;
            in_bytes[13] = (uint8_t)v;
            in.p = in_bytes;
            set_case(NULL, in_bytes, 14);
            if (ok) {
                pp_header h;
                int r;
                fresh(&h, &in);
                r = pp_parse(&h, at_guard(in_bytes, 14), 14);
                if (r != PP_INCOMPLETE)
                    note_failure(__LINE__,
                                 "14 bytes: got %d (%s), want "
                                 "incomplete",
                                 r, st(r));
            } else {
                run_invalid(&in, PP_ERR_V2_FAMILY, 14);
            }
        }
    }
    end_test();
}

/* ========================================================================
 * Targeted tests.
 * ====================================================================== */

/* One call with fresh settings on n bytes placed against the guard page. */
static int parse_n(const void *p, size_t n, size_t max_len, unsigned flags)
{
    pp_header h;

    memset(&h, 0, sizeof h);
    h.max_len = max_len;
    h.flags = flags;
    return pp_parse(&h, at_guard(p, n), n);
}

#define EXPECT_PARSE(bytes, n, want)                                           \
    do {                                                                       \
        int r_ = parse_n((bytes), (n), 0, 0);                                  \
        if (r_ != (want))                                                      \
            note_failure(__LINE__, "%zu bytes: got %d (%s), want %d (%s)",     \
                         (size_t)(n), r_, st(r_), (want), st(want));           \
    } while (0)

/* The brief's named cases: errors appear when provable, not before. */
static void test_error_positions(void **state)
{
    static const char v2bad[] = SIG "\x11\x11\x00\x0c";
    static const char line[] = "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n";
    static const char crx[] = "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX";
    static const char long_line[] =
        "PROXY UNKNOWN " F39 " " F39 " 65535 655350\r\n";

    (void)state;
    begin_test();
    g_case = "v2 version nibble";
    EXPECT_PARSE(v2bad, 12, PP_INCOMPLETE);
    EXPECT_PARSE(v2bad, 13, PP_ERR_V2_VERSION);
    g_case = "\\r\\n alone";
    EXPECT_PARSE("\r\n", 2, PP_INCOMPLETE);
    g_case = "v1 line up to its CR";
    EXPECT_PARSE(line, 31, PP_INCOMPLETE);
    EXPECT_PARSE(line, 32, 32);
    EXPECT_PARSE(crx, 32, PP_ERR_V1_CRLF);
    g_case = "v1 length limit";
    assert_int_equal(sizeof long_line - 1, 108);
    EXPECT_PARSE(long_line, 105, PP_INCOMPLETE);
    EXPECT_PARSE(long_line, 106, PP_ERR_V1_TOO_LONG);
    g_case = "PROXY and its space";
    EXPECT_PARSE("PROXY", 5, PP_INCOMPLETE);
    EXPECT_PARSE("PROXY ", 6, PP_INCOMPLETE);
    EXPECT_PARSE("PO", 2, PP_ERR_NOT_PROXY);
    g_case = "empty input";
    EXPECT_PARSE(NULL, 0, PP_INCOMPLETE);
    end_test();
}

static void test_expected_len(void **state)
{
    static const struct v2_spec s = {PROXY_TCP4,
                                     .tlv = {TLV(PP_TLV_ALPN, B("h2"))}};
    static const char v1[] = "PROXY UNKNOWN\r\n";
    struct built b;
    pp_header h;
    size_t n;

    (void)state;
    begin_test();
    build_v2_spec(&b, &s);
    assert_int_equal(b.hdr_len, 33);
    g_case = "v2 PROXY TCP4 + ALPN, 33 bytes";
    for (n = 0; n <= b.hdr_len; n++) {
        size_t want = n < 16 ? 0 : 33;
        memset(&h, 0, sizeof h);
        pp_parse(&h, at_guard(b.p, n), n);
        if (pp_expected_len(&h) != want)
            note_failure(__LINE__, "after %zu bytes: %zu, want %zu", n,
                         pp_expected_len(&h), want);
    }
    g_case = "v2 LOCAL L = 0";
    memset(&h, 0, sizeof h);
    if (pp_parse(&h, SIG "\x20\x00\x00\x00", 16) != 16 ||
        pp_expected_len(&h) != 16)
        note_failure(__LINE__, "LOCAL L=0: expected_len %zu",
                     pp_expected_len(&h));
    g_case = "v1: known once complete";
    for (n = 0; n <= sizeof v1 - 1; n++) {
        size_t want = n < sizeof v1 - 1 ? 0 : sizeof v1 - 1;
        memset(&h, 0, sizeof h);
        pp_parse(&h, at_guard(v1, n), n);
        if (pp_expected_len(&h) != want)
            note_failure(__LINE__, "after %zu bytes: %zu, want %zu", n,
                         pp_expected_len(&h), want);
    }
    g_case = "zeroed header";
    memset(&h, 0, sizeof h);
    if (pp_expected_len(&h) != 0)
        note_failure(__LINE__, "zeroed header: %zu", pp_expected_len(&h));
    end_test();
}

/* A finished result stays, whatever bytes come next. */
static void test_sticky(void **state)
{
    static const char v1[] = "PROXY UNKNOWN\r\n";
    static const char other[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    pp_header h;
    int r;

    (void)state;
    begin_test();
    g_case = "error, then a valid header";
    memset(&h, 0, sizeof h);
    r = pp_parse(&h, "GET /", 5);
    if (r != PP_ERR_NOT_PROXY)
        note_failure(__LINE__, "GET: got %s", st(r));
    r = pp_parse(&h, v1, sizeof v1 - 1);
    if (r != PP_ERR_NOT_PROXY)
        note_failure(__LINE__, "after an error: got %d (%s)", r, st(r));

    g_case = "length, then other bytes";
    memset(&h, 0, sizeof h);
    r = pp_parse(&h, v1, sizeof v1 - 1);
    if (r != 15)
        note_failure(__LINE__, "UNKNOWN: got %d (%s)", r, st(r));
    r = pp_parse(&h, other, sizeof other - 1);
    if (r != 15 || h.version != 1 || h.family != PP_AF_UNSPEC)
        note_failure(__LINE__, "after a result: got %d (%s), family %u", r,
                     st(r), h.family);

    g_case = "v2 length, then more bytes";
    memset(&h, 0, sizeof h);
    r = pp_parse(&h, INET_HDR "more bytes", 28 + 10);
    if (r != 28)
        note_failure(__LINE__, "v2: got %d (%s)", r, st(r));
    r = pp_parse(&h, INET_HDR "more bytes", 28 + 10);
    if (r != 28)
        note_failure(__LINE__, "v2 again: got %d (%s)", r, st(r));
    end_test();
}

/* pp_ssl against literal values (this also checks the reference decoding
 * in check_ssl: client byte, verify big-endian, each sub-type's field). */
static void test_ssl_fields(void **state)
{
    const struct v2_spec full = {
        PROXY_TCP4,
        .tlv = {SSL_TLV("\x05"
                        "\x01\x02\x03\x04",
                        TLV(PP_SSL_VERSION, B("TLSv1.3")),
                        TLV(PP_SSL_CN, B("client.example")),
                        TLV(PP_SSL_CIPHER, B("TLS_AES_256_GCM_SHA384")),
                        TLV(PP_SSL_SIG_ALG, B("SHA384")),
                        TLV(PP_SSL_KEY_ALG, B("RSA4096")),
                        TLV(PP_SSL_GROUP, B("secp384r1")),
                        TLV(PP_SSL_SIG_SCHEME, B("ecdsa_secp384r1_sha384")),
                        TLV(PP_SSL_CLIENT_CERT, B("\x30\x82\x00\x00")))}};
    const struct v2_spec partial = {
        PROXY_TCP4,
        .tlv = {SSL_TLV("\x01"
                        "\x00\x00\x00\x00",
                        TLV(PP_SSL_VERSION, B("TLSv1.2")))}};
    static const struct {
        const char *name, *want;
        size_t len;
    } fields[8] = {
        {"version", "TLSv1.3", 7},
        {"cn", "client.example", 14},
        {"cipher", "TLS_AES_256_GCM_SHA384", 22},
        {"sig_alg", "SHA384", 6},
        {"key_alg", "RSA4096", 7},
        {"group", "secp384r1", 9},
        {"sig_scheme", "ecdsa_secp384r1_sha384", 22},
        {"client_cert", "\x30\x82\x00\x00", 4},
    };
    struct built b;
    pp_header h;
    pp_ssl_info info;
    const pp_bytes *got[8];
    size_t i;

    (void)state;
    begin_test();
    got[0] = &info.version;
    got[1] = &info.cn;
    got[2] = &info.cipher;
    got[3] = &info.sig_alg;
    got[4] = &info.key_alg;
    got[5] = &info.group;
    got[6] = &info.sig_scheme;
    got[7] = &info.client_cert;

    g_case = "SSL with every sub-TLV";
    build_v2_spec(&b, &full);
    memset(&h, 0, sizeof h);
    assert_int_equal(pp_parse(&h, b.p, b.len), (int)b.hdr_len);
    assert_int_equal(pp_ssl(&h, &info), 1);
    if (info.client != (PP_CLIENT_SSL | PP_CLIENT_CERT_SESS))
        note_failure(__LINE__, "client 0x%02x, want 0x05", info.client);
    if (info.verify != 0x01020304u)
        note_failure(__LINE__, "verify 0x%08" PRIx32 ", want 0x01020304",
                     info.verify);
    for (i = 0; i < 8; i++)
        if (got[i]->ptr == NULL || got[i]->len != fields[i].len ||
            memcmp(got[i]->ptr, fields[i].want, fields[i].len) != 0)
            note_failure(__LINE__, "%s: got %zu bytes, want \"%s\"",
                         fields[i].name, got[i]->len, fields[i].want);

    g_case = "SSL with only a version";
    build_v2_spec(&b, &partial);
    memset(&h, 0, sizeof h);
    assert_int_equal(pp_parse(&h, b.p, b.len), (int)b.hdr_len);
    assert_int_equal(pp_ssl(&h, &info), 1);
    if (info.client != PP_CLIENT_SSL || info.verify != 0)
        note_failure(__LINE__, "client 0x%02x verify %" PRIu32, info.client,
                     info.verify);
    if (info.version.ptr == NULL || info.version.len != 7 ||
        memcmp(info.version.ptr, "TLSv1.2", 7) != 0)
        note_failure(__LINE__, "version wrong");
    for (i = 1; i < 8; i++)
        if (got[i]->ptr != NULL || got[i]->len != 0)
            note_failure(__LINE__, "%s present though absent", fields[i].name);
    end_test();
}

/* The iterator on bytes pp_parse did not validate stops at the first TLV
 * that would run past the end (the iterator struct is public: next/end). */
static void test_tlv_iter_unvalidated(void **state)
{
    static const uint8_t overrun[] = {0x01, 0x00, 0x02, 'a', 'b',
                                      0x02, 0x00, 0x09, 'x'};
    static const uint8_t left1[] = {0x01, 0x00, 0x00, 0x05};
    static const uint8_t left2[] = {0x01, 0x00, 0x00, 0x05, 0x00};
    static const uint8_t ssl_value[] = {0x01, 0,    0,    0,   0,
                                        0x21, 0x00, 0x02, 'v', '3'};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {overrun, sizeof overrun},
        {left1, sizeof left1},
        {left2, sizeof left2},
    };
    pp_tlv_iter it;
    pp_tlv t, ssl;
    size_t i;

    (void)state;
    begin_test();
    for (i = 0; i < COUNT(cases); i++) {
        const uint8_t *p = at_guard(cases[i].p, cases[i].n);
        g_case = "unvalidated TLV bytes";
        it.next = p;
        it.end = p + cases[i].n;
        if (pp_tlv_next(&it, &t) != 1 || t.type != 0x01 || t.value != p + 3)
            note_failure(__LINE__, "case %zu: first TLV not returned", i);
        if (pp_tlv_next(&it, &t) != 0 || pp_tlv_next(&it, &t) != 0)
            note_failure(__LINE__, "case %zu: iterator went past the end", i);
    }

    g_case = "zeroed iterator";
    memset(&it, 0, sizeof it);
    if (pp_tlv_next(&it, &t) != 0)
        note_failure(__LINE__, "zeroed iterator yields a TLV");

    g_case = "pp_ssl_iter_init";
    ssl.type = PP_TLV_SSL;
    ssl.len = sizeof ssl_value;
    ssl.value = at_guard(ssl_value, sizeof ssl_value);
    pp_ssl_iter_init(&it, &ssl);
    if (pp_tlv_next(&it, &t) != 1 || t.type != 0x21 || t.len != 2 ||
        t.value != ssl.value + 8 || pp_tlv_next(&it, &t) != 0)
        note_failure(__LINE__, "valid SSL value: wrong sub-TLVs");
    ssl.type = PP_TLV_ALPN;
    pp_ssl_iter_init(&it, &ssl);
    if (pp_tlv_next(&it, &t) != 0)
        note_failure(__LINE__, "not an SSL TLV, yet sub-TLVs");
    ssl.type = PP_TLV_SSL;
    ssl.len = 4;
    ssl.value = at_guard(ssl_value, 4);
    pp_ssl_iter_init(&it, &ssl);
    if (pp_tlv_next(&it, &t) != 0)
        note_failure(__LINE__, "SSL of 4 bytes, yet sub-TLVs");
    end_test();
}

/* The largest v2 header (L = 65535) and max_len at the v2 maximum. */
static void test_v2_largest(void **state)
{
    static const struct v2_spec s = {
        PROXY_TCP4, .tlv = {TLV(PP_TLV_NOOP, PAT(65535 - 12 - 3))}};
    struct built b;
    pp_header h;
    pp_tlv_iter it;
    pp_tlv t;
    const uint8_t *g;
    size_t n;
    int r;

    (void)state;
    begin_test();
    g_case = "L = 65535";
    build_v2_spec(&b, &s);
    assert_int_equal(b.hdr_len, PP_V2_MAX_LEN);
    g = at_guard(b.p, b.len);
    memset(&h, 0, sizeof h);
    r = pp_parse(&h, g, b.len);
    if (r != (int)PP_V2_MAX_LEN)
        note_failure(__LINE__, "got %d (%s)", r, st(r));
    pp_tlv_iter_init(&it, &h);
    if (h.tlvs != g + 28 || h.tlvs_len != 65535 - 12 ||
        pp_tlv_next(&it, &t) != 1 || t.type != PP_TLV_NOOP || t.len != 65520 ||
        t.value != g + 31 || pp_tlv_next(&it, &t) != 0)
        note_failure(__LINE__, "TLV view wrong");

    memset(&h, 0, sizeof h);
    h.max_len = PP_V2_MAX_LEN;
    r = pp_parse(&h, g, b.len);
    if (r != (int)PP_V2_MAX_LEN)
        note_failure(__LINE__, "max_len at the maximum: got %d (%s)", r, st(r));

    memset(&h, 0, sizeof h);
    h.max_len = PP_V2_MAX_LEN - 1;
    r = pp_parse(&h, at_guard(b.p, 16), 16);
    if (r != PP_ERR_TOO_LONG)
        note_failure(__LINE__, "max_len one below: got %d (%s)", r, st(r));

    /* Fed in 4099-byte steps, and every prefix at a few positions. */
    memset(&h, 0, sizeof h);
    for (n = 4099; n < b.len; n += 4099) {
        r = pp_parse(&h, b.p, n);
        if (r != PP_INCOMPLETE || pp_expected_len(&h) != PP_V2_MAX_LEN) {
            note_failure(__LINE__, "%zu bytes: got %d (%s)", n, r, st(r));
            break;
        }
    }
    r = pp_parse(&h, b.p, b.len);
    if (r != (int)PP_V2_MAX_LEN)
        note_failure(__LINE__, "stepped: got %d (%s)", r, st(r));
    r = parse_n(b.p, b.len - 1, 0, 0);
    if (r != PP_INCOMPLETE)
        note_failure(__LINE__, "all but the last byte: got %d (%s)", r, st(r));
    end_test();
}

/* ========================================================================
 * CRC32C, status names, version, small API edges.
 * ====================================================================== */

static void test_crc32c_vectors(void **state)
{
    uint8_t buf[32];
    size_t i;

    (void)state;
    /* Check value, then RFC 3720 (iSCSI) B.4 vectors. */
    assert_int_equal(ref_crc32c(0, (const uint8_t *)"123456789", 9),
                     0xE3069283u);
    assert_int_equal(pp_crc32c(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof buf);
    assert_int_equal(ref_crc32c(0, buf, 32), 0x8A9136AAu);
    assert_int_equal(pp_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof buf);
    assert_int_equal(ref_crc32c(0, buf, 32), 0x62A8AB43u);
    assert_int_equal(pp_crc32c(0, buf, 32), 0x62A8AB43u);
    for (i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(ref_crc32c(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(pp_crc32c(0, buf, 32), 0x46DD794Eu);
    for (i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(ref_crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(pp_crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(pp_crc32c(0, NULL, 0), 0);
    assert_int_equal(pp_crc32c(0x12345678u, buf, 0), 0x12345678u);
}

static uint32_t xorshift32(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random data, every length 0..300 at 16 alignments, split at a random
 * point: pp_crc32c equals the reference, chained or not. */
static void test_crc32c_random(void **state)
{
    uint8_t buf[300 + 16];
    uint32_t seed = 0x9E3779B9u;
    size_t i, off, len;

    (void)state;
    begin_test();
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)xorshift32(&seed);
    for (off = 0; off < 16; off++) {
        for (len = 0; len <= 300; len++) {
            const uint8_t *p = buf + off;
            uint32_t want = ref_crc32c(0, p, len);
            uint32_t start = xorshift32(&seed);
            size_t cut = len ? xorshift32(&seed) % (len + 1) : 0;
            uint32_t got = pp_crc32c(0, p, len);
            uint32_t chained =
                pp_crc32c(pp_crc32c(0, p, cut), p + cut, len - cut);
            g_case = "pp_crc32c";
            if (got != want)
                note_failure(__LINE__,
                             "offset %zu length %zu: 0x%08" PRIx32
                             ", want 0x%08" PRIx32,
                             off, len, got, want);
            if (chained != want)
                note_failure(__LINE__,
                             "offset %zu length %zu split at %zu: "
                             "0x%08" PRIx32 ", want 0x%08" PRIx32,
                             off, len, cut, chained, want);
            if (pp_crc32c(start, p, len) != ref_crc32c(start, p, len))
                note_failure(__LINE__,
                             "offset %zu length %zu from 0x%08" PRIx32, off,
                             len, start);
        }
    }
    end_test();
}

static void test_status_names(void **state)
{
    static const int unknown[] = {1,    2,       100,    PP_ERR_TRUNCATED - 1,
                                  -100, INT_MIN, INT_MAX};
    const char *names[29], *texts[29];
    int s, t;
    size_t i;

    (void)state;
    begin_test();
    for (s = PP_OK; s >= PP_ERR_TRUNCATED; s--) {
        const char *n = pp_status_name(s), *m = pp_strerror(s);
        g_case = "status names";
        names[-s] = n;
        texts[-s] = m;
        if (n == NULL || n[0] == '\0' || strcmp(n, "unknown") == 0) {
            note_failure(__LINE__, "status %d: name \"%s\"", s,
                         n != NULL ? n : "(null)");
            continue;
        }
        if (m == NULL || m[0] == '\0' || strcmp(m, "unknown status") == 0) {
            note_failure(__LINE__, "status %d: sentence \"%s\"", s,
                         m != NULL ? m : "(null)");
            continue;
        }
        for (t = PP_OK; t > s; t--) {
            if (names[-t] != NULL && strcmp(names[-t], n) == 0)
                note_failure(__LINE__, "statuses %d and %d share name %s", t, s,
                             n);
            if (texts[-t] != NULL && strcmp(texts[-t], m) == 0)
                note_failure(__LINE__, "statuses %d and %d share text %s", t, s,
                             m);
        }
    }
    /* Names the header promises. */
    if (strcmp(pp_status_name(PP_INCOMPLETE), "incomplete") != 0 ||
        strcmp(pp_status_name(PP_ERR_NOT_PROXY), "not_proxy") != 0 ||
        strcmp(pp_status_name(PP_ERR_V1_ADDRESS), "v1_address") != 0)
        note_failure(__LINE__, "documented names differ");
    for (i = 0; i < COUNT(unknown); i++) {
        const char *n = pp_status_name(unknown[i]);
        const char *m = pp_strerror(unknown[i]);
        if (n == NULL || strcmp(n, "unknown") != 0)
            note_failure(__LINE__, "pp_status_name(%d): \"%s\"", unknown[i],
                         n != NULL ? n : "(null)");
        if (m == NULL || strstr(m, "unknown") == NULL)
            note_failure(__LINE__, "pp_strerror(%d): \"%s\"", unknown[i],
                         m != NULL ? m : "(null)");
    }
    end_test();
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(pp_version_number(), PP_VERSION_NUMBER);
    assert_int_equal(PP_VERSION_NUMBER,
                     PP_VERSION_MAJOR * 10000 + PP_VERSION_MINOR * 100 +
                         PP_VERSION_PATCH);
}

static void test_api_edges(void **state)
{
    pp_header h, zero;
    pp_tlv t;
    pp_bytes bytes;
    pp_ssl_info info;
    uint32_t az;
    uint64_t gcp;

    (void)state;
    begin_test();
    g_case = "pp_header_init";
    memset(&h, 0xA5, sizeof h);
    memset(&zero, 0, sizeof zero);
    pp_header_init(&h);
    if (memcmp(&h, &zero, sizeof h) != 0)
        note_failure(__LINE__, "pp_header_init does not zero the header");

    g_case = "NULL buffer of length 0";
    if (pp_parse(&h, NULL, 0) != PP_INCOMPLETE)
        note_failure(__LINE__, "not incomplete");

    g_case = "accessors on an unparsed header";
    memset(&h, 0, sizeof h);
    if (pp_has_addresses(&h) != 0 || pp_tlv_find(&h, PP_TLV_ALPN, &t) != 0 ||
        pp_alpn(&h, &bytes) != 0 || pp_ssl(&h, &info) != 0 ||
        pp_azure_linkid(&h, &az) != 0 || pp_gcp_psc_id(&h, &gcp) != 0 ||
        pp_aws_vpce_id(&h, &bytes) != 0)
        note_failure(__LINE__, "something found in a zeroed header");
    end_test();
}

/* Feed text[0..n) one more byte per call from `from` on (the earlier
 * bytes went in by the caller); the status of the last call. */
static int feed_bytes(pp_header *h, const char *text, size_t from, size_t n)
{
    int r = PP_INCOMPLETE;
    size_t i;

    for (i = from; i <= n && r == PP_INCOMPLETE; i++)
        r = pp_parse(h, text, i);
    return r;
}

/* Byte-at-a-time v1 TCP4 lines take the resumable parser, lines parsed
 * whole the whole-line path; settings, several bytes at once, fewer bytes
 * than before and application data after the LF must all give the same
 * answers both ways. */
static void test_v1_bytewise_paths(void **state)
{
    static const char line[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    static const char data[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP";
    static const char long4[] =
        "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    char unknown[300];
    size_t n = sizeof line - 1;
    pp_header h;
    int r;

    (void)state;
    begin_test();

    g_case = "byte by byte, then the rest and data in one call";
    memset(&h, 0, sizeof h);
    r = feed_bytes(&h, data, 1, 20);
    if (r != PP_INCOMPLETE || pp_parse(&h, data, sizeof data - 1) != (int)n ||
        h.src.port != 1 || h.dst.port != 2 || h.family != PP_AF_INET)
        note_failure(__LINE__, "got %d, then not the line", r);

    g_case = "fewer bytes than before, same field: still incomplete";
    memset(&h, 0, sizeof h);
    r = feed_bytes(&h, line, 1, 17);
    if (r != PP_INCOMPLETE || pp_parse(&h, line, 16) != PP_INCOMPLETE ||
        feed_bytes(&h, line, 17, n) != (int)n)
        note_failure(__LINE__, "a shorter call in the same field misread");

    g_case = "fewer bytes than before, a separator cut off: misuse";
    memset(&h, 0, sizeof h);
    r = feed_bytes(&h, line, 1, 20);
    if (r != PP_INCOMPLETE || pp_parse(&h, line, 9) != PP_ERR_ARG ||
        pp_parse(&h, line, n) != PP_ERR_ARG)
        note_failure(__LINE__, "not a sticky PP_ERR_ARG");

    g_case = "fewer bytes than before inside a port: misuse, read to len";
    {
        /* The source port starts at byte 43; 3 of its digits are in, then
         * a call with 1 of them, from a buffer that ends there. */
        char *cut = malloc(44);
        if (cut == NULL)
            fail();
        memcpy(cut, long4, 44);
        memset(&h, 0, sizeof h);
        r = feed_bytes(&h, long4, 1, 46);
        if (r != PP_INCOMPLETE || pp_parse(&h, cut, 44) != PP_ERR_ARG)
            note_failure(__LINE__, "got %d, then not PP_ERR_ARG", r);
        free(cut);
    }

    g_case = "PP_F_NO_V1, byte by byte";
    memset(&h, 0, sizeof h);
    h.flags = PP_F_NO_V1;
    r = feed_bytes(&h, line, 1, n);
    if (r != PP_ERR_VERSION_DISABLED)
        note_failure(__LINE__, "got %d (%s)", r, pp_status_name(r));

    g_case = "max_len below the line, byte by byte";
    memset(&h, 0, sizeof h);
    h.max_len = 50; /* the CR must come within 49 bytes */
    r = feed_bytes(&h, long4, 1, 48);
    if (r != PP_INCOMPLETE || pp_parse(&h, long4, 49) != PP_ERR_TOO_LONG)
        note_failure(__LINE__, "got %d before byte 49, then not too long", r);

    g_case = "max_len at the line, byte by byte";
    memset(&h, 0, sizeof h);
    h.max_len = sizeof long4 - 1;
    r = feed_bytes(&h, long4, 1, sizeof long4 - 1);
    if (r != (int)(sizeof long4 - 1))
        note_failure(__LINE__, "got %d (%s)", r, pp_status_name(r));

    g_case = "UNKNOWN, no CR, an LF last, whole";
    memcpy(unknown, "PROXY UNKNOWN ", 14);
    memset(unknown + 14, 'x', sizeof unknown - 15);
    unknown[sizeof unknown - 1] = '\n';
    memset(&h, 0, sizeof h);
    r = pp_parse(&h, unknown, sizeof unknown);
    if (r != PP_ERR_V1_TOO_LONG)
        note_failure(__LINE__, "got %d (%s)", r, pp_status_name(r));
    end_test();
}

/* One TCP4 line with these values, fed byte by byte (the resumable
 * parser) and whole (the whole-line path); both must give exactly these
 * values. */
static void check_tcp4_values(const uint8_t src[4], const uint8_t dst[4],
                              unsigned sport, unsigned dport)
{
    char line[80];
    pp_header h;
    int n = snprintf(line, sizeof line,
                     "PROXY TCP4 %u.%u.%u.%u %u.%u.%u.%u %u %u\r\nDATA", src[0],
                     src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3],
                     sport, dport) -
        4;
    int way, r;

    snprintf(g_case_buf, sizeof g_case_buf, "%.*s", n - 2, line);
    g_case = g_case_buf;
    for (way = 0; way < 2; way++) {
        memset(&h, 0, sizeof h);
        r = way == 0 ? feed_bytes(&h, line, 1, (size_t)n + 4)
                     : pp_parse(&h, line, (size_t)n + 4);
        if (r != n || h.family != PP_AF_INET ||
            h.transport != PP_TRANSPORT_STREAM || h.version != 1 ||
            h.command != PP_CMD_PROXY || memcmp(h.src.ip, src, 4) != 0 ||
            memcmp(h.dst.ip, dst, 4) != 0 || h.src.port != sport ||
            h.dst.port != dport)
            note_failure(__LINE__, "%s: got %d", way ? "whole" : "bytewise", r);
    }
}

/* Every octet value in every position, ports of every digit count. */
static void test_v1_tcp4_values(void **state)
{
    static const unsigned ports[] = {0,    1,    9,     10,    99,  100,  999,
                                     1000, 9999, 10000, 65535, 443, 56324};
    uint8_t ip[8];
    size_t pos, i, j;
    unsigned v;

    (void)state;
    begin_test();
    for (pos = 0; pos < 8; pos++)
        for (v = 0; v < 256; v++) {
            for (i = 0; i < 8; i++)
                ip[i] = (uint8_t)(i == pos ? v : 37 * i + 1);
            check_tcp4_values(ip, ip + 4, 80, 65535);
        }
    for (i = 0; i < sizeof ports / sizeof ports[0]; i++)
        for (j = 0; j < sizeof ports / sizeof ports[0]; j++) {
            static const uint8_t a[4] = {10, 0, 0, 1},
                                 b[4] = {192, 168, 1, 255};
            check_tcp4_values(a, b, ports[i], ports[j]);
        }
    end_test();
}

/* A misuse: other bytes at the LF than those the parser read before. The
 * resumable parser does not look at the fields it checked again, so the
 * values may then be garbage, but no byte past len is read (each buffer is
 * exactly len bytes, for ASan and valgrind): the answer is either the
 * line's length or what a fresh parse of the new bytes says. */
static void test_v1_changed_bytes(void **state)
{
    static const char line[] = "PROXY TCP4 1.1.1.1 1.1.1.1 1 1\r\n";
    static const char alphabet[] = "0123456789. \r\n";
    const size_t n = sizeof line - 1;
    uint32_t seed = 7;
    int k;

    (void)state;
    begin_test();
    for (k = 0; k < 20000; k++) {
        uint8_t *b = malloc(n);
        pp_header h, fresh;
        int r, want;
        size_t i;

        assert_non_null(b);
        memcpy(b, line, n);
        if (k == 0) /* all digits up to the LF: runs past every field */
            memset(b + 11, '9', n - 12);
        else
            for (i = 11; i < n - 1; i++)
                if (xorshift32(&seed) % 4 == 0)
                    b[i] = (uint8_t)
                        alphabet[xorshift32(&seed) % (sizeof alphabet - 1)];
        memset(&h, 0, sizeof h);
        memset(&fresh, 0, sizeof fresh);
        r = feed_bytes(&h, line, 1, n - 1);
        want = pp_parse(&fresh, b, n);
        if (r == PP_INCOMPLETE)
            r = pp_parse(&h, b, n);
        snprintf(g_case_buf, sizeof g_case_buf, "%.*s", (int)n - 2,
                 (const char *)b);
        g_case = g_case_buf;
        if (r != (int)n && r != want)
            note_failure(__LINE__, "got %d, a fresh parse %d", r, want);
        if (k == 0 && r != (int)n) /* every field was checked before */
            note_failure(__LINE__, "got %d, not the line's length", r);
        free(b);
    }
    end_test();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_random),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_first_byte),
        cmocka_unit_test(test_v1_valid),
        cmocka_unit_test(test_v1_bytewise_paths),
        cmocka_unit_test(test_v1_tcp4_values),
        cmocka_unit_test(test_v1_changed_bytes),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_v2_signature),
        cmocka_unit_test(test_v2_byte12),
        cmocka_unit_test(test_v2_byte13),
        cmocka_unit_test(test_v2_valid),
        cmocka_unit_test(test_v2_invalid),
        cmocka_unit_test(test_v2_largest),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_expected_len),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_ssl_fields),
        cmocka_unit_test(test_tlv_iter_unvalidated),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
