/*
 * pphdr - a strict, incremental, zero-allocation PROXY protocol library.
 * See include/pphdr.h for the API and README.md for the strictness rules.
 * MIT licensed; see COPYING.
 *
 * Contents, one section per concern, in this order:
 *   1. Conventions and tables: build switches, PP_ASSERT, byte order and
 *      byte compares, shared tables (no prefix); the parser's private
 *      state and how a call of pp_parse ends (hdr_).
 *   2. v1: strict address text (also used by the trust table), the
 *      resumable field parser and the whole-line fast path (v1_).
 *   3. v2 and TLVs: the fixed part, the TLV stage, the result (v2_);
 *      pp_parse itself (hdr_); TLV iteration.
 *   4. Typed TLV accessors (tlv_).
 *   5. CRC32C (crc_).
 *   6. Writer: v1 lines and v2 headers (wr_).
 *   7. sockaddr helpers (sa_).
 *   8. Trust table (trust_).
 *   9. Stream sockets (sk_).
 *  10. Datagrams (dg_).
 *  11. Status names and sentences (status_).
 *
 * The parser keeps one grammar in one place: v1 has one field parser,
 * one function per field, and a later call goes straight to the function
 * of the field in progress, which goes on from where the last call left
 * it ("PROXY " and the protocol token from their next byte, an IPv4
 * address from its last final octet, a port after its digits); a call
 * that holds the whole line goes through the same address and port
 * parsers without their end-of-bytes checks and fills the result with the
 * same function (v1_result). v2 has one path and one function that
 * writes its result (v2_done): a header without TLVs skips the TLV stage,
 * and at a first call one compare of bytes 8..15 (v2_plain_len) finds the
 * common ones. Every call of pp_parse that changes the parser's state
 * ends in hdr_end_call.
 */

/* ======================================================================
 * 1. Conventions and tables
 * ==================================================================== */

/* What this build has, decided here once: the sections below test only
 * these two macros. PP_NO_SOCKETS leaves out everything that needs the
 * socket API. */
#ifndef PP_NO_SOCKETS
#define PP_WITH_SOCKADDR 1 /* sockaddr conversions (sections 7 and 8) */
#ifndef _WIN32 /* Windows has Winsock's sockaddr types, no int descriptors */
#define PP_WITH_RECV 1 /* pp_recv_step and pp_recv_header (9) */
#endif
#endif

#if defined(PP_WITH_SOCKADDR) && !defined(_WIN32)
/* POSIX 2008 for poll(), clock_gettime(CLOCK_MONOTONIC), sockaddr_in6 and
 * sockaddr_un under -std=c99; the platform defaults for MSG_DONTWAIT, which
 * POSIX leaves out (glibc and musl show it anyway, BSD and macOS hide it).
 * These must come before any system include, pphdr.h's included. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif
#endif

#include "pphdr.h"

#include <limits.h>
#include <string.h>

/* Windows: pphdr.h brought Winsock's sockaddr types (sockaddr_un from
 * <afunix.h>). */
#if defined(PP_WITH_SOCKADDR) && !defined(_WIN32)
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#endif

#ifdef PP_WITH_RECV
#include <errno.h>
#include <poll.h>
#include <time.h>
#ifndef MSG_DONTWAIT
#error "pphdr: the socket helpers need MSG_DONTWAIT; define PP_NO_SOCKETS"
#endif
#endif

/* Define PP_NO_HW_CRC32C to use the portable CRC32C path only. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) &&         \
    !defined(PP_NO_HW_CRC32C)
#define PP_HAVE_X86_CRC 1
#include <nmmintrin.h>
#endif

/* Inlining hints for the parser's hot paths: the one-shot cost targets
 * (README, Performance) are met with these choices. */
#if defined(__GNUC__)
#define PP_INLINE inline __attribute__((always_inline))
#define PP_NOINLINE __attribute__((noinline))
#else
#define PP_INLINE inline
#define PP_NOINLINE
#endif

/* PP_ASSERT(c) states an invariant. It aborts with a message when c is
 * false in builds with -DPP_DEBUG (the fuzz and sanitizer builds define
 * it), tells the static analyzer that c holds, and compiles to nothing
 * otherwise. */
#if defined(PP_DEBUG)
#include <stdio.h>
#include <stdlib.h>
#define PP_ASSERT(c)                                                           \
    ((c) ? (void)0                                                             \
         : (fprintf(stderr, "pphdr: %s:%d: invariant broken: %s\n", __FILE__,  \
                    __LINE__, #c),                                             \
            abort()))
#elif defined(__clang_analyzer__)
#define PP_ASSERT(c)                                                           \
    do {                                                                       \
        if (!(c))                                                              \
            __builtin_unreachable();                                           \
    } while (0)
#else
#define PP_ASSERT(c) ((void)0)
#endif

/* PP_STATIC_ASSERT(c, name): a compile-time check, with C11's
 * _Static_assert where there is one and a negative array size otherwise
 * (C99). name is an identifier that says what is checked. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PP_STATIC_ASSERT(c, name) _Static_assert(c, #name)
#else
#define PP_STATIC_ASSERT(c, name) typedef char pp_check_##name[(c) ? 1 : -1]
#endif

/* The public constants the code relies on. A zeroed header has command
 * PP_CMD_LOCAL, so pp_has_addresses says 0 until the parser sets the
 * command, which it does only with the final result. */
PP_STATIC_ASSERT(PP_CMD_LOCAL == 0, zeroed_command_is_local);
PP_STATIC_ASSERT(PP_V2_MAX_LEN <= INT_MAX, header_length_fits_int);
PP_STATIC_ASSERT(PP_V1_MAX_LEN < 256, v1_offsets_fit_a_byte);

/* Byte order: wire values are read and written big-endian, byte by byte. */

static uint16_t load_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
        p[3];
}

static void store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Whether the first n bytes of p equal those of text. A plain loop: for
 * the few bytes of a cut-short token or signature a library call costs
 * more. */
static int prefix_eq(const uint8_t *p, const void *text, size_t n)
{
    const uint8_t *t = (const uint8_t *)text;
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] != t[i])
            return 0;
    return 1;
}

/* Whether the 2 bytes at a equal those at b, with one load each. */
static PP_INLINE int same2(const uint8_t *a, const char *b)
{
    uint16_t x, y;

    memcpy(&x, a, 2);
    memcpy(&y, b, 2);
    return x == y;
}

/* Whether the 8 bytes at a equal those at b, with one load each. */
static PP_INLINE int same8(const uint8_t *a, const void *b)
{
    uint64_t x, y;

    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
}

/* The v2 signature, the first 12 bytes of every v2 header. */
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* The first 12 bytes of an IPv4-mapped IPv6 address, ::ffff:a.b.c.d. */
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};

static int is_v4mapped(const uint8_t ip[16])
{
    return memcmp(ip, v4mapped_prefix, sizeof v4mapped_prefix) == 0;
}

/* Hex digit values, 16 for any other byte: one load per character. */
/* clang-format off */
#define H16_ 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16
static const uint8_t hex_value[] = {
    H16_, H16_, H16_,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 16, 16, 16, 16, 16,           /* '0' */
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, /* 'A' */
    H16_,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, /* 'a' */
    H16_, H16_, H16_, H16_, H16_, H16_, H16_, H16_, H16_};
#undef H16_
/* clang-format on */
PP_STATIC_ASSERT(sizeof hex_value == 256, hex_value_covers_every_byte);

/* The parser's private state (pp_header.progress_donotuse). */
typedef pp_progress_donotuse hdr_progress;
PP_STATIC_ASSERT(sizeof(hdr_progress) <= PP_PROGRESS_SIZE,
                 progress_fits_its_reserved_area);
PP_STATIC_ASSERT(sizeof(pp_progress_u) == PP_PROGRESS_SIZE,
                 progress_area_has_its_fixed_size);

/* The public structs keep their size when private state changes (the
 * reserved areas absorb it): on 64-bit targets these are their sizes, and
 * a change here is a change of the ABI. */
PP_STATIC_ASSERT(sizeof(void *) != 8 || sizeof(pp_header) == 208,
                 header_size_is_fixed);
PP_STATIC_ASSERT(sizeof(void *) != 8 || sizeof(pp_trust) == 40,
                 trust_size_is_fixed);
PP_STATIC_ASSERT(sizeof(struct pp_trust_internal_donotuse) <=
                     sizeof(pp_trust_state_u),
                 trust_state_fits_its_reserved_area);

static hdr_progress *hdr_state(pp_header *hdr)
{
    return &hdr->progress_donotuse.internal_donotuse;
}

static const hdr_progress *hdr_cstate(const pp_header *hdr)
{
    return &hdr->progress_donotuse.internal_donotuse;
}

/* Where in the header the next call goes on (hdr_progress.stage). */
enum hdr_stage {
    ST_START = 0, /* nothing yet, or a v2 fixed part not all in */
    ST_V1_SIG,    /* v1: "PROXY " */
    ST_V1_FAMILY, /* v1: the protocol token */
    ST_V1_SRC4,   /* v1: source IPv4 address */
    ST_V1_DST4,   /* v1: destination IPv4 address */
    ST_V1_SRC6,   /* v1: source IPv6 address */
    ST_V1_DST6,   /* v1: destination IPv6 address */
    ST_V1_SPORT,  /* v1: source port */
    ST_V1_DPORT,  /* v1: destination port */
    ST_V1_REST,   /* v1 UNKNOWN: anything up to the CR */
    ST_V1_LF,     /* v1: the LF after the CR */
    ST_V2_TLVS,   /* v2: the TLVs, then the CRC32C */
    ST_DONE,      /* finished: hdr->length holds the result */
    ST_FAILED,    /* finished: result holds the error */
    ST_COUNT
};
PP_STATIC_ASSERT(ST_COUNT <= 256, stage_fits_its_byte);
/* Every status fits the sticky result byte (int8_t). */
PP_STATIC_ASSERT(PP_ERR_TRUNCATED >= -128, status_fits_result_byte);

/* Whether a max_len (0: no limit) is below n bytes, n >= 1: one compare,
 * as 0 - 1 wraps around to the largest size_t. */
static PP_INLINE int hdr_max_len_below(size_t max_len, size_t n)
{
    PP_ASSERT(n >= 1);
    return max_len - 1 < n - 1;
}

/* The end of every call of pp_parse but the two that leave the state as
 * it is (a call below wake, a repeated result): r is its answer (a length,
 * PP_INCOMPLETE or an error). A length or an error is recorded so that it
 * sticks (later calls repeat it). wake is, for PP_INCOMPLETE in the v2 TLV
 * stage, the len below which the next call cannot learn anything
 * (pp_parse answers those at once), always above 0; 0 otherwise, and
 * leaving the TLV stage clears it. */
static PP_INLINE int hdr_end_call(pp_header *hdr, int r, size_t wake)
{
    hdr_progress *st = hdr_state(hdr);

    PP_ASSERT(r != 0 && r >= PP_ERR_TRUNCATED);
    PP_ASSERT((wake != 0) == (r == PP_INCOMPLETE && st->stage == ST_V2_TLVS));
    /* wake is 0 outside the TLV stage: only that stage changes it. So an
     * incomplete answer stores a wake only when it has one (the call sites
     * outside that stage pass a constant 0, and the store goes), and a
     * final one clears it only when it leaves that stage. */
    PP_ASSERT(st->wake == 0 || st->stage == ST_V2_TLVS);
    if (r == PP_INCOMPLETE) {
        if (wake != 0)
            st->wake = wake;
        return r;
    }
    if (st->stage == ST_V2_TLVS)
        st->wake = 0;
    if (r > 0) {
        hdr->length = (size_t)r;
        st->stage = ST_DONE;
    } else {
        st->result = (int8_t)r;
        st->stage = ST_FAILED;
    }
    return r;
}

/* Defined in section 5: the CRC32C of a v2 header with its CRC32C value
 * read as zeros. */
static uint32_t crc_gap(const uint8_t *p, size_t len, size_t at);

unsigned pp_version_number(void)
{
    return PP_VERSION_NUMBER;
}

void pp_header_init(pp_header *hdr)
{
    memset(hdr, 0, sizeof *hdr);
}

/* ======================================================================
 * 2. v1
 *
 * Strict address text. Each parser reads a byte only after accepting the
 * one before it, and stops at the first byte that cannot continue the
 * text, so it reads at most a fixed number of bytes (the longest accepted
 * prefix and one more). When that many bytes are in, the end checks cannot
 * fire: the parsers take a `bounded` flag, a constant at each call, and
 * are inlined so that the unbounded copies lose those checks. Both copies
 * run the same code and give the same answers.
 * ==================================================================== */

/* p has a byte to read (always so when unbounded). */
#define HAVE(p, end, bounded) (!(bounded) || (p) != (end))

/* The value of a decimal digit; above 9 for any other byte. */
static unsigned v1_dec_digit(uint8_t c)
{
    return (unsigned)c - '0';
}

/* The value of a hex digit; 16 for any other byte. */
static unsigned v1_hex_digit(uint8_t c)
{
    return hex_value[c];
}

/* One decimal octet 0..255 without leading zeros. The leading zero is
 * looked at only when a second digit follows it. PP_OK: the octet is final,
 * stopped by a byte that cannot continue it or complete with three digits
 * or a 0; PP_INCOMPLETE: the end of the bytes came first (bounded only). */
static PP_INLINE int v1_ip4_octet(const uint8_t **pp, const uint8_t *end,
                                  uint8_t *out, int bounded)
{
    const uint8_t *p = *pp;
    unsigned v, d;

    if (!HAVE(p, end, bounded))
        return PP_INCOMPLETE;
    v = v1_dec_digit(*p);
    if (v > 9)
        return PP_ERR_V1_ADDRESS;
    p++;
    if (HAVE(p, end, bounded) && (d = v1_dec_digit(*p)) <= 9) {
        if (v == 0)
            return PP_ERR_V1_ADDRESS; /* a leading zero */
        v = v * 10 + d;
        p++;
        if (HAVE(p, end, bounded) && (d = v1_dec_digit(*p)) <= 9) {
            v = v * 10 + d;
            p++;
            if (v > 255)
                return PP_ERR_V1_ADDRESS;
        }
    }
    if (bounded && p == end && p - *pp < 3 && v != 0)
        return PP_INCOMPLETE; /* more digits may come */
    *out = (uint8_t)v;
    *pp = p;
    return PP_OK;
}

/* A dot, then an octet. */
static PP_INLINE int v1_ip4_dot_octet(const uint8_t **pp, const uint8_t *end,
                                      uint8_t *out, int bounded)
{
    if (!HAVE(*pp, end, bounded))
        return PP_INCOMPLETE;
    if (**pp != '.')
        return PP_ERR_V1_ADDRESS;
    (*pp)++;
    return v1_ip4_octet(pp, end, out, bounded);
}

/* Where an IPv4 parse can go on later: octets before `done` are final
 * and `at` is where the next one starts, with its dot. Fed one byte at a
 * time, an address is then read about once, not once per byte. */
typedef struct v1_ip4_mark {
    const uint8_t *at;
    int done;
} v1_ip4_mark;

/* Octet n - 1 is final and stopped at p. Only a bounded parse can run
 * into the end of the bytes and need the mark. */
static PP_INLINE void v1_ip4_mark_at(v1_ip4_mark *m, const uint8_t *p, int n,
                                     int bounded)
{
    if (bounded) {
        m->at = p;
        m->done = n;
    }
}

/* Octets m->done to 3 from m->at, written out rather than looped; m
 * follows the final octets. */
static PP_INLINE int v1_ip4_parse_from(v1_ip4_mark *m, const uint8_t *end,
                                       uint8_t out[4], const uint8_t **stop,
                                       int bounded)
{
    const uint8_t *p = m->at;
    int r = PP_OK;

    PP_ASSERT(m->done >= 0 && m->done <= 3);
    switch (m->done) {
    case 0:
        r = v1_ip4_octet(&p, end, &out[0], bounded);
        if (r != PP_OK)
            break;
        v1_ip4_mark_at(m, p, 1, bounded);
        /* fallthrough */
    case 1:
        r = v1_ip4_dot_octet(&p, end, &out[1], bounded);
        if (r != PP_OK)
            break;
        v1_ip4_mark_at(m, p, 2, bounded);
        /* fallthrough */
    case 2:
        r = v1_ip4_dot_octet(&p, end, &out[2], bounded);
        if (r != PP_OK)
            break;
        v1_ip4_mark_at(m, p, 3, bounded);
        /* fallthrough */
    default:
        r = v1_ip4_dot_octet(&p, end, &out[3], bounded);
        if (r == PP_OK)
            *stop = p;
        break;
    }
    return r;
}

static PP_INLINE int v1_ip4_parse(const uint8_t *p, const uint8_t *end,
                                  uint8_t out[4], const uint8_t **stop,
                                  int bounded)
{
    v1_ip4_mark m;

    m.at = p;
    m.done = 0;
    return v1_ip4_parse_from(&m, end, out, stop, bounded);
}

/* The address text parsers over [p, end), no NUL needed, used for v1
 * lines and for trust table text alike. Parsing stops at the first byte
 * that cannot continue the address. PP_OK: [p, *stop) is a complete
 * address (*stop may be end, where more could still follow);
 * PP_INCOMPLETE: end reached inside a valid prefix (an IPv4 address whose
 * last octet more digits could continue is one); PP_ERR_V1_ADDRESS: the
 * bytes can never form a valid address. Callers treat the first two alike
 * at end: v1 waits for the separator, and the trust table ends its text
 * with a byte that stops any address. out is in network order. */
static int v1_ip4_text(const uint8_t *p, const uint8_t *end, uint8_t out[4],
                       const uint8_t **stop)
{
    return v1_ip4_parse(p, end, out, stop, 1);
}

/* The groups after "::", groups dc..n-1 of out, move to its end: right by
 * the 8 - n groups "::" stands for, last first; each place left behind is
 * zeroed, and refilled when a later move lands there. */
static PP_INLINE void v1_ip6_close_gap(uint8_t out[16], int n, int dc)
{
    static const uint8_t zero[2] = {0, 0};
    int i, shift = 2 * (8 - n);

    for (i = 2 * (n - 1); i >= 2 * dc; i -= 2) {
        memcpy(out + i + shift, out + i, 2);
        memcpy(out + i, zero, 2);
    }
}

/* Whether the next byte is a hex digit; if so it is added to *v. */
static PP_INLINE int v1_hex_more(const uint8_t **pp, const uint8_t *end,
                                 unsigned *v, int bounded)
{
    unsigned d;

    if (!HAVE(*pp, end, bounded) || (d = v1_hex_digit(**pp)) > 15)
        return 0;
    *v = *v << 4 | d;
    (*pp)++;
    return 1;
}

/* The number of hex digits of one group at *pp (0 to 4), its value in
 * *v; -1 for a fifth digit. */
static PP_INLINE int v1_ip6_group_digits(const uint8_t **pp, const uint8_t *end,
                                         unsigned *v, int bounded)
{
    *v = 0;
    if (!v1_hex_more(pp, end, v, bounded))
        return 0;
    if (!v1_hex_more(pp, end, v, bounded))
        return 1;
    if (!v1_hex_more(pp, end, v, bounded))
        return 2;
    if (!v1_hex_more(pp, end, v, bounded))
        return 3;
    if (HAVE(*pp, end, bounded) && v1_hex_digit(**pp) < 16)
        return -1;
    return 4;
}

/* IPv6 text: n groups so far, "::" after dc of them (-1: none yet); max
 * is the number of groups allowed: 8, or 7 once "::" stands for at least
 * one. */
static PP_INLINE int v1_ip6_parse(const uint8_t *p, const uint8_t *end,
                                  uint8_t out[16], const uint8_t **stop,
                                  int bounded)
{
    int n = 0, dc = -1, max = 8; /* right after "::" when dc == n */

    /* Groups go into out as they come, so out is written even when the
     * text turns out invalid or incomplete (results count only after a
     * success). */
    memset(out, 0, 16);

    if (HAVE(p, end, bounded) && *p == ':') {
        p++;
        if (!HAVE(p, end, bounded))
            return PP_INCOMPLETE;
        if (*p++ != ':')
            return PP_ERR_V1_ADDRESS;
        dc = 0;
        max = 7;
    }
    for (;;) {
        const uint8_t *group = p;
        unsigned v;
        int digits;

        if (!HAVE(p, end, bounded)) {
            if (dc != n)
                return PP_INCOMPLETE;
            break; /* "::" ends the bytes: complete, though more may come */
        }
        digits = v1_ip6_group_digits(&p, end, &v, bounded);
        if (digits < 0)
            return PP_ERR_V1_ADDRESS; /* five hex digits */
        if (digits == 0) {
            if (dc != n)
                return PP_ERR_V1_ADDRESS;
            break; /* the address ends right after "::" */
        }
        if (HAVE(p, end, bounded) && *p == '.') {
            uint8_t v4[4];
            int r;
            if (max - n < 2 || (dc < 0 && n != 6))
                return PP_ERR_V1_ADDRESS;
            r = v1_ip4_parse(group, end, v4, &p, bounded);
            if (r != PP_OK)
                return r;
            memcpy(out + 2 * n, v4, 4);
            n += 2;
            break;
        }
        /* n < max here: the ':' before this group checked it, or "::"
         * did (below). */
        PP_ASSERT(n < max);
        store_be16(out + 2 * n++, (uint16_t)v);
        if (!HAVE(p, end, bounded)) {
            if (n == max || dc >= 0)
                break; /* complete, though more may follow */
            return PP_INCOMPLETE;
        }
        if (*p != ':') {
            if (dc < 0 && n != 8)
                return PP_ERR_V1_ADDRESS;
            break;
        }
        if (n >= max)
            return PP_ERR_V1_ADDRESS;
        p++;
        if (!HAVE(p, end, bounded))
            return PP_INCOMPLETE;
        if (*p == ':') {
            if (dc >= 0)
                return PP_ERR_V1_ADDRESS;
            dc = n;
            max = 7;
            p++;
            /* After seven groups "::" stands for the eighth: no group may
             * follow it (a hex digit is one). */
            if (n == 7 && HAVE(p, end, bounded) && v1_hex_digit(*p) < 16)
                return PP_ERR_V1_ADDRESS;
        }
    }
    *stop = p;
    if (dc >= 0)
        v1_ip6_close_gap(out, n, dc);
    return PP_OK;
}

static int v1_ip6_text(const uint8_t *p, const uint8_t *end, uint8_t out[16],
                       const uint8_t **stop)
{
    return v1_ip6_parse(p, end, out, stop, 1);
}

/* Whether the next byte is a decimal digit; if so it is added to *v. */
static PP_INLINE int v1_port_more(const uint8_t **pp, const uint8_t *end,
                                  unsigned *v, int bounded)
{
    unsigned d;

    if (!HAVE(*pp, end, bounded) || (d = v1_dec_digit(**pp)) > 9)
        return 0;
    *v = *v * 10 + d;
    (*pp)++;
    return 1;
}

/* A decimal port 0..65535 without leading zeros: up to 5 digits, none
 * after a leading 0. Its first n digits, worth v, were read before (by an
 * earlier call; n is 0 when it starts at p), so the next digit is at
 * p + n. Written out like the IPv4 octets. PP_OK: the digits end at *stop
 * (at end when the bytes ran out, bounded only), their value in *out. */
static PP_INLINE int v1_port(const uint8_t *p, unsigned n, unsigned v,
                             const uint8_t *end, uint16_t *out,
                             const uint8_t **stop, int bounded)
{
    p += n;
    switch (n) {
    case 0:
        if (!HAVE(p, end, bounded))
            return PP_INCOMPLETE;
        v = v1_dec_digit(*p++);
        if (v > 9)
            return PP_ERR_V1_PORT;
        /* fallthrough */
    case 1:
        /* A leading 0 ends the port (the caller rejects a digit after it). */
        if (v == 0 || !v1_port_more(&p, end, &v, bounded))
            break;
        /* fallthrough */
    case 2:
        if (!v1_port_more(&p, end, &v, bounded))
            break;
        /* fallthrough */
    case 3:
        if (!v1_port_more(&p, end, &v, bounded))
            break;
        /* fallthrough */
    case 4:
        if (v1_port_more(&p, end, &v, bounded) && v > 65535)
            return PP_ERR_V1_PORT;
        break;
    default: /* 5 digits: the port is whole */
        break;
    }
    *out = (uint16_t)v;
    *stop = p;
    return PP_OK;
}

/* ---- the resumable field parser --------------------------------------- */

#define V1_NEED 1     /* internal: the field runs into the end of the bytes */
#define V1_MIN_LEN 15 /* "PROXY UNKNOWN\r\n": a lower max_len fits no line */

/* The protocol tokens. The three differ in their first or fourth byte,
 * which picks the one token the bytes can begin; TCP4 and TCP6 share the
 * bytes before their fourth. */
typedef struct v1_token {
    char text[8];
    uint8_t len, family;
} v1_token;

static const v1_token v1_tokens[3] = {{"TCP4", 4, PP_AF_INET},
                                      {"TCP6", 4, PP_AF_INET6},
                                      {"UNKNOWN", 7, PP_AF_UNSPEC}};

/* The token that the bytes from p (at least one) can begin. */
static PP_INLINE const v1_token *v1_token_at(const uint8_t *p,
                                             const uint8_t *end)
{
    if (*p == 'U')
        return &v1_tokens[2];
    return end - p > 3 && p[3] == '6' ? &v1_tokens[1] : &v1_tokens[0];
}

/* The error the first byte of a field proves, V1_NEED when it is not in
 * yet, or 0. SP, CR and LF are all <= ' ': one compare passes the usual
 * first byte. */
static PP_INLINE int v1_field_start_error(const uint8_t *p, const uint8_t *end,
                                          int bounded)
{
    if (!HAVE(p, end, bounded))
        return V1_NEED;
    if (*p > ' ')
        return 0;
    if (*p == ' ' || *p == '\r')
        return PP_ERR_V1_SYNTAX;
    if (*p == '\n')
        return PP_ERR_V1_CRLF;
    return 0;
}

/* After a field parser returned r and stopped at s: 0 when s holds the
 * expected separator sep, V1_NEED, or the error the bytes prove. */
static PP_INLINE int v1_field_end_error(int r, const uint8_t *s,
                                        const uint8_t *end, uint8_t sep,
                                        int field_err, int bounded)
{
    if (r == PP_INCOMPLETE || (r == PP_OK && !HAVE(s, end, bounded)))
        return V1_NEED;
    if (r != PP_OK)
        return field_err;
    if (*s == sep)
        return 0;
    if (*s == '\n')
        return PP_ERR_V1_CRLF;
    if (*s == ' ' || *s == '\r')
        return PP_ERR_V1_SYNTAX;
    return field_err;
}

/* The most bytes an IPv6 field's parser and v1_field_end_error read from
 * the field's start: the longest prefix the parser accepts plus the byte
 * it stops at. An accepted prefix is always the start of some valid text
 * (errors come as soon as the bytes prove them), so it is at most as long
 * as the longest valid text, IPv6 with an IPv4 tail
 * "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (45). With that many
 * bytes before end, the unbounded copy runs. */
#define V1_IP6_SPAN 46

static PP_INLINE int v1_ip6_field(const uint8_t *p, const uint8_t *end,
                                  uint8_t ip[16], const uint8_t **stop,
                                  int bounded)
{
    int r = v1_field_start_error(p, end, bounded);
    if (r != 0)
        return r;
    r = v1_ip6_parse(p, end, ip, stop, bounded);
    return v1_field_end_error(r, *stop, end, ' ', PP_ERR_V1_ADDRESS, bounded);
}

/* A field parser's answer, returned by value so that its callers, which
 * end in tail calls, need not lend it a local: r is 0, V1_NEED or an
 * error; on 0 at is the separator. */
typedef struct v1_answer {
    int r;
    const uint8_t *at;
} v1_answer;

/* An IPv6 field, read from its start at each call (an address is at most
 * 45 bytes): one function holding the bounded and the unbounded copy, out
 * of line so that the copies exist once. */
static PP_NOINLINE v1_answer v1_ip6_address(const uint8_t *p,
                                            const uint8_t *end, uint8_t ip[16])
{
    v1_answer a;

    a.at = p;
    a.r = (size_t)(end - p) >= V1_IP6_SPAN ? v1_ip6_field(p, end, ip, &a.at, 0)
                                           : v1_ip6_field(p, end, ip, &a.at, 1);
    return a;
}

/* An IPv4 field, going on from the octets already final: st->part of
 * them, the next one (its dot after the first) at *pp. 0: the address is
 * whole and *pp is on the separator; V1_NEED: st and *pp say where the
 * next call goes on; or an error. */
static PP_INLINE int v1_ip4_address(hdr_progress *st, const uint8_t **pp,
                                    const uint8_t *end, uint8_t ip[16])
{
    v1_ip4_mark m;
    const uint8_t *s = *pp;
    int r = 0;

    m.at = *pp;
    m.done = st->part;
    if (m.done == 0)
        r = v1_field_start_error(m.at, end, 1);
    if (r == 0) {
        r = v1_ip4_parse_from(&m, end, ip, &s, 1);
        r = v1_field_end_error(r, s, end, ' ', PP_ERR_V1_ADDRESS, 1);
    }
    *pp = r == 0 ? s : m.at;
    st->part = (uint8_t)m.done;
    return r;
}

/* A port field ended by sep, going on at *pp after the st->part digits
 * an earlier call read (their value is in *port). 0: the port is whole
 * and *pp is on the separator; V1_NEED: st->part, *port and *pp (where
 * the next digit goes) say where the next call goes on; or an error. */
static PP_INLINE int v1_port_field(hdr_progress *st, const uint8_t **pp,
                                   const uint8_t *end, uint16_t *port,
                                   uint8_t sep)
{
    const uint8_t *start = *pp - st->part, *s = *pp;
    int r = 0;

    if (st->part == 0)
        r = v1_field_start_error(start, end, 1);
    if (r == 0) {
        r = v1_port(start, st->part, *port, end, port, &s, 1);
        r = v1_field_end_error(r, s, end, sep, PP_ERR_V1_PORT, 1);
    }
    if (r == V1_NEED)
        st->part = (uint8_t)(s - start);
    if (r == 0 || r == V1_NEED)
        *pp = s;
    return r;
}

/* UNKNOWN: skip to the first CR; an LF before it is a lone LF. */
static int v1_unknown_rest(const uint8_t *p, const uint8_t *end,
                           const uint8_t **stop)
{
    for (; p != end; p++) {
        if (*p == '\r') {
            *stop = p;
            return 0;
        }
        if (*p == '\n')
            return PP_ERR_V1_CRLF;
    }
    *stop = p;
    return V1_NEED;
}

/* The longest line allowed: max_len when it is 1..106, else 107 (0 wraps
 * around to the largest size_t). */
static size_t v1_max_line_len(const pp_header *hdr)
{
    return hdr->max_len - 1 < PP_V1_MAX_LEN - 1 ? hdr->max_len : PP_V1_MAX_LEN;
}

/* The result of a whole valid line of n bytes, written by both ways
 * through a line: the family was read, the rest follows from it.
 * Returns n. */
static PP_INLINE int v1_result(pp_header *hdr, uint8_t family, size_t n)
{
    PP_ASSERT(n >= V1_MIN_LEN && n <= PP_V1_MAX_LEN);
    hdr->family = family;
    hdr->version = 1;
    hdr->transport =
        family == PP_AF_UNSPEC ? PP_TRANSPORT_UNSPEC : PP_TRANSPORT_STREAM;
    hdr->command = PP_CMD_PROXY;
    return (int)n;
}

/* The fields of a line, one function each, in the order of the line. Each
 * reads its field from p, where the last call left it (in "PROXY " and the
 * token p is the next byte to compare; in an IPv4 address st->part octets
 * are final and p is at the next one; in a port p is where its next digit
 * goes, after the st->part digits read). When the field is whole, the
 * function goes on with the next field's function, a tail call; when the
 * bytes run out first, v1_stop records where the next call goes on. end
 * is where the CR must come by: the end of the bytes, or of the longest
 * line allowed. Each returns the call's answer (the line's length,
 * PP_INCOMPLETE or an error) and ends the call. */
typedef int v1_field_fn(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end);
static v1_field_fn v1_from_sig, v1_from_family, v1_from_src4, v1_from_dst4,
    v1_from_src6, v1_from_dst6, v1_from_sport, v1_from_dport, v1_from_rest,
    v1_from_lf;

/* The field at p stops the call: r is V1_NEED (the field runs into end)
 * or an error. Once len reaches the end of the longest line allowed (end
 * is then that end), more bytes cannot bring the CR in time. */
static PP_INLINE int v1_stop(pp_header *hdr, const uint8_t *buf, size_t len,
                             const uint8_t *p, int r)
{
    hdr_progress *st = hdr_state(hdr);

    if (r != V1_NEED)
        return hdr_end_call(hdr, r, 0);
    st->pos = (uint32_t)(p - buf);
    if (len < st->cr_limit)
        return hdr_end_call(hdr, PP_INCOMPLETE, 0);
    return hdr_end_call(hdr,
                        st->cr_limit == PP_V1_MAX_LEN - 1 ? PP_ERR_V1_TOO_LONG
                                                          : PP_ERR_TOO_LONG,
                        0);
}

/* The function of each field's stage: where a later call, or the field
 * before, goes on. */
static v1_field_fn *const v1_stage_fn[ST_V1_LF + 1] = {
    [ST_V1_SIG] = v1_from_sig,     [ST_V1_FAMILY] = v1_from_family,
    [ST_V1_SRC4] = v1_from_src4,   [ST_V1_DST4] = v1_from_dst4,
    [ST_V1_SRC6] = v1_from_src6,   [ST_V1_DST6] = v1_from_dst6,
    [ST_V1_SPORT] = v1_from_sport, [ST_V1_DPORT] = v1_from_dport,
    [ST_V1_REST] = v1_from_rest,   [ST_V1_LF] = v1_from_lf,
};

/* The next field, of stage `stage`, starts at p: no part of it is final
 * yet. When none of its bytes is in, the call ends at once (the LF's
 * function checks that itself: the LF may lie past end). */
static PP_INLINE int v1_next(pp_header *hdr, const uint8_t *buf, size_t len,
                             const uint8_t *p, const uint8_t *end,
                             uint8_t stage)
{
    hdr_progress *st = hdr_state(hdr);

    st->stage = stage;
    st->part = 0;
    if (p == end && stage != ST_V1_LF)
        return v1_stop(hdr, buf, len, p, V1_NEED);
    return v1_stage_fn[stage](hdr, buf, len, p, end);
}

/* "PROXY" and its space. The bytes before p matched in an earlier call
 * (st->pos counts them), so only the bytes after them are compared. */
static int v1_from_sig(pp_header *hdr, const uint8_t *buf, size_t len,
                       const uint8_t *p, const uint8_t *end)
{
    size_t i = (size_t)(p - buf), n = (size_t)(end - buf);

    n = n < 5 ? n : 5;
    /* cppcheck (2.10) takes n for 0 here from a call site it misreads. */
    /* cppcheck-suppress knownConditionTrueFalse */
    for (; i < n; i++)
        if (buf[i] != (uint8_t) "PROXY"[i])
            return hdr_end_call(hdr, PP_ERR_NOT_PROXY, 0);
    /* cppcheck-suppress knownConditionTrueFalse */
    if (n < 5)
        return v1_stop(hdr, buf, len, buf + n, V1_NEED);
    if ((hdr->flags & PP_F_NO_V1) != 0)
        return hdr_end_call(hdr, PP_ERR_VERSION_DISABLED, 0);
    if (end - buf == 5)
        return v1_stop(hdr, buf, len, buf + 5, V1_NEED);
    if (buf[5] != ' ')
        return hdr_end_call(hdr, PP_ERR_V1_SYNTAX, 0);
    return v1_next(hdr, buf, len, buf + 6, end, ST_V1_FAMILY);
}

/* The protocol token, at byte 6, and the separator after it; UNKNOWN may
 * end the line right after its token. The bytes before p matched in an
 * earlier call (st->pos counts them), so only the bytes after them are
 * compared. */
static int v1_from_family(pp_header *hdr, const uint8_t *buf, size_t len,
                          const uint8_t *p, const uint8_t *end)
{
    const uint8_t *tok = buf + 6, *s;
    size_t i = (size_t)(p - tok), n = (size_t)(end - tok);
    const v1_token *t;
    int r;

    if (i == 0 && (r = v1_field_start_error(tok, end, 1)) != 0)
        return v1_stop(hdr, buf, len, tok, r);
    t = v1_token_at(tok, end);
    n = n < t->len ? n : t->len;
    for (; i < n; i++)
        if (tok[i] != (uint8_t)t->text[i])
            return hdr_end_call(hdr, PP_ERR_V1_FAMILY, 0);
    s = tok + n; /* the separator, when in */
    /* cppcheck-suppress knownConditionTrueFalse */
    if (n < t->len || s == end)
        return v1_stop(hdr, buf, len, s, V1_NEED);
    hdr->family = t->family;
    if (*s == ' ' && t->family == PP_AF_INET)
        return v1_next(hdr, buf, len, s + 1, end, ST_V1_SRC4);
    if (*s == ' ' && t->family == PP_AF_INET6)
        return v1_next(hdr, buf, len, s + 1, end, ST_V1_SRC6);
    if (*s == '\r' && t->family == PP_AF_UNSPEC)
        return v1_next(hdr, buf, len, s + 1, end, ST_V1_LF);
    if (*s == ' ' && t->family == PP_AF_UNSPEC)
        return v1_next(hdr, buf, len, s + 1, end, ST_V1_REST);
    /* Any other byte after the token is an error. */
    return hdr_end_call(
        hdr, v1_field_end_error(PP_OK, s, end, ' ', PP_ERR_V1_FAMILY, 1), 0);
}

/* An IPv4 address in progress, read into ip; after it and its separator
 * the field of stage next. */
static PP_INLINE int v1_addr4_field(pp_header *hdr, const uint8_t *buf,
                                    size_t len, const uint8_t *p,
                                    const uint8_t *end, uint8_t ip[16],
                                    uint8_t next)
{
    int r = v1_ip4_address(hdr_state(hdr), &p, end, ip);

    if (r != 0)
        return v1_stop(hdr, buf, len, p, r);
    return v1_next(hdr, buf, len, p + 1, end, next);
}

/* The same for an IPv6 address. */
static PP_INLINE int v1_addr6_field(pp_header *hdr, const uint8_t *buf,
                                    size_t len, const uint8_t *p,
                                    const uint8_t *end, uint8_t ip[16],
                                    uint8_t next)
{
    v1_answer a = v1_ip6_address(p, end, ip);

    if (a.r != 0)
        return v1_stop(hdr, buf, len, p, a.r);
    return v1_next(hdr, buf, len, a.at + 1, end, next);
}

/* The source IPv4 address, then the destination address. */
static int v1_from_src4(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end)
{
    return v1_addr4_field(hdr, buf, len, p, end, hdr->src.ip, ST_V1_DST4);
}

/* The destination IPv4 address, then the source port. */
static int v1_from_dst4(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end)
{
    return v1_addr4_field(hdr, buf, len, p, end, hdr->dst.ip, ST_V1_SPORT);
}

/* The source IPv6 address, then the destination address. */
static int v1_from_src6(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end)
{
    return v1_addr6_field(hdr, buf, len, p, end, hdr->src.ip, ST_V1_DST6);
}

/* The destination IPv6 address, then the source port. */
static int v1_from_dst6(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end)
{
    return v1_addr6_field(hdr, buf, len, p, end, hdr->dst.ip, ST_V1_SPORT);
}

/* The source port, ended by a space. */
static int v1_from_sport(pp_header *hdr, const uint8_t *buf, size_t len,
                         const uint8_t *p, const uint8_t *end)
{
    int r = v1_port_field(hdr_state(hdr), &p, end, &hdr->src.port, ' ');

    if (r != 0)
        return v1_stop(hdr, buf, len, p, r);
    return v1_next(hdr, buf, len, p + 1, end, ST_V1_DPORT);
}

/* The destination port, ended by the CR. */
static int v1_from_dport(pp_header *hdr, const uint8_t *buf, size_t len,
                         const uint8_t *p, const uint8_t *end)
{
    int r = v1_port_field(hdr_state(hdr), &p, end, &hdr->dst.port, '\r');

    if (r != 0)
        return v1_stop(hdr, buf, len, p, r);
    return v1_next(hdr, buf, len, p + 1, end, ST_V1_LF);
}

/* UNKNOWN: the rest of the line up to its CR; p is where the search for
 * the CR goes on. */
static int v1_from_rest(pp_header *hdr, const uint8_t *buf, size_t len,
                        const uint8_t *p, const uint8_t *end)
{
    const uint8_t *s = p;
    int r = v1_unknown_rest(p, end, &s);

    if (r != 0)
        return v1_stop(hdr, buf, len, s, r);
    return v1_next(hdr, buf, len, s + 1, end, ST_V1_LF);
}

/* The LF after the CR: it may sit just past end (the CR came in time). */
static int v1_from_lf(pp_header *hdr, const uint8_t *buf, size_t len,
                      const uint8_t *p, const uint8_t *end)
{
    (void)end;
    if (p == buf + len) {
        hdr_state(hdr)->pos = (uint32_t)(p - buf);
        return hdr_end_call(hdr, PP_INCOMPLETE, 0);
    }
    if (*p != '\n')
        return hdr_end_call(hdr, PP_ERR_V1_CRLF, 0);
    return hdr_end_call(hdr, v1_result(hdr, hdr->family, (size_t)(p + 1 - buf)),
                        0);
}

/* A call after the first one that got past "PROXY ": on with the field in
 * progress. */
static PP_NOINLINE int v1_later_call(pp_header *hdr, const uint8_t *buf,
                                     size_t len)
{
    const hdr_progress *st = hdr_cstate(hdr);
    const uint8_t *p, *end;

    PP_ASSERT(st->stage >= ST_V1_SIG && st->stage <= ST_V1_LF);
    if (st->pos > len) /* none yet, or fewer bytes than before: misuse */
        return hdr_end_call(hdr, len == 0 ? PP_INCOMPLETE : PP_ERR_ARG, 0);
    p = buf + st->pos;
    end = buf + (len < st->cr_limit ? len : st->cr_limit);
    return v1_stage_fn[st->stage](hdr, buf, len, p, end);
}

/* A first call starting with 'P', by the resumable parser from byte 0:
 * "PROXY" then one space (stage ST_V1_SIG from here on), then the fields.
 * Every answer of the whole-line
 * path but its successes comes from here, so that any split of the bytes
 * gives the same answer. */
static PP_NOINLINE int v1_parse_from_start(pp_header *hdr, const uint8_t *buf,
                                           size_t len)
{
    hdr_progress *st = hdr_state(hdr);
    size_t limit = v1_max_line_len(hdr);

    PP_ASSERT(len >= 1);
    if (hdr_max_len_below(hdr->max_len, V1_MIN_LEN))
        return hdr_end_call(hdr, PP_ERR_TOO_LONG, 0);
    /* The CR must sit within the first limit - 1 bytes. */
    st->cr_limit = (uint8_t)(limit - 1);
    return v1_next(hdr, buf, len, buf,
                   buf + (len < limit - 1 ? len : limit - 1), ST_V1_SIG);
}

/* ---- the whole-line fast path ----------------------------------------- */

/* The length of a line whose last field stopped at s, when s is its CR,
 * the LF follows and the line is within the limit; else 0. */
static PP_INLINE size_t v1_line_len(const pp_header *hdr, const uint8_t *b,
                                    size_t len, const uint8_t *s)
{
    size_t cr = (size_t)(s - b); /* the line is cr + 2 bytes */

    /* Over v1_max_line_len: over 107, or over a max_len (0 wraps around). */
    if (*s != '\r' || cr + 1 >= len || s[1] != '\n' || cr + 2 > PP_V1_MAX_LEN ||
        hdr->max_len - 1 < cr + 1)
        return 0;
    return cr + 2;
}

/* The length of a line whose destination address stopped at s, with both
 * ports and the line's end valid; else 0. */
static PP_INLINE size_t v1_ports_line_len(pp_header *hdr, const uint8_t *b,
                                          size_t len, const uint8_t *s,
                                          const uint8_t *stop)
{
    if (*s != ' ' ||
        v1_port(s + 1, 0, 0, stop, &hdr->src.port, &s, 0) != PP_OK ||
        *s != ' ' || v1_port(s + 1, 0, 0, stop, &hdr->dst.port, &s, 0) != PP_OK)
        return 0;
    return v1_line_len(hdr, b, len, s);
}

/* A first call with "PROXY TCP4 " and the whole line in: the fields
 * straight through with the unbounded parsers. stop is a CR or LF at or
 * before the line's end: every field parser reads a byte only after the
 * one before it continued the field, and CR and LF continue none, so none
 * reads past stop. Errors, and anything unusual, go to v1_parse_from_start. */
static PP_NOINLINE int v1_tcp4_line(pp_header *hdr, const uint8_t *b,
                                    size_t len, const uint8_t *stop)
{
    const uint8_t *s;
    size_t n;

    if (v1_ip4_parse(b + 11, stop, hdr->src.ip, &s, 0) != PP_OK || *s != ' ' ||
        v1_ip4_parse(s + 1, stop, hdr->dst.ip, &s, 0) != PP_OK ||
        (n = v1_ports_line_len(hdr, b, len, s, stop)) == 0)
        return v1_parse_from_start(hdr, b, len);
    return hdr_end_call(hdr, v1_result(hdr, PP_AF_INET, n), 0);
}

/* The same for "PROXY TCP6 ". */
static PP_NOINLINE int v1_tcp6_line(pp_header *hdr, const uint8_t *b,
                                    size_t len, const uint8_t *stop)
{
    const uint8_t *s;
    size_t n;

    if (v1_ip6_parse(b + 11, stop, hdr->src.ip, &s, 0) != PP_OK || *s != ' ' ||
        v1_ip6_parse(s + 1, stop, hdr->dst.ip, &s, 0) != PP_OK ||
        (n = v1_ports_line_len(hdr, b, len, s, stop)) == 0)
        return v1_parse_from_start(hdr, b, len);
    return hdr_end_call(hdr, v1_result(hdr, PP_AF_INET6, n), 0);
}

/* Whether p..cr is "UNKNOWN", alone or followed by a space and any bytes
 * but LF. */
static int v1_is_unknown_text(const uint8_t *p, const uint8_t *cr)
{
    if (cr - p < 7 || memcmp(p, "UNKNOWN", 7) != 0)
        return 0;
    p += 7;
    return p == cr || (*p == ' ' && memchr(p, '\n', (size_t)(cr - p)) == NULL);
}

/* The same for "PROXY UNKNOWN": up to the first CR, no LF before it. */
static PP_NOINLINE int v1_unknown_line(pp_header *hdr, const uint8_t *b,
                                       size_t len, const uint8_t *stop)
{
    size_t room = (size_t)(stop - b), limit = v1_max_line_len(hdr), n = 0;
    const uint8_t *cr = *stop == '\r'
        ? stop
        : (const uint8_t *)memchr(b, '\r', room < limit ? room : limit);

    if (cr != NULL && v1_is_unknown_text(b + 6, cr))
        n = v1_line_len(hdr, b, len, cr);
    if (n == 0)
        return v1_parse_from_start(hdr, b, len);
    return hdr_end_call(hdr, v1_result(hdr, PP_AF_UNSPEC, n), 0);
}

/* The whole line, bounded by stop, after "PROXY TC" (tcp) or "PROXY UN". */
static PP_INLINE int v1_line(pp_header *hdr, const uint8_t *b, size_t len,
                             const uint8_t *stop, int tcp)
{
    if (!tcp)
        return v1_unknown_line(hdr, b, len, stop);
    /* len >= V1_MIN_LEN: bytes 8..10 are in. Once they read "P4 " or
     * "P6 ", stop (a CR or LF) lies after them, beyond the address start. */
    if (b[8] == 'P') {
        if (same2(b + 9, "4 "))
            return v1_tcp4_line(hdr, b, len, stop);
        if (same2(b + 9, "6 "))
            return v1_tcp6_line(hdr, b, len, stop);
    }
    return v1_parse_from_start(hdr, b, len);
}

/* The whole line bounded by the first CR within the limit, if there is
 * one. Out of line: the memchr call would cost v1_first_call a stack
 * frame. */
static PP_NOINLINE int v1_line_to_cr(pp_header *hdr, const uint8_t *b,
                                     size_t len, int tcp)
{
    size_t limit = v1_max_line_len(hdr);
    const uint8_t *cr =
        (const uint8_t *)memchr(b, '\r', len < limit ? len : limit);

    if (cr == NULL)
        return v1_parse_from_start(hdr, b, len);
    return v1_line(hdr, b, len, cr, tcp);
}

/* A first call starting with 'P', len >= V1_MIN_LEN. The usual case, the
 * whole line in, goes straight through (v1_line), bounded by the last byte
 * when that is the LF (a read of exactly the header), else by the first
 * CR. "PROXY TC" and "PROXY UN" are one word each. */
static PP_NOINLINE int v1_first_call(pp_header *hdr, const uint8_t *b,
                                     size_t len)
{
    int tcp;

    if ((hdr->flags & PP_F_NO_V1) != 0)
        return v1_parse_from_start(hdr, b, len);
    if (same8(b, "PROXY TC"))
        tcp = 1;
    else if (same8(b, "PROXY UN"))
        tcp = 0;
    else
        return v1_parse_from_start(hdr, b, len);
    if (b[len - 1] == '\n')
        return v1_line(hdr, b, len, b + len - 1, tcp);
    return v1_line_to_cr(hdr, b, len, tcp);
}

/* ======================================================================
 * 3. v2 and TLVs; pp_parse
 * ==================================================================== */

/* The address block length of a valid family/transport byte (0x00, or
 * family 1..3 with transport 1..2), -1 for any other byte. */
static int v2_block_len(uint8_t fam)
{
    switch (fam) {
    case 0x00:
        return 0;
    case 0x11:
    case 0x12:
        return 12;
    case 0x21:
    case 0x22:
        return 36;
    case 0x31:
    case 0x32:
        return 216;
    default:
        return -1;
    }
}

/* The error byte 12 proves (version 2 is checked first, then the command
 * LOCAL or PROXY), or 0. */
static int v2_version_command_error(uint8_t b)
{
    if ((unsigned)b - 0x20 <= PP_CMD_PROXY)
        return 0; /* 0x20 or 0x21: the only valid values */
    return (b >> 4) != 2 ? PP_ERR_V2_VERSION : PP_ERR_V2_COMMAND;
}

/* Fewer than the 16 fixed bytes: the error they prove, or PP_INCOMPLETE.
 * The same checks as v2_fixed_total, each as soon as its byte is in. */
static int v2_fixed_prefix_status(const pp_header *hdr, const uint8_t *buf,
                                  size_t len)
{
    int r;

    if (!prefix_eq(buf, v2_sig, len < 12 ? len : 12))
        return PP_ERR_NOT_PROXY;
    if (len < 12)
        return PP_INCOMPLETE;
    if (hdr->flags & PP_F_NO_V2)
        return PP_ERR_VERSION_DISABLED;
    if (len < 13)
        return PP_INCOMPLETE;
    r = v2_version_command_error(buf[12]);
    if (r != 0)
        return r;
    if (len >= 14 && v2_block_len(buf[13]) < 0)
        return PP_ERR_V2_FAMILY;
    return PP_INCOMPLETE;
}

/* The 16 fixed bytes, all in, the signature already checked: the rest in
 * the order v2_fixed_prefix_status uses, then the length. Returns the
 * header length 16 + L, or an error; *tlv_at gets the offset of the TLV
 * region (a LOCAL block too short for its family is skipped unexamined). */
static PP_INLINE int v2_fixed_total(const pp_header *hdr, const uint8_t *buf,
                                    uint32_t *tlv_at)
{
    uint8_t cmd = buf[12];
    uint32_t addr_len = load_be16(buf + 14), total = 16 + addr_len;
    int r, block;

    if (hdr->flags & PP_F_NO_V2)
        return PP_ERR_VERSION_DISABLED;
    r = v2_version_command_error(cmd);
    if (r != 0)
        return r;
    block = v2_block_len(buf[13]);
    if (block < 0)
        return PP_ERR_V2_FAMILY;
    if ((cmd & 0xF) == PP_CMD_PROXY && addr_len < (uint32_t)block)
        return PP_ERR_V2_ADDR_LEN;
    if (hdr->max_len != 0 && total > hdr->max_len)
        return PP_ERR_TOO_LONG;
    *tlv_at = addr_len >= (uint32_t)block ? 16 + (uint32_t)block : total;
    return (int)total;
}

/* Where the TLVs of a valid header start, as v2_fixed_total works it
 * out. */
static uint32_t v2_tlv_start(const uint8_t *buf)
{
    uint32_t addr_len = load_be16(buf + 14);
    uint32_t block = (uint32_t)v2_block_len(buf[13]);

    return addr_len >= block ? 16 + block : 16 + addr_len;
}

/* Whether the sub-TLVs of a whole SSL TLV value (len >= 5) tile it after
 * its client and verify fields. */
static int v2_ssl_is_tiled(const uint8_t *v, uint32_t len)
{
    uint32_t pos = 5;

    while (pos < len) {
        if (len - pos < 3)
            return 0;
        pos += 3 + (uint32_t)load_be16(v + pos + 1);
    }
    return pos == len;
}

/* The error a TLV's header alone proves, or 0; its value starts at offset
 * at, *crc_at is the offset of the CRC32C value seen so far (0: none). The
 * writer refuses what this refuses. */
static int v2_tlv_header_error(uint32_t *crc_at, uint8_t type, uint32_t vlen,
                               uint32_t at)
{
    switch (type) {
    case PP_TLV_CRC32C:
        if (vlen != 4 || (*crc_at != 0 && *crc_at != at))
            return PP_ERR_TLV_CRC32C;
        *crc_at = at;
        return 0;
    case PP_TLV_UNIQUE_ID:
        return vlen > PP_UNIQUE_ID_MAX ? PP_ERR_TLV_UNIQUE_ID : 0;
    case PP_TLV_SSL:
        return vlen < 5 ? PP_ERR_TLV_SSL : 0;
    default:
        return 0;
    }
}

static int v2_crc_matches(const uint8_t *buf, uint32_t total, uint32_t at)
{
    return crc_gap(buf, total, at) == load_be32(buf + at);
}

static void v2_unix_addr(pp_addr *a, const uint8_t *field)
{
    const uint8_t *nul = (const uint8_t *)memchr(field, 0, PP_UNIX_PATH_LEN);
    a->unix_raw = field;
    a->path = (const char *)field;
    a->path_len = nul ? (size_t)(nul - field) : PP_UNIX_PATH_LEN;
}

/* Out of line, and a tail call of v2_done: the memchr calls stay off
 * the INET/INET6 path. Returns total. */
static PP_NOINLINE int v2_unix_addrs(pp_header *hdr, const uint8_t *buf,
                                     uint32_t total)
{
    v2_unix_addr(&hdr->src, buf + 16);
    v2_unix_addr(&hdr->dst, buf + 16 + PP_UNIX_PATH_LEN);
    return (int)total;
}

/* A whole valid v2 header of total bytes, its TLVs from tlv_at: the call
 * ends with this length, and the result is written, by this function
 * only. Returns total. The wire bytes are read into locals first: stores
 * into *hdr may alias buf. */
static PP_INLINE int v2_done(pp_header *hdr, const uint8_t *buf, uint32_t total,
                             uint32_t tlv_at)
{
    uint8_t cmd = buf[12] & 0xF, fam = buf[13];

    PP_ASSERT(tlv_at >= 16 && tlv_at <= total);
    hdr_end_call(hdr, (int)total, 0);
    if (tlv_at < total) {
        hdr->tlvs = buf + tlv_at;
        hdr->tlvs_len = total - tlv_at;
    }
    hdr->version = 2;
    hdr->command = cmd;
    hdr->family = fam >> 4;
    hdr->transport = fam & 0xF;
    if (cmd != PP_CMD_PROXY)
        return (int)total;
    if (fam >> 4 == PP_AF_INET6) {
        memcpy(hdr->src.ip, buf + 16, 16);
        memcpy(hdr->dst.ip, buf + 32, 16);
        hdr->src.port = load_be16(buf + 48);
        hdr->dst.port = load_be16(buf + 50);
    } else if (fam >> 4 == PP_AF_INET) {
        memcpy(hdr->src.ip, buf + 16, 4);
        memcpy(hdr->dst.ip, buf + 20, 4);
        hdr->src.port = load_be16(buf + 24);
        hdr->dst.port = load_be16(buf + 26);
    } else if (fam >> 4 == PP_AF_UNIX) {
        return v2_unix_addrs(hdr, buf, total);
    }
    return (int)total;
}

/* All TLVs passed and the header is whole: the CRC32C, then the
 * result. */
static PP_NOINLINE int v2_finish(pp_header *hdr, const uint8_t *buf)
{
    const hdr_progress *st = hdr_state(hdr);

    if (st->crc_at != 0 && !v2_crc_matches(buf, st->total, st->crc_at))
        return hdr_end_call(hdr, PP_ERR_CRC32C_MISMATCH, 0);
    return v2_done(hdr, buf, st->total, st->tlv_at);
}

/* The bytes ran out: resume at pos; until len reaches wake no call can
 * learn anything. */
static PP_INLINE int v2_wait(pp_header *hdr, uint32_t pos, size_t wake)
{
    hdr_state(hdr)->pos = pos;
    return hdr_end_call(hdr, PP_INCOMPLETE, wake);
}

/* The TLV stage: the TLVs whose bytes have arrived, from st->pos on, then
 * the CRC32C and the result. An SSL TLV is checked again when its value
 * is whole; other TLVs need their header only, so each is looked at once.
 * Each TLV checks that the one after it is not 1 or 2 bytes short
 * (v2_first_call checks the first). pos is the end of the TLV whose
 * header was just read. */
static PP_NOINLINE int v2_tlv_stage(pp_header *hdr, const uint8_t *buf,
                                    size_t len)
{
    hdr_progress *st = hdr_state(hdr);
    uint32_t pos = st->pos, total = st->total;

    PP_ASSERT(st->stage == ST_V2_TLVS && total >= 16 && pos <= total);
    PP_ASSERT(len == 0 || buf != NULL);
    while (pos < total) {
        uint32_t vlen, start = pos;
        uint8_t type;
        int r;

        if (len < (size_t)pos + 3)
            return v2_wait(hdr, pos, pos + 3);
        type = buf[pos];
        vlen = load_be16(buf + pos + 1);
        pos += 3 + vlen;
        if (pos > total)
            return hdr_end_call(hdr, PP_ERR_TLV_TRUNCATED, 0);
        r = v2_tlv_header_error(&st->crc_at, type, vlen, start + 3);
        if (r != 0)
            return hdr_end_call(hdr, r, 0);
        /* 1 or 2 bytes after this TLV: known now (0 wraps around). */
        if (total - pos - 1 < 2)
            return hdr_end_call(hdr, PP_ERR_TLV_TRUNCATED, 0);
        if (type == PP_TLV_SSL) {
            if (len < pos)
                return v2_wait(hdr, start, pos);
            if (!v2_ssl_is_tiled(buf + start + 3, vlen))
                return hdr_end_call(hdr, PP_ERR_TLV_SSL, 0);
        }
    }
    if (len < total)
        return v2_wait(hdr, pos, total);
    return v2_finish(hdr, buf);
}

/* The TLV stage begins at tlv_at of a header of total bytes. */
static PP_NOINLINE int v2_tlvs_begin(pp_header *hdr, const uint8_t *buf,
                                     size_t len, uint32_t total,
                                     uint32_t tlv_at)
{
    hdr_progress *st = hdr_state(hdr);

    /* 1 or 2 bytes where the first TLV header would start can never hold
     * one; the TLV stage checks this for the TLVs after each one. */
    st->total = total; /* pp_expected_len from now on, errors included */
    if (total - tlv_at - 1 < 2)
        return hdr_end_call(hdr, PP_ERR_TLV_TRUNCATED, 0);
    st->pos = tlv_at;
    st->tlv_at = tlv_at;
    st->stage = ST_V2_TLVS;
    return v2_tlv_stage(hdr, buf, len);
}

/* A first call with the 16 fixed bytes in, starting with the signature.
 * A header without TLVs that is all in is done at once; any other goes to
 * the TLV stage, which it may then finish in the same call. */
static PP_NOINLINE int v2_first_call(pp_header *hdr, const uint8_t *b,
                                     size_t len)
{
    uint32_t tlv_at = 0;
    int total;

    /* A max_len below the shortest header is too long at byte 1. */
    if (hdr_max_len_below(hdr->max_len, 16))
        return hdr_end_call(hdr, PP_ERR_TOO_LONG, 0);
    total = v2_fixed_total(hdr, b, &tlv_at);
    if (total < 0)
        return hdr_end_call(hdr, total, 0);
    if (tlv_at == (uint32_t)total && len >= (size_t)total)
        return v2_done(hdr, b, tlv_at, tlv_at);
    return v2_tlvs_begin(hdr, b, len, (uint32_t)total, tlv_at);
}

/* Bytes 8..15 of the common v2 header for each family byte: the last 4
 * bytes of the signature, version 2 with the PROXY command bit (a LOCAL
 * header is compared with the bit set), the family, and a length of
 * exactly the family's address block, so no TLVs. UNSPEC, INET and INET6
 * only; all zero, never matched, for the other bytes. */
#define V2_PLAIN(fam, block)                                                   \
    [fam] = {0x55, 0x49, 0x54, 0x0A, 0x21, fam, 0, block}
static const uint8_t v2_plain_tail[256][8] = {
    V2_PLAIN(0x00, 0), V2_PLAIN(0x11, 12), V2_PLAIN(0x12, 12),
    V2_PLAIN(0x21, 36), V2_PLAIN(0x22, 36)};
#undef V2_PLAIN

/* The length of the common v2 header at a first call whose first 8 bytes
 * are those of the signature, or 0: the rest of the signature, the whole
 * header in, without TLVs, LOCAL or PROXY over UNSPEC, INET or INET6, the
 * settings allowing it. Such a header passes all of v2_fixed_total's
 * checks, decided here with one compare of bytes 8..15; 0 leaves the
 * decision to the general path. */
static PP_INLINE size_t v2_plain_len(const pp_header *hdr, const uint8_t *b,
                                     size_t len)
{
    static const uint8_t cmd_bit[8] = {0, 0, 0, 0, PP_CMD_PROXY, 0, 0, 0};
    uint64_t got, want, bit;
    size_t total = 16u + (size_t)b[15];

    /* Same-order loads on both sides: endian-neutral. */
    memcpy(&got, b + 8, 8);
    memcpy(&want, v2_plain_tail[b[13]], 8);
    memcpy(&bit, cmd_bit, 8);
    if ((got | bit) != want || (hdr->flags & PP_F_NO_V2) != 0 ||
        hdr_max_len_below(hdr->max_len, total) || len < total)
        return 0;
    return total;
}

/* A first call (stage ST_START) that is not a v2 header with its fixed
 * part in. A 'P' starts a v1 line, which leaves this stage at once; for
 * v2, each call starts again from byte 0 until the fixed part is all
 * in. */
static PP_NOINLINE int hdr_first_call(pp_header *hdr, const uint8_t *b,
                                      size_t len)
{
    if (len >= V1_MIN_LEN && b[0] == 'P')
        return v1_first_call(hdr, b, len);
    if (len == 0)
        return hdr_end_call(hdr, PP_INCOMPLETE, 0);
    if (b[0] == 'P')
        return v1_parse_from_start(hdr, b, len);
    if (b[0] != '\r')
        return hdr_end_call(hdr, PP_ERR_NOT_PROXY, 0);
    if (hdr_max_len_below(hdr->max_len, 16))
        return hdr_end_call(hdr, PP_ERR_TOO_LONG, 0);
    if (len < 16)
        return hdr_end_call(hdr, v2_fixed_prefix_status(hdr, b, len), 0);
    return hdr_end_call(hdr, PP_ERR_NOT_PROXY, 0); /* signature differs */
}

/* A call after a finished result: the same answer, the state unchanged.
 * After a success the buffer may have moved: the views point into this
 * one (v2_done ends the call again with the same length). */
static PP_NOINLINE int hdr_repeat_result(pp_header *hdr, const uint8_t *b,
                                         size_t len)
{
    const hdr_progress *st = hdr_cstate(hdr);

    if (st->stage == ST_FAILED)
        return st->result;
    if (hdr->version == 2 && b != NULL && len >= hdr->length)
        return v2_done(hdr, b, (uint32_t)hdr->length, v2_tlv_start(b));
    return (int)hdr->length;
}

/* A call after the first one that got past ST_START and v1. */
static PP_NOINLINE int hdr_later_call(pp_header *hdr, const uint8_t *b,
                                      size_t len)
{
    const hdr_progress *st = hdr_cstate(hdr);

    if (st->stage == ST_V2_TLVS)
        return v2_tlv_stage(hdr, b, len);
    if (st->stage == ST_DONE || st->stage == ST_FAILED)
        return hdr_repeat_result(hdr, b, len);
    return hdr_end_call(hdr, PP_ERR_ARG, 0); /* corrupted state */
}

int pp_parse(pp_header *hdr, const void *buf, size_t len)
{
    const uint8_t *b = (const uint8_t *)buf;
    const hdr_progress *st = hdr_cstate(hdr);

    if (st->stage == ST_START) {
        if (len >= 16 && same8(b, v2_sig)) {
            size_t n = v2_plain_len(hdr, b, len);
            if (n != 0)
                return v2_done(hdr, b, (uint32_t)n, (uint32_t)n);
            if (memcmp(b + 8, v2_sig + 8, 4) == 0)
                return v2_first_call(hdr, b, len);
        }
        return hdr_first_call(hdr, b, len);
    }
    /* A v1 line goes on with its field (wake is 0 outside the v2 TLV
     * stage). */
    if (st->stage <= ST_V1_LF)
        return v1_later_call(hdr, b, len);
    /* Below wake the new bytes cannot decide anything: answered at once,
     * the state unchanged (once a byte when a header is fed byte by
     * byte). */
    if (len < st->wake)
        return PP_INCOMPLETE;
    return hdr_later_call(hdr, b, len);
}

/* total is set once a v2 fixed part was accepted (and kept after a later
 * error); v1 never sets it. */
size_t pp_expected_len(const pp_header *hdr)
{
    const hdr_progress *st = hdr_cstate(hdr);

    if (st->stage == ST_DONE)
        return hdr->length;
    return st->total;
}

int pp_has_addresses(const pp_header *hdr)
{
    /* The parser sets command only with the final result, and a zeroed
     * header's command is PP_CMD_LOCAL: an unfinished parse says 0. */
    return hdr->command == PP_CMD_PROXY &&
        (hdr->family == PP_AF_INET || hdr->family == PP_AF_INET6 ||
         hdr->family == PP_AF_UNIX);
}

/* TLV iteration: over a block pp_parse validated, or any bytes. */

void pp_tlv_iter_init(pp_tlv_iter *it, const pp_header *hdr)
{
    it->next = hdr->tlvs;
    it->end = hdr->tlvs ? hdr->tlvs + hdr->tlvs_len : NULL;
}

void pp_ssl_iter_init(pp_tlv_iter *it, const pp_tlv *ssl)
{
    if (ssl == NULL || ssl->type != PP_TLV_SSL || ssl->len < 5) {
        it->next = it->end = NULL;
        return;
    }
    it->next = ssl->value + 5;
    it->end = ssl->value + ssl->len;
}

int pp_tlv_next(pp_tlv_iter *it, pp_tlv *tlv)
{
    size_t left;

    if (it->next == NULL || it->next >= it->end)
        return 0;
    left = (size_t)(it->end - it->next);
    if (left < 3 || (size_t)load_be16(it->next + 1) > left - 3) {
        it->next = it->end;
        return 0;
    }
    tlv->type = it->next[0];
    tlv->len = load_be16(it->next + 1);
    tlv->value = it->next + 3;
    it->next += 3 + (size_t)tlv->len;
    return 1;
}

int pp_tlv_find(const pp_header *hdr, uint8_t type, pp_tlv *tlv)
{
    pp_tlv_iter it;

    pp_tlv_iter_init(&it, hdr);
    while (pp_tlv_next(&it, tlv))
        if (tlv->type == type)
            return 1;
    return 0;
}

/* ======================================================================
 * 4. Typed TLV accessors
 * ==================================================================== */

static int tlv_find_bytes(const pp_header *hdr, uint8_t type, pp_bytes *out)
{
    pp_tlv t;

    if (!pp_tlv_find(hdr, type, &t))
        return 0;
    out->ptr = t.value;
    out->len = t.len;
    return 1;
}

int pp_alpn(const pp_header *hdr, pp_bytes *out)
{
    return tlv_find_bytes(hdr, PP_TLV_ALPN, out);
}

int pp_authority(const pp_header *hdr, pp_bytes *out)
{
    return tlv_find_bytes(hdr, PP_TLV_AUTHORITY, out);
}

int pp_unique_id(const pp_header *hdr, pp_bytes *out)
{
    return tlv_find_bytes(hdr, PP_TLV_UNIQUE_ID, out);
}

int pp_netns(const pp_header *hdr, pp_bytes *out)
{
    return tlv_find_bytes(hdr, PP_TLV_NETNS, out);
}

/* Where each known SSL sub-TLV goes in pp_ssl_info; NULL for others. */
static pp_bytes *tlv_ssl_field(pp_ssl_info *info, uint8_t type)
{
    switch (type) {
    case PP_SSL_VERSION:
        return &info->version;
    case PP_SSL_CN:
        return &info->cn;
    case PP_SSL_CIPHER:
        return &info->cipher;
    case PP_SSL_SIG_ALG:
        return &info->sig_alg;
    case PP_SSL_KEY_ALG:
        return &info->key_alg;
    case PP_SSL_GROUP:
        return &info->group;
    case PP_SSL_SIG_SCHEME:
        return &info->sig_scheme;
    case PP_SSL_CLIENT_CERT:
        return &info->client_cert;
    default:
        return NULL;
    }
}

int pp_ssl(const pp_header *hdr, pp_ssl_info *out)
{
    pp_tlv ssl, sub;
    pp_tlv_iter it;

    memset(out, 0, sizeof *out);
    if (!pp_tlv_find(hdr, PP_TLV_SSL, &ssl) || ssl.len < 5)
        return 0;
    out->client = ssl.value[0];
    out->verify = load_be32(ssl.value + 1);
    pp_ssl_iter_init(&it, &ssl);
    while (pp_tlv_next(&it, &sub)) {
        pp_bytes *f = tlv_ssl_field(out, sub.type);
        if (f != NULL && f->ptr == NULL) {
            f->ptr = sub.value;
            f->len = sub.len;
        }
    }
    return 1;
}

/* A cloud TLV: custom type, subtype byte, then the value. */
static int tlv_find_cloud(const pp_header *hdr, uint8_t type, pp_tlv *t)
{
    return pp_tlv_find(hdr, type, t) && t->len >= 1 && t->value[0] == 0x01;
}

int pp_aws_vpce_id(const pp_header *hdr, pp_bytes *out)
{
    pp_tlv t;

    if (!tlv_find_cloud(hdr, PP_TLV_AWS, &t) || t.len < 2)
        return 0;
    out->ptr = t.value + 1;
    out->len = (size_t)t.len - 1;
    return 1;
}

int pp_azure_linkid(const pp_header *hdr, uint32_t *out)
{
    pp_tlv t;

    if (!tlv_find_cloud(hdr, PP_TLV_AZURE, &t) || t.len != 5)
        return 0;
    *out = (uint32_t)t.value[1] | (uint32_t)t.value[2] << 8 |
        (uint32_t)t.value[3] << 16 | (uint32_t)t.value[4] << 24;
    return 1;
}

int pp_gcp_psc_id(const pp_header *hdr, uint64_t *out)
{
    pp_tlv t;

    if (!pp_tlv_find(hdr, PP_TLV_GCP, &t) || t.len != 8)
        return 0;
    *out = (uint64_t)load_be32(t.value) << 32 | load_be32(t.value + 4);
    return 1;
}

/* ======================================================================
 * 5. CRC32C (Castagnoli, reflected polynomial 0x82F63B78)
 * ==================================================================== */

/* Slicing-by-8 tables: crc_table[0] is the byte table, crc_table[k][i] is
 * crc_table[k-1][i] advanced by one zero byte. Checked by the unit tests
 * against a bitwise implementation. */
static const uint32_t crc_table[8][256] = {
    {
        0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
        0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
        0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
        0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
        0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
        0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
        0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
        0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
        0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
        0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
        0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
        0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
        0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
        0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
        0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
        0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
        0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
        0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
        0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
        0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
        0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
        0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
        0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
        0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
        0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
        0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
        0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
        0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
        0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
        0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
        0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
        0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
        0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
        0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
        0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
        0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
        0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
        0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
        0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
        0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
        0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
        0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
        0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
    },
    {
        0x00000000, 0x13a29877, 0x274530ee, 0x34e7a899, 0x4e8a61dc, 0x5d28f9ab,
        0x69cf5132, 0x7a6dc945, 0x9d14c3b8, 0x8eb65bcf, 0xba51f356, 0xa9f36b21,
        0xd39ea264, 0xc03c3a13, 0xf4db928a, 0xe7790afd, 0x3fc5f181, 0x2c6769f6,
        0x1880c16f, 0x0b225918, 0x714f905d, 0x62ed082a, 0x560aa0b3, 0x45a838c4,
        0xa2d13239, 0xb173aa4e, 0x859402d7, 0x96369aa0, 0xec5b53e5, 0xfff9cb92,
        0xcb1e630b, 0xd8bcfb7c, 0x7f8be302, 0x6c297b75, 0x58ced3ec, 0x4b6c4b9b,
        0x310182de, 0x22a31aa9, 0x1644b230, 0x05e62a47, 0xe29f20ba, 0xf13db8cd,
        0xc5da1054, 0xd6788823, 0xac154166, 0xbfb7d911, 0x8b507188, 0x98f2e9ff,
        0x404e1283, 0x53ec8af4, 0x670b226d, 0x74a9ba1a, 0x0ec4735f, 0x1d66eb28,
        0x298143b1, 0x3a23dbc6, 0xdd5ad13b, 0xcef8494c, 0xfa1fe1d5, 0xe9bd79a2,
        0x93d0b0e7, 0x80722890, 0xb4958009, 0xa737187e, 0xff17c604, 0xecb55e73,
        0xd852f6ea, 0xcbf06e9d, 0xb19da7d8, 0xa23f3faf, 0x96d89736, 0x857a0f41,
        0x620305bc, 0x71a19dcb, 0x45463552, 0x56e4ad25, 0x2c896460, 0x3f2bfc17,
        0x0bcc548e, 0x186eccf9, 0xc0d23785, 0xd370aff2, 0xe797076b, 0xf4359f1c,
        0x8e585659, 0x9dface2e, 0xa91d66b7, 0xbabffec0, 0x5dc6f43d, 0x4e646c4a,
        0x7a83c4d3, 0x69215ca4, 0x134c95e1, 0x00ee0d96, 0x3409a50f, 0x27ab3d78,
        0x809c2506, 0x933ebd71, 0xa7d915e8, 0xb47b8d9f, 0xce1644da, 0xddb4dcad,
        0xe9537434, 0xfaf1ec43, 0x1d88e6be, 0x0e2a7ec9, 0x3acdd650, 0x296f4e27,
        0x53028762, 0x40a01f15, 0x7447b78c, 0x67e52ffb, 0xbf59d487, 0xacfb4cf0,
        0x981ce469, 0x8bbe7c1e, 0xf1d3b55b, 0xe2712d2c, 0xd69685b5, 0xc5341dc2,
        0x224d173f, 0x31ef8f48, 0x050827d1, 0x16aabfa6, 0x6cc776e3, 0x7f65ee94,
        0x4b82460d, 0x5820de7a, 0xfbc3faf9, 0xe861628e, 0xdc86ca17, 0xcf245260,
        0xb5499b25, 0xa6eb0352, 0x920cabcb, 0x81ae33bc, 0x66d73941, 0x7575a136,
        0x419209af, 0x523091d8, 0x285d589d, 0x3bffc0ea, 0x0f186873, 0x1cbaf004,
        0xc4060b78, 0xd7a4930f, 0xe3433b96, 0xf0e1a3e1, 0x8a8c6aa4, 0x992ef2d3,
        0xadc95a4a, 0xbe6bc23d, 0x5912c8c0, 0x4ab050b7, 0x7e57f82e, 0x6df56059,
        0x1798a91c, 0x043a316b, 0x30dd99f2, 0x237f0185, 0x844819fb, 0x97ea818c,
        0xa30d2915, 0xb0afb162, 0xcac27827, 0xd960e050, 0xed8748c9, 0xfe25d0be,
        0x195cda43, 0x0afe4234, 0x3e19eaad, 0x2dbb72da, 0x57d6bb9f, 0x447423e8,
        0x70938b71, 0x63311306, 0xbb8de87a, 0xa82f700d, 0x9cc8d894, 0x8f6a40e3,
        0xf50789a6, 0xe6a511d1, 0xd242b948, 0xc1e0213f, 0x26992bc2, 0x353bb3b5,
        0x01dc1b2c, 0x127e835b, 0x68134a1e, 0x7bb1d269, 0x4f567af0, 0x5cf4e287,
        0x04d43cfd, 0x1776a48a, 0x23910c13, 0x30339464, 0x4a5e5d21, 0x59fcc556,
        0x6d1b6dcf, 0x7eb9f5b8, 0x99c0ff45, 0x8a626732, 0xbe85cfab, 0xad2757dc,
        0xd74a9e99, 0xc4e806ee, 0xf00fae77, 0xe3ad3600, 0x3b11cd7c, 0x28b3550b,
        0x1c54fd92, 0x0ff665e5, 0x759baca0, 0x663934d7, 0x52de9c4e, 0x417c0439,
        0xa6050ec4, 0xb5a796b3, 0x81403e2a, 0x92e2a65d, 0xe88f6f18, 0xfb2df76f,
        0xcfca5ff6, 0xdc68c781, 0x7b5fdfff, 0x68fd4788, 0x5c1aef11, 0x4fb87766,
        0x35d5be23, 0x26772654, 0x12908ecd, 0x013216ba, 0xe64b1c47, 0xf5e98430,
        0xc10e2ca9, 0xd2acb4de, 0xa8c17d9b, 0xbb63e5ec, 0x8f844d75, 0x9c26d502,
        0x449a2e7e, 0x5738b609, 0x63df1e90, 0x707d86e7, 0x0a104fa2, 0x19b2d7d5,
        0x2d557f4c, 0x3ef7e73b, 0xd98eedc6, 0xca2c75b1, 0xfecbdd28, 0xed69455f,
        0x97048c1a, 0x84a6146d, 0xb041bcf4, 0xa3e32483,
    },
    {
        0x00000000, 0xa541927e, 0x4f6f520d, 0xea2ec073, 0x9edea41a, 0x3b9f3664,
        0xd1b1f617, 0x74f06469, 0x38513ec5, 0x9d10acbb, 0x773e6cc8, 0xd27ffeb6,
        0xa68f9adf, 0x03ce08a1, 0xe9e0c8d2, 0x4ca15aac, 0x70a27d8a, 0xd5e3eff4,
        0x3fcd2f87, 0x9a8cbdf9, 0xee7cd990, 0x4b3d4bee, 0xa1138b9d, 0x045219e3,
        0x48f3434f, 0xedb2d131, 0x079c1142, 0xa2dd833c, 0xd62de755, 0x736c752b,
        0x9942b558, 0x3c032726, 0xe144fb14, 0x4405696a, 0xae2ba919, 0x0b6a3b67,
        0x7f9a5f0e, 0xdadbcd70, 0x30f50d03, 0x95b49f7d, 0xd915c5d1, 0x7c5457af,
        0x967a97dc, 0x333b05a2, 0x47cb61cb, 0xe28af3b5, 0x08a433c6, 0xade5a1b8,
        0x91e6869e, 0x34a714e0, 0xde89d493, 0x7bc846ed, 0x0f382284, 0xaa79b0fa,
        0x40577089, 0xe516e2f7, 0xa9b7b85b, 0x0cf62a25, 0xe6d8ea56, 0x43997828,
        0x37691c41, 0x92288e3f, 0x78064e4c, 0xdd47dc32, 0xc76580d9, 0x622412a7,
        0x880ad2d4, 0x2d4b40aa, 0x59bb24c3, 0xfcfab6bd, 0x16d476ce, 0xb395e4b0,
        0xff34be1c, 0x5a752c62, 0xb05bec11, 0x151a7e6f, 0x61ea1a06, 0xc4ab8878,
        0x2e85480b, 0x8bc4da75, 0xb7c7fd53, 0x12866f2d, 0xf8a8af5e, 0x5de93d20,
        0x29195949, 0x8c58cb37, 0x66760b44, 0xc337993a, 0x8f96c396, 0x2ad751e8,
        0xc0f9919b, 0x65b803e5, 0x1148678c, 0xb409f5f2, 0x5e273581, 0xfb66a7ff,
        0x26217bcd, 0x8360e9b3, 0x694e29c0, 0xcc0fbbbe, 0xb8ffdfd7, 0x1dbe4da9,
        0xf7908dda, 0x52d11fa4, 0x1e704508, 0xbb31d776, 0x511f1705, 0xf45e857b,
        0x80aee112, 0x25ef736c, 0xcfc1b31f, 0x6a802161, 0x56830647, 0xf3c29439,
        0x19ec544a, 0xbcadc634, 0xc85da25d, 0x6d1c3023, 0x8732f050, 0x2273622e,
        0x6ed23882, 0xcb93aafc, 0x21bd6a8f, 0x84fcf8f1, 0xf00c9c98, 0x554d0ee6,
        0xbf63ce95, 0x1a225ceb, 0x8b277743, 0x2e66e53d, 0xc448254e, 0x6109b730,
        0x15f9d359, 0xb0b84127, 0x5a968154, 0xffd7132a, 0xb3764986, 0x1637dbf8,
        0xfc191b8b, 0x595889f5, 0x2da8ed9c, 0x88e97fe2, 0x62c7bf91, 0xc7862def,
        0xfb850ac9, 0x5ec498b7, 0xb4ea58c4, 0x11abcaba, 0x655baed3, 0xc01a3cad,
        0x2a34fcde, 0x8f756ea0, 0xc3d4340c, 0x6695a672, 0x8cbb6601, 0x29faf47f,
        0x5d0a9016, 0xf84b0268, 0x1265c21b, 0xb7245065, 0x6a638c57, 0xcf221e29,
        0x250cde5a, 0x804d4c24, 0xf4bd284d, 0x51fcba33, 0xbbd27a40, 0x1e93e83e,
        0x5232b292, 0xf77320ec, 0x1d5de09f, 0xb81c72e1, 0xccec1688, 0x69ad84f6,
        0x83834485, 0x26c2d6fb, 0x1ac1f1dd, 0xbf8063a3, 0x55aea3d0, 0xf0ef31ae,
        0x841f55c7, 0x215ec7b9, 0xcb7007ca, 0x6e3195b4, 0x2290cf18, 0x87d15d66,
        0x6dff9d15, 0xc8be0f6b, 0xbc4e6b02, 0x190ff97c, 0xf321390f, 0x5660ab71,
        0x4c42f79a, 0xe90365e4, 0x032da597, 0xa66c37e9, 0xd29c5380, 0x77ddc1fe,
        0x9df3018d, 0x38b293f3, 0x7413c95f, 0xd1525b21, 0x3b7c9b52, 0x9e3d092c,
        0xeacd6d45, 0x4f8cff3b, 0xa5a23f48, 0x00e3ad36, 0x3ce08a10, 0x99a1186e,
        0x738fd81d, 0xd6ce4a63, 0xa23e2e0a, 0x077fbc74, 0xed517c07, 0x4810ee79,
        0x04b1b4d5, 0xa1f026ab, 0x4bdee6d8, 0xee9f74a6, 0x9a6f10cf, 0x3f2e82b1,
        0xd50042c2, 0x7041d0bc, 0xad060c8e, 0x08479ef0, 0xe2695e83, 0x4728ccfd,
        0x33d8a894, 0x96993aea, 0x7cb7fa99, 0xd9f668e7, 0x9557324b, 0x3016a035,
        0xda386046, 0x7f79f238, 0x0b899651, 0xaec8042f, 0x44e6c45c, 0xe1a75622,
        0xdda47104, 0x78e5e37a, 0x92cb2309, 0x378ab177, 0x437ad51e, 0xe63b4760,
        0x0c158713, 0xa954156d, 0xe5f54fc1, 0x40b4ddbf, 0xaa9a1dcc, 0x0fdb8fb2,
        0x7b2bebdb, 0xde6a79a5, 0x3444b9d6, 0x91052ba8,
    },
    {
        0x00000000, 0xdd45aab8, 0xbf672381, 0x62228939, 0x7b2231f3, 0xa6679b4b,
        0xc4451272, 0x1900b8ca, 0xf64463e6, 0x2b01c95e, 0x49234067, 0x9466eadf,
        0x8d665215, 0x5023f8ad, 0x32017194, 0xef44db2c, 0xe964b13d, 0x34211b85,
        0x560392bc, 0x8b463804, 0x924680ce, 0x4f032a76, 0x2d21a34f, 0xf06409f7,
        0x1f20d2db, 0xc2657863, 0xa047f15a, 0x7d025be2, 0x6402e328, 0xb9474990,
        0xdb65c0a9, 0x06206a11, 0xd725148b, 0x0a60be33, 0x6842370a, 0xb5079db2,
        0xac072578, 0x71428fc0, 0x136006f9, 0xce25ac41, 0x2161776d, 0xfc24ddd5,
        0x9e0654ec, 0x4343fe54, 0x5a43469e, 0x8706ec26, 0xe524651f, 0x3861cfa7,
        0x3e41a5b6, 0xe3040f0e, 0x81268637, 0x5c632c8f, 0x45639445, 0x98263efd,
        0xfa04b7c4, 0x27411d7c, 0xc805c650, 0x15406ce8, 0x7762e5d1, 0xaa274f69,
        0xb327f7a3, 0x6e625d1b, 0x0c40d422, 0xd1057e9a, 0xaba65fe7, 0x76e3f55f,
        0x14c17c66, 0xc984d6de, 0xd0846e14, 0x0dc1c4ac, 0x6fe34d95, 0xb2a6e72d,
        0x5de23c01, 0x80a796b9, 0xe2851f80, 0x3fc0b538, 0x26c00df2, 0xfb85a74a,
        0x99a72e73, 0x44e284cb, 0x42c2eeda, 0x9f874462, 0xfda5cd5b, 0x20e067e3,
        0x39e0df29, 0xe4a57591, 0x8687fca8, 0x5bc25610, 0xb4868d3c, 0x69c32784,
        0x0be1aebd, 0xd6a40405, 0xcfa4bccf, 0x12e11677, 0x70c39f4e, 0xad8635f6,
        0x7c834b6c, 0xa1c6e1d4, 0xc3e468ed, 0x1ea1c255, 0x07a17a9f, 0xdae4d027,
        0xb8c6591e, 0x6583f3a6, 0x8ac7288a, 0x57828232, 0x35a00b0b, 0xe8e5a1b3,
        0xf1e51979, 0x2ca0b3c1, 0x4e823af8, 0x93c79040, 0x95e7fa51, 0x48a250e9,
        0x2a80d9d0, 0xf7c57368, 0xeec5cba2, 0x3380611a, 0x51a2e823, 0x8ce7429b,
        0x63a399b7, 0xbee6330f, 0xdcc4ba36, 0x0181108e, 0x1881a844, 0xc5c402fc,
        0xa7e68bc5, 0x7aa3217d, 0x52a0c93f, 0x8fe56387, 0xedc7eabe, 0x30824006,
        0x2982f8cc, 0xf4c75274, 0x96e5db4d, 0x4ba071f5, 0xa4e4aad9, 0x79a10061,
        0x1b838958, 0xc6c623e0, 0xdfc69b2a, 0x02833192, 0x60a1b8ab, 0xbde41213,
        0xbbc47802, 0x6681d2ba, 0x04a35b83, 0xd9e6f13b, 0xc0e649f1, 0x1da3e349,
        0x7f816a70, 0xa2c4c0c8, 0x4d801be4, 0x90c5b15c, 0xf2e73865, 0x2fa292dd,
        0x36a22a17, 0xebe780af, 0x89c50996, 0x5480a32e, 0x8585ddb4, 0x58c0770c,
        0x3ae2fe35, 0xe7a7548d, 0xfea7ec47, 0x23e246ff, 0x41c0cfc6, 0x9c85657e,
        0x73c1be52, 0xae8414ea, 0xcca69dd3, 0x11e3376b, 0x08e38fa1, 0xd5a62519,
        0xb784ac20, 0x6ac10698, 0x6ce16c89, 0xb1a4c631, 0xd3864f08, 0x0ec3e5b0,
        0x17c35d7a, 0xca86f7c2, 0xa8a47efb, 0x75e1d443, 0x9aa50f6f, 0x47e0a5d7,
        0x25c22cee, 0xf8878656, 0xe1873e9c, 0x3cc29424, 0x5ee01d1d, 0x83a5b7a5,
        0xf90696d8, 0x24433c60, 0x4661b559, 0x9b241fe1, 0x8224a72b, 0x5f610d93,
        0x3d4384aa, 0xe0062e12, 0x0f42f53e, 0xd2075f86, 0xb025d6bf, 0x6d607c07,
        0x7460c4cd, 0xa9256e75, 0xcb07e74c, 0x16424df4, 0x106227e5, 0xcd278d5d,
        0xaf050464, 0x7240aedc, 0x6b401616, 0xb605bcae, 0xd4273597, 0x09629f2f,
        0xe6264403, 0x3b63eebb, 0x59416782, 0x8404cd3a, 0x9d0475f0, 0x4041df48,
        0x22635671, 0xff26fcc9, 0x2e238253, 0xf36628eb, 0x9144a1d2, 0x4c010b6a,
        0x5501b3a0, 0x88441918, 0xea669021, 0x37233a99, 0xd867e1b5, 0x05224b0d,
        0x6700c234, 0xba45688c, 0xa345d046, 0x7e007afe, 0x1c22f3c7, 0xc167597f,
        0xc747336e, 0x1a0299d6, 0x782010ef, 0xa565ba57, 0xbc65029d, 0x6120a825,
        0x0302211c, 0xde478ba4, 0x31035088, 0xec46fa30, 0x8e647309, 0x5321d9b1,
        0x4a21617b, 0x9764cbc3, 0xf54642fa, 0x2803e842,
    },
    {
        0x00000000, 0x38116fac, 0x7022df58, 0x4833b0f4, 0xe045beb0, 0xd854d11c,
        0x906761e8, 0xa8760e44, 0xc5670b91, 0xfd76643d, 0xb545d4c9, 0x8d54bb65,
        0x2522b521, 0x1d33da8d, 0x55006a79, 0x6d1105d5, 0x8f2261d3, 0xb7330e7f,
        0xff00be8b, 0xc711d127, 0x6f67df63, 0x5776b0cf, 0x1f45003b, 0x27546f97,
        0x4a456a42, 0x725405ee, 0x3a67b51a, 0x0276dab6, 0xaa00d4f2, 0x9211bb5e,
        0xda220baa, 0xe2336406, 0x1ba8b557, 0x23b9dafb, 0x6b8a6a0f, 0x539b05a3,
        0xfbed0be7, 0xc3fc644b, 0x8bcfd4bf, 0xb3debb13, 0xdecfbec6, 0xe6ded16a,
        0xaeed619e, 0x96fc0e32, 0x3e8a0076, 0x069b6fda, 0x4ea8df2e, 0x76b9b082,
        0x948ad484, 0xac9bbb28, 0xe4a80bdc, 0xdcb96470, 0x74cf6a34, 0x4cde0598,
        0x04edb56c, 0x3cfcdac0, 0x51eddf15, 0x69fcb0b9, 0x21cf004d, 0x19de6fe1,
        0xb1a861a5, 0x89b90e09, 0xc18abefd, 0xf99bd151, 0x37516aae, 0x0f400502,
        0x4773b5f6, 0x7f62da5a, 0xd714d41e, 0xef05bbb2, 0xa7360b46, 0x9f2764ea,
        0xf236613f, 0xca270e93, 0x8214be67, 0xba05d1cb, 0x1273df8f, 0x2a62b023,
        0x625100d7, 0x5a406f7b, 0xb8730b7d, 0x806264d1, 0xc851d425, 0xf040bb89,
        0x5836b5cd, 0x6027da61, 0x28146a95, 0x10050539, 0x7d1400ec, 0x45056f40,
        0x0d36dfb4, 0x3527b018, 0x9d51be5c, 0xa540d1f0, 0xed736104, 0xd5620ea8,
        0x2cf9dff9, 0x14e8b055, 0x5cdb00a1, 0x64ca6f0d, 0xccbc6149, 0xf4ad0ee5,
        0xbc9ebe11, 0x848fd1bd, 0xe99ed468, 0xd18fbbc4, 0x99bc0b30, 0xa1ad649c,
        0x09db6ad8, 0x31ca0574, 0x79f9b580, 0x41e8da2c, 0xa3dbbe2a, 0x9bcad186,
        0xd3f96172, 0xebe80ede, 0x439e009a, 0x7b8f6f36, 0x33bcdfc2, 0x0badb06e,
        0x66bcb5bb, 0x5eadda17, 0x169e6ae3, 0x2e8f054f, 0x86f90b0b, 0xbee864a7,
        0xf6dbd453, 0xcecabbff, 0x6ea2d55c, 0x56b3baf0, 0x1e800a04, 0x269165a8,
        0x8ee76bec, 0xb6f60440, 0xfec5b4b4, 0xc6d4db18, 0xabc5decd, 0x93d4b161,
        0xdbe70195, 0xe3f66e39, 0x4b80607d, 0x73910fd1, 0x3ba2bf25, 0x03b3d089,
        0xe180b48f, 0xd991db23, 0x91a26bd7, 0xa9b3047b, 0x01c50a3f, 0x39d46593,
        0x71e7d567, 0x49f6bacb, 0x24e7bf1e, 0x1cf6d0b2, 0x54c56046, 0x6cd40fea,
        0xc4a201ae, 0xfcb36e02, 0xb480def6, 0x8c91b15a, 0x750a600b, 0x4d1b0fa7,
        0x0528bf53, 0x3d39d0ff, 0x954fdebb, 0xad5eb117, 0xe56d01e3, 0xdd7c6e4f,
        0xb06d6b9a, 0x887c0436, 0xc04fb4c2, 0xf85edb6e, 0x5028d52a, 0x6839ba86,
        0x200a0a72, 0x181b65de, 0xfa2801d8, 0xc2396e74, 0x8a0ade80, 0xb21bb12c,
        0x1a6dbf68, 0x227cd0c4, 0x6a4f6030, 0x525e0f9c, 0x3f4f0a49, 0x075e65e5,
        0x4f6dd511, 0x777cbabd, 0xdf0ab4f9, 0xe71bdb55, 0xaf286ba1, 0x9739040d,
        0x59f3bff2, 0x61e2d05e, 0x29d160aa, 0x11c00f06, 0xb9b60142, 0x81a76eee,
        0xc994de1a, 0xf185b1b6, 0x9c94b463, 0xa485dbcf, 0xecb66b3b, 0xd4a70497,
        0x7cd10ad3, 0x44c0657f, 0x0cf3d58b, 0x34e2ba27, 0xd6d1de21, 0xeec0b18d,
        0xa6f30179, 0x9ee26ed5, 0x36946091, 0x0e850f3d, 0x46b6bfc9, 0x7ea7d065,
        0x13b6d5b0, 0x2ba7ba1c, 0x63940ae8, 0x5b856544, 0xf3f36b00, 0xcbe204ac,
        0x83d1b458, 0xbbc0dbf4, 0x425b0aa5, 0x7a4a6509, 0x3279d5fd, 0x0a68ba51,
        0xa21eb415, 0x9a0fdbb9, 0xd23c6b4d, 0xea2d04e1, 0x873c0134, 0xbf2d6e98,
        0xf71ede6c, 0xcf0fb1c0, 0x6779bf84, 0x5f68d028, 0x175b60dc, 0x2f4a0f70,
        0xcd796b76, 0xf56804da, 0xbd5bb42e, 0x854adb82, 0x2d3cd5c6, 0x152dba6a,
        0x5d1e0a9e, 0x650f6532, 0x081e60e7, 0x300f0f4b, 0x783cbfbf, 0x402dd013,
        0xe85bde57, 0xd04ab1fb, 0x9879010f, 0xa0686ea3,
    },
    {
        0x00000000, 0xef306b19, 0xdb8ca0c3, 0x34bccbda, 0xb2f53777, 0x5dc55c6e,
        0x697997b4, 0x8649fcad, 0x6006181f, 0x8f367306, 0xbb8ab8dc, 0x54bad3c5,
        0xd2f32f68, 0x3dc34471, 0x097f8fab, 0xe64fe4b2, 0xc00c303e, 0x2f3c5b27,
        0x1b8090fd, 0xf4b0fbe4, 0x72f90749, 0x9dc96c50, 0xa975a78a, 0x4645cc93,
        0xa00a2821, 0x4f3a4338, 0x7b8688e2, 0x94b6e3fb, 0x12ff1f56, 0xfdcf744f,
        0xc973bf95, 0x2643d48c, 0x85f4168d, 0x6ac47d94, 0x5e78b64e, 0xb148dd57,
        0x370121fa, 0xd8314ae3, 0xec8d8139, 0x03bdea20, 0xe5f20e92, 0x0ac2658b,
        0x3e7eae51, 0xd14ec548, 0x570739e5, 0xb83752fc, 0x8c8b9926, 0x63bbf23f,
        0x45f826b3, 0xaac84daa, 0x9e748670, 0x7144ed69, 0xf70d11c4, 0x183d7add,
        0x2c81b107, 0xc3b1da1e, 0x25fe3eac, 0xcace55b5, 0xfe729e6f, 0x1142f576,
        0x970b09db, 0x783b62c2, 0x4c87a918, 0xa3b7c201, 0x0e045beb, 0xe13430f2,
        0xd588fb28, 0x3ab89031, 0xbcf16c9c, 0x53c10785, 0x677dcc5f, 0x884da746,
        0x6e0243f4, 0x813228ed, 0xb58ee337, 0x5abe882e, 0xdcf77483, 0x33c71f9a,
        0x077bd440, 0xe84bbf59, 0xce086bd5, 0x213800cc, 0x1584cb16, 0xfab4a00f,
        0x7cfd5ca2, 0x93cd37bb, 0xa771fc61, 0x48419778, 0xae0e73ca, 0x413e18d3,
        0x7582d309, 0x9ab2b810, 0x1cfb44bd, 0xf3cb2fa4, 0xc777e47e, 0x28478f67,
        0x8bf04d66, 0x64c0267f, 0x507ceda5, 0xbf4c86bc, 0x39057a11, 0xd6351108,
        0xe289dad2, 0x0db9b1cb, 0xebf65579, 0x04c63e60, 0x307af5ba, 0xdf4a9ea3,
        0x5903620e, 0xb6330917, 0x828fc2cd, 0x6dbfa9d4, 0x4bfc7d58, 0xa4cc1641,
        0x9070dd9b, 0x7f40b682, 0xf9094a2f, 0x16392136, 0x2285eaec, 0xcdb581f5,
        0x2bfa6547, 0xc4ca0e5e, 0xf076c584, 0x1f46ae9d, 0x990f5230, 0x763f3929,
        0x4283f2f3, 0xadb399ea, 0x1c08b7d6, 0xf338dccf, 0xc7841715, 0x28b47c0c,
        0xaefd80a1, 0x41cdebb8, 0x75712062, 0x9a414b7b, 0x7c0eafc9, 0x933ec4d0,
        0xa7820f0a, 0x48b26413, 0xcefb98be, 0x21cbf3a7, 0x1577387d, 0xfa475364,
        0xdc0487e8, 0x3334ecf1, 0x0788272b, 0xe8b84c32, 0x6ef1b09f, 0x81c1db86,
        0xb57d105c, 0x5a4d7b45, 0xbc029ff7, 0x5332f4ee, 0x678e3f34, 0x88be542d,
        0x0ef7a880, 0xe1c7c399, 0xd57b0843, 0x3a4b635a, 0x99fca15b, 0x76ccca42,
        0x42700198, 0xad406a81, 0x2b09962c, 0xc439fd35, 0xf08536ef, 0x1fb55df6,
        0xf9fab944, 0x16cad25d, 0x22761987, 0xcd46729e, 0x4b0f8e33, 0xa43fe52a,
        0x90832ef0, 0x7fb345e9, 0x59f09165, 0xb6c0fa7c, 0x827c31a6, 0x6d4c5abf,
        0xeb05a612, 0x0435cd0b, 0x308906d1, 0xdfb96dc8, 0x39f6897a, 0xd6c6e263,
        0xe27a29b9, 0x0d4a42a0, 0x8b03be0d, 0x6433d514, 0x508f1ece, 0xbfbf75d7,
        0x120cec3d, 0xfd3c8724, 0xc9804cfe, 0x26b027e7, 0xa0f9db4a, 0x4fc9b053,
        0x7b757b89, 0x94451090, 0x720af422, 0x9d3a9f3b, 0xa98654e1, 0x46b63ff8,
        0xc0ffc355, 0x2fcfa84c, 0x1b736396, 0xf443088f, 0xd200dc03, 0x3d30b71a,
        0x098c7cc0, 0xe6bc17d9, 0x60f5eb74, 0x8fc5806d, 0xbb794bb7, 0x544920ae,
        0xb206c41c, 0x5d36af05, 0x698a64df, 0x86ba0fc6, 0x00f3f36b, 0xefc39872,
        0xdb7f53a8, 0x344f38b1, 0x97f8fab0, 0x78c891a9, 0x4c745a73, 0xa344316a,
        0x250dcdc7, 0xca3da6de, 0xfe816d04, 0x11b1061d, 0xf7fee2af, 0x18ce89b6,
        0x2c72426c, 0xc3422975, 0x450bd5d8, 0xaa3bbec1, 0x9e87751b, 0x71b71e02,
        0x57f4ca8e, 0xb8c4a197, 0x8c786a4d, 0x63480154, 0xe501fdf9, 0x0a3196e0,
        0x3e8d5d3a, 0xd1bd3623, 0x37f2d291, 0xd8c2b988, 0xec7e7252, 0x034e194b,
        0x8507e5e6, 0x6a378eff, 0x5e8b4525, 0xb1bb2e3c,
    },
    {
        0x00000000, 0x68032cc8, 0xd0065990, 0xb8057558, 0xa5e0c5d1, 0xcde3e919,
        0x75e69c41, 0x1de5b089, 0x4e2dfd53, 0x262ed19b, 0x9e2ba4c3, 0xf628880b,
        0xebcd3882, 0x83ce144a, 0x3bcb6112, 0x53c84dda, 0x9c5bfaa6, 0xf458d66e,
        0x4c5da336, 0x245e8ffe, 0x39bb3f77, 0x51b813bf, 0xe9bd66e7, 0x81be4a2f,
        0xd27607f5, 0xba752b3d, 0x02705e65, 0x6a7372ad, 0x7796c224, 0x1f95eeec,
        0xa7909bb4, 0xcf93b77c, 0x3d5b83bd, 0x5558af75, 0xed5dda2d, 0x855ef6e5,
        0x98bb466c, 0xf0b86aa4, 0x48bd1ffc, 0x20be3334, 0x73767eee, 0x1b755226,
        0xa370277e, 0xcb730bb6, 0xd696bb3f, 0xbe9597f7, 0x0690e2af, 0x6e93ce67,
        0xa100791b, 0xc90355d3, 0x7106208b, 0x19050c43, 0x04e0bcca, 0x6ce39002,
        0xd4e6e55a, 0xbce5c992, 0xef2d8448, 0x872ea880, 0x3f2bddd8, 0x5728f110,
        0x4acd4199, 0x22ce6d51, 0x9acb1809, 0xf2c834c1, 0x7ab7077a, 0x12b42bb2,
        0xaab15eea, 0xc2b27222, 0xdf57c2ab, 0xb754ee63, 0x0f519b3b, 0x6752b7f3,
        0x349afa29, 0x5c99d6e1, 0xe49ca3b9, 0x8c9f8f71, 0x917a3ff8, 0xf9791330,
        0x417c6668, 0x297f4aa0, 0xe6ecfddc, 0x8eefd114, 0x36eaa44c, 0x5ee98884,
        0x430c380d, 0x2b0f14c5, 0x930a619d, 0xfb094d55, 0xa8c1008f, 0xc0c22c47,
        0x78c7591f, 0x10c475d7, 0x0d21c55e, 0x6522e996, 0xdd279cce, 0xb524b006,
        0x47ec84c7, 0x2fefa80f, 0x97eadd57, 0xffe9f19f, 0xe20c4116, 0x8a0f6dde,
        0x320a1886, 0x5a09344e, 0x09c17994, 0x61c2555c, 0xd9c72004, 0xb1c40ccc,
        0xac21bc45, 0xc422908d, 0x7c27e5d5, 0x1424c91d, 0xdbb77e61, 0xb3b452a9,
        0x0bb127f1, 0x63b20b39, 0x7e57bbb0, 0x16549778, 0xae51e220, 0xc652cee8,
        0x959a8332, 0xfd99affa, 0x459cdaa2, 0x2d9ff66a, 0x307a46e3, 0x58796a2b,
        0xe07c1f73, 0x887f33bb, 0xf56e0ef4, 0x9d6d223c, 0x25685764, 0x4d6b7bac,
        0x508ecb25, 0x388de7ed, 0x808892b5, 0xe88bbe7d, 0xbb43f3a7, 0xd340df6f,
        0x6b45aa37, 0x034686ff, 0x1ea33676, 0x76a01abe, 0xcea56fe6, 0xa6a6432e,
        0x6935f452, 0x0136d89a, 0xb933adc2, 0xd130810a, 0xccd53183, 0xa4d61d4b,
        0x1cd36813, 0x74d044db, 0x27180901, 0x4f1b25c9, 0xf71e5091, 0x9f1d7c59,
        0x82f8ccd0, 0xeafbe018, 0x52fe9540, 0x3afdb988, 0xc8358d49, 0xa036a181,
        0x1833d4d9, 0x7030f811, 0x6dd54898, 0x05d66450, 0xbdd31108, 0xd5d03dc0,
        0x8618701a, 0xee1b5cd2, 0x561e298a, 0x3e1d0542, 0x23f8b5cb, 0x4bfb9903,
        0xf3feec5b, 0x9bfdc093, 0x546e77ef, 0x3c6d5b27, 0x84682e7f, 0xec6b02b7,
        0xf18eb23e, 0x998d9ef6, 0x2188ebae, 0x498bc766, 0x1a438abc, 0x7240a674,
        0xca45d32c, 0xa246ffe4, 0xbfa34f6d, 0xd7a063a5, 0x6fa516fd, 0x07a63a35,
        0x8fd9098e, 0xe7da2546, 0x5fdf501e, 0x37dc7cd6, 0x2a39cc5f, 0x423ae097,
        0xfa3f95cf, 0x923cb907, 0xc1f4f4dd, 0xa9f7d815, 0x11f2ad4d, 0x79f18185,
        0x6414310c, 0x0c171dc4, 0xb412689c, 0xdc114454, 0x1382f328, 0x7b81dfe0,
        0xc384aab8, 0xab878670, 0xb66236f9, 0xde611a31, 0x66646f69, 0x0e6743a1,
        0x5daf0e7b, 0x35ac22b3, 0x8da957eb, 0xe5aa7b23, 0xf84fcbaa, 0x904ce762,
        0x2849923a, 0x404abef2, 0xb2828a33, 0xda81a6fb, 0x6284d3a3, 0x0a87ff6b,
        0x17624fe2, 0x7f61632a, 0xc7641672, 0xaf673aba, 0xfcaf7760, 0x94ac5ba8,
        0x2ca92ef0, 0x44aa0238, 0x594fb2b1, 0x314c9e79, 0x8949eb21, 0xe14ac7e9,
        0x2ed97095, 0x46da5c5d, 0xfedf2905, 0x96dc05cd, 0x8b39b544, 0xe33a998c,
        0x5b3fecd4, 0x333cc01c, 0x60f48dc6, 0x08f7a10e, 0xb0f2d456, 0xd8f1f89e,
        0xc5144817, 0xad1764df, 0x15121187, 0x7d113d4f,
    },
    {
        0x00000000, 0x493c7d27, 0x9278fa4e, 0xdb448769, 0x211d826d, 0x6821ff4a,
        0xb3657823, 0xfa590504, 0x423b04da, 0x0b0779fd, 0xd043fe94, 0x997f83b3,
        0x632686b7, 0x2a1afb90, 0xf15e7cf9, 0xb86201de, 0x847609b4, 0xcd4a7493,
        0x160ef3fa, 0x5f328edd, 0xa56b8bd9, 0xec57f6fe, 0x37137197, 0x7e2f0cb0,
        0xc64d0d6e, 0x8f717049, 0x5435f720, 0x1d098a07, 0xe7508f03, 0xae6cf224,
        0x7528754d, 0x3c14086a, 0x0d006599, 0x443c18be, 0x9f789fd7, 0xd644e2f0,
        0x2c1de7f4, 0x65219ad3, 0xbe651dba, 0xf759609d, 0x4f3b6143, 0x06071c64,
        0xdd439b0d, 0x947fe62a, 0x6e26e32e, 0x271a9e09, 0xfc5e1960, 0xb5626447,
        0x89766c2d, 0xc04a110a, 0x1b0e9663, 0x5232eb44, 0xa86bee40, 0xe1579367,
        0x3a13140e, 0x732f6929, 0xcb4d68f7, 0x827115d0, 0x593592b9, 0x1009ef9e,
        0xea50ea9a, 0xa36c97bd, 0x782810d4, 0x31146df3, 0x1a00cb32, 0x533cb615,
        0x8878317c, 0xc1444c5b, 0x3b1d495f, 0x72213478, 0xa965b311, 0xe059ce36,
        0x583bcfe8, 0x1107b2cf, 0xca4335a6, 0x837f4881, 0x79264d85, 0x301a30a2,
        0xeb5eb7cb, 0xa262caec, 0x9e76c286, 0xd74abfa1, 0x0c0e38c8, 0x453245ef,
        0xbf6b40eb, 0xf6573dcc, 0x2d13baa5, 0x642fc782, 0xdc4dc65c, 0x9571bb7b,
        0x4e353c12, 0x07094135, 0xfd504431, 0xb46c3916, 0x6f28be7f, 0x2614c358,
        0x1700aeab, 0x5e3cd38c, 0x857854e5, 0xcc4429c2, 0x361d2cc6, 0x7f2151e1,
        0xa465d688, 0xed59abaf, 0x553baa71, 0x1c07d756, 0xc743503f, 0x8e7f2d18,
        0x7426281c, 0x3d1a553b, 0xe65ed252, 0xaf62af75, 0x9376a71f, 0xda4ada38,
        0x010e5d51, 0x48322076, 0xb26b2572, 0xfb575855, 0x2013df3c, 0x692fa21b,
        0xd14da3c5, 0x9871dee2, 0x4335598b, 0x0a0924ac, 0xf05021a8, 0xb96c5c8f,
        0x6228dbe6, 0x2b14a6c1, 0x34019664, 0x7d3deb43, 0xa6796c2a, 0xef45110d,
        0x151c1409, 0x5c20692e, 0x8764ee47, 0xce589360, 0x763a92be, 0x3f06ef99,
        0xe44268f0, 0xad7e15d7, 0x572710d3, 0x1e1b6df4, 0xc55fea9d, 0x8c6397ba,
        0xb0779fd0, 0xf94be2f7, 0x220f659e, 0x6b3318b9, 0x916a1dbd, 0xd856609a,
        0x0312e7f3, 0x4a2e9ad4, 0xf24c9b0a, 0xbb70e62d, 0x60346144, 0x29081c63,
        0xd3511967, 0x9a6d6440, 0x4129e329, 0x08159e0e, 0x3901f3fd, 0x703d8eda,
        0xab7909b3, 0xe2457494, 0x181c7190, 0x51200cb7, 0x8a648bde, 0xc358f6f9,
        0x7b3af727, 0x32068a00, 0xe9420d69, 0xa07e704e, 0x5a27754a, 0x131b086d,
        0xc85f8f04, 0x8163f223, 0xbd77fa49, 0xf44b876e, 0x2f0f0007, 0x66337d20,
        0x9c6a7824, 0xd5560503, 0x0e12826a, 0x472eff4d, 0xff4cfe93, 0xb67083b4,
        0x6d3404dd, 0x240879fa, 0xde517cfe, 0x976d01d9, 0x4c2986b0, 0x0515fb97,
        0x2e015d56, 0x673d2071, 0xbc79a718, 0xf545da3f, 0x0f1cdf3b, 0x4620a21c,
        0x9d642575, 0xd4585852, 0x6c3a598c, 0x250624ab, 0xfe42a3c2, 0xb77edee5,
        0x4d27dbe1, 0x041ba6c6, 0xdf5f21af, 0x96635c88, 0xaa7754e2, 0xe34b29c5,
        0x380faeac, 0x7133d38b, 0x8b6ad68f, 0xc256aba8, 0x19122cc1, 0x502e51e6,
        0xe84c5038, 0xa1702d1f, 0x7a34aa76, 0x3308d751, 0xc951d255, 0x806daf72,
        0x5b29281b, 0x1215553c, 0x230138cf, 0x6a3d45e8, 0xb179c281, 0xf845bfa6,
        0x021cbaa2, 0x4b20c785, 0x906440ec, 0xd9583dcb, 0x613a3c15, 0x28064132,
        0xf342c65b, 0xba7ebb7c, 0x4027be78, 0x091bc35f, 0xd25f4436, 0x9b633911,
        0xa777317b, 0xee4b4c5c, 0x350fcb35, 0x7c33b612, 0x866ab316, 0xcf56ce31,
        0x14124958, 0x5d2e347f, 0xe54c35a1, 0xac704886, 0x7734cfef, 0x3e08b2c8,
        0xc451b7cc, 0x8d6dcaeb, 0x56294d82, 0x1f1530a5,
    },
};

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^
            ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
             (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
            (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#ifdef PP_HAVE_X86_CRC
/* The CRC32C of len bytes with the SSE4.2 crc32 instruction, going on
 * from crc (not inverted here). */
__attribute__((target("sse4.2"))) static inline uint32_t
crc_hw_run(uint32_t crc, const uint8_t *p, size_t len)
{
#ifdef __x86_64__
    uint64_t c = crc;
    /* Four words per round, then single words, then the tail. */
    while (len >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        c = _mm_crc32_u64(c, w0);
        c = _mm_crc32_u64(c, w1);
        c = _mm_crc32_u64(c, w2);
        c = _mm_crc32_u64(c, w3);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)c;
#endif
    while (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        crc = _mm_crc32_u32(crc, w);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        crc = _mm_crc32_u16(crc, w);
        p += 2;
        len -= 2;
    }
    if (len != 0)
        crc = _mm_crc32_u8(crc, *p);
    return crc;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    return crc_hw_run(crc, p, len);
}

/* The CRC of p[0..len) with the 4 bytes at p + at read as zeros. */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw_gap(const uint8_t *p, size_t len, size_t at)
{
    uint32_t crc = crc_hw_run(~0u, p, at);
    crc = _mm_crc32_u32(crc, 0);
    return ~crc_hw_run(crc, p + at + 4, len - at - 4);
}

static int crc_cpu_has_sse42(void)
{
#ifdef __SSE4_2__
    return 1;
#else
    return __builtin_cpu_supports("sse4.2");
#endif
}
#endif

uint32_t pp_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    crc = ~crc;
#ifdef PP_HAVE_X86_CRC
    if (crc_cpu_has_sse42())
        return ~crc_hw(crc, p, len);
#endif
    return ~crc_soft(crc, p, len);
}

/* pp_crc32c of p[0..len) with the 4 bytes at p + at read as zeros, in one
 * pass: how a v2 header's CRC32C TLV is checked. */
static uint32_t crc_gap(const uint8_t *p, size_t len, size_t at)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t crc;
#ifdef PP_HAVE_X86_CRC
    if (crc_cpu_has_sse42())
        return crc_hw_gap(p, len, at);
#endif
    crc = crc_soft(~0u, p, at);
    crc = crc_soft(crc, zero, 4);
    return ~crc_soft(crc, p + at + 4, len - at - 4);
}
/* ======================================================================
 * 6. Writer: v1 lines and v2 headers
 * ==================================================================== */

/* ---- v1 lines --------------------------------------------------------- */

static const char wr_hex_digits[] = "0123456789abcdef";

/* Decimal text of 0..255: up to 3 digits, zero-padded to 3 bytes, then
 * the digit count. An octet is one 4-byte copy; the padding is
 * overwritten by whatever follows. */
#define WR_C(d) (uint8_t)('0' + (d))
#define WR_O1(a)                                                               \
    {                                                                          \
        WR_C(a), 0, 0, 1                                                       \
    }
#define WR_O2(a, b)                                                            \
    {                                                                          \
        WR_C(a), WR_C(b), 0, 2                                                 \
    }
#define WR_O3(a, b, c)                                                         \
    {                                                                          \
        WR_C(a), WR_C(b), WR_C(c), 3                                           \
    }
#define WR_TEN2(a)                                                             \
    WR_O2(a, 0), WR_O2(a, 1), WR_O2(a, 2), WR_O2(a, 3), WR_O2(a, 4),           \
        WR_O2(a, 5), WR_O2(a, 6), WR_O2(a, 7), WR_O2(a, 8), WR_O2(a, 9)
#define WR_TEN3(a, b)                                                          \
    WR_O3(a, b, 0), WR_O3(a, b, 1), WR_O3(a, b, 2), WR_O3(a, b, 3),            \
        WR_O3(a, b, 4), WR_O3(a, b, 5), WR_O3(a, b, 6), WR_O3(a, b, 7),        \
        WR_O3(a, b, 8), WR_O3(a, b, 9)
#define WR_HUNDRED3(a)                                                         \
    WR_TEN3(a, 0), WR_TEN3(a, 1), WR_TEN3(a, 2), WR_TEN3(a, 3), WR_TEN3(a, 4), \
        WR_TEN3(a, 5), WR_TEN3(a, 6), WR_TEN3(a, 7), WR_TEN3(a, 8),            \
        WR_TEN3(a, 9)
static const uint8_t wr_octet_text[][4] = {
    WR_O1(0),       WR_O1(1),       WR_O1(2),       WR_O1(3),
    WR_O1(4),       WR_O1(5),       WR_O1(6),       WR_O1(7),
    WR_O1(8),       WR_O1(9),       WR_TEN2(1),     WR_TEN2(2),
    WR_TEN2(3),     WR_TEN2(4),     WR_TEN2(5),     WR_TEN2(6),
    WR_TEN2(7),     WR_TEN2(8),     WR_TEN2(9),     WR_HUNDRED3(1),
    WR_TEN3(2, 0),  WR_TEN3(2, 1),  WR_TEN3(2, 2),  WR_TEN3(2, 3),
    WR_TEN3(2, 4),  WR_O3(2, 5, 0), WR_O3(2, 5, 1), WR_O3(2, 5, 2),
    WR_O3(2, 5, 3), WR_O3(2, 5, 4), WR_O3(2, 5, 5)};
#undef WR_HUNDRED3
#undef WR_TEN3
#undef WR_TEN2
#undef WR_O3
#undef WR_O2
#undef WR_O1
#undef WR_C
/* One entry for each octet value (it is the index). */
PP_STATIC_ASSERT(sizeof wr_octet_text / sizeof wr_octet_text[0] == 256,
                 octet_text_covers_every_octet);

/* Decimal of v (0..65535) without leading zeros; returns the end. */
static uint8_t *wr_put_port(uint8_t *p, unsigned v)
{
    uint8_t digits[5];
    size_t n = 0;

    do {
        digits[4 - n++] = (uint8_t)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    memcpy(p, digits + 5 - n, n);
    return p + n;
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

/* RFC 5952 text: the longest run of two or more zero groups (the leftmost
 * on a tie) becomes "::". IPv4-mapped addresses keep a dotted tail
 * (section 5), as HAProxy sends them. */
static uint8_t *wr_put_ip6(uint8_t *p, const uint8_t ip[16])
{
    unsigned g[8];
    unsigned i, run = 0, best_at = 8, best_len = 0;

    if (is_v4mapped(ip)) {
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
    if (best_len < 2) { /* a single zero group stays "0" */
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
static uint8_t *wr_put_v1_tcp4(uint8_t *p, const pp_header *hdr)
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

static uint8_t *wr_put_v1_tcp6(uint8_t *p, const pp_header *hdr)
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
 * octet, so nothing past the line's end is touched. Returns its length.
 * TCP only for PROXY over INET/INET6 streams: anything else is something
 * v1 cannot say, hence "UNKNOWN" (the receiver then uses the connection's
 * own endpoints). */
static size_t wr_put_v1_line(uint8_t *p, const pp_header *hdr)
{
    if (hdr->command == PP_CMD_PROXY && hdr->transport == PP_TRANSPORT_STREAM) {
        if (hdr->family == PP_AF_INET)
            return (size_t)(wr_put_v1_tcp4(p, hdr) - p);
        if (hdr->family == PP_AF_INET6)
            return (size_t)(wr_put_v1_tcp6(p, hdr) - p);
    }
    memcpy(p, "PROXY UNKNOWN\r\n", 15);
    return 15;
}

int pp_write_v1(void *out, size_t cap, const pp_header *hdr)
{
    uint8_t tmp[PP_V1_MAX_LEN];
    uint8_t *dst;
    size_t n;

    if (hdr == NULL || hdr->command > PP_CMD_PROXY ||
        hdr->family > PP_AF_UNIX || hdr->transport > PP_TRANSPORT_DGRAM)
        return PP_ERR_ARG;
    /* The longest line fits any cap >= 107: write in place. Otherwise
     * format aside so that a short cap sees no byte written. */
    dst = (out != NULL && cap >= PP_V1_MAX_LEN) ? (uint8_t *)out : tmp;
    n = wr_put_v1_line(dst, hdr);
    if (n > cap)
        return (int)n;
    if (out == NULL)
        return PP_ERR_ARG;
    if (dst == tmp)
        memcpy(out, tmp, n);
    return (int)n;
}

/* ---- v2 headers ------------------------------------------------------- */

#define WR_V2_FIXED 16u
#define WR_TLV_HDR 3u
#define WR_CRC_TLV_LEN 7u

/* What a v2 header will hold, measured before a byte is written. */
typedef struct wr_v2_plan {
    size_t block;     /* address block bytes */
    size_t relay;     /* relayed TLV bytes (CRC32C and NOOP left out) */
    size_t extra;     /* opts->tlvs bytes */
    size_t pad;       /* final NOOP TLV bytes: 0 or >= 3 */
    size_t total;     /* whole header */
    int crc;          /* a CRC32C TLV goes first */
    uint8_t fam_byte; /* byte 13 */
} wr_v2_plan;

/* Byte 13, or -1 when family/transport is not one of the spec's pairs
 * (UNSPEC goes with UNSPEC only). */
static int wr_family_byte(const pp_header *hdr)
{
    if (hdr->family > PP_AF_UNIX || hdr->transport > PP_TRANSPORT_DGRAM ||
        (hdr->family == PP_AF_UNSPEC) !=
            (hdr->transport == PP_TRANSPORT_UNSPEC))
        return -1;
    return hdr->family << 4 | hdr->transport;
}

/* Whether a TLV may be written: pp_parse must accept what the writer
 * produces, so the parser's own checks decide (v2_tlv_header_error, and
 * the sub-TLVs of SSL). CRC32C is the writer's own (opts->crc32c), never
 * the caller's. */
static int wr_tlv_is_writable(unsigned type, size_t len, const uint8_t *value)
{
    uint32_t no_crc = 0;

    if ((len > 0 && value == NULL) || type == PP_TLV_CRC32C)
        return 0;
    if (v2_tlv_header_error(&no_crc, (uint8_t)type, (uint32_t)len, 0) != 0)
        return 0;
    return type != PP_TLV_SSL || v2_ssl_is_tiled(value, (uint32_t)len);
}

/* *bytes = what relaying hdr->tlvs adds, checking the block as it goes
 * (the caller may have built hdr by hand). 0 when it is not a TLV block. */
static int wr_relay_len(const pp_header *hdr, size_t *bytes)
{
    const uint8_t *p = hdr->tlvs;
    size_t left = hdr->tlvs_len;

    *bytes = 0;
    if (p == NULL)
        return left == 0;
    while (left > 0) {
        size_t n;
        if (left < WR_TLV_HDR)
            return 0;
        n = WR_TLV_HDR + load_be16(p + 1);
        if (n > left)
            return 0;
        if (p[0] != PP_TLV_CRC32C && p[0] != PP_TLV_NOOP) {
            if (!wr_tlv_is_writable(p[0], n - WR_TLV_HDR, p + WR_TLV_HDR))
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
        if (!wr_tlv_is_writable(t->type, t->len, t->value))
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
static int wr_unix_is_writable(const pp_addr *a)
{
    return a->unix_raw != NULL ||
        (a->path_len <= PP_UNIX_PATH_LEN &&
         (a->path != NULL || a->path_len == 0));
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
    if (hdr->command == PP_CMD_PROXY && hdr->family == PP_AF_UNIX &&
        (!wr_unix_is_writable(&hdr->src) || !wr_unix_is_writable(&hdr->dst)))
        return PP_ERR_ARG;
    pl->fam_byte = (uint8_t)fam;
    pl->block = (size_t)v2_block_len(pl->fam_byte);
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

    if ((opts->relay_tlvs && !wr_relay_len(hdr, &pl->relay)) ||
        !wr_extra_len(opts, &pl->extra))
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
    store_be16(p + 1, (uint16_t)len);
    return p + WR_TLV_HDR;
}

static uint8_t *wr_put_addrs(uint8_t *p, const pp_header *hdr, size_t block)
{
    const pp_addr *s = &hdr->src, *d = &hdr->dst;

    if (hdr->command != PP_CMD_PROXY) { /* LOCAL: zeros, see above */
        memset(p, 0, block);
        return p + block;
    }
    switch (hdr->family) {
    case PP_AF_INET:
        memcpy(p, s->ip, 4);
        memcpy(p + 4, d->ip, 4);
        store_be16(p + 8, s->port);
        store_be16(p + 10, d->port);
        return p + 12;
    case PP_AF_INET6:
        memcpy(p, s->ip, 16);
        memcpy(p + 16, d->ip, 16);
        store_be16(p + 32, s->port);
        store_be16(p + 34, d->port);
        return p + 36;
    case PP_AF_UNIX: {
        const pp_addr *a[2] = {s, d};
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
 * wr_relay_len already), never more than the measured room bytes. */
static uint8_t *wr_put_relay(uint8_t *p, const pp_header *hdr, size_t room)
{
    const uint8_t *q = hdr->tlvs, *end = hdr->tlvs + hdr->tlvs_len;

    while (q < end) {
        size_t n = WR_TLV_HDR + load_be16(q + 1);
        if (q[0] != PP_TLV_CRC32C && q[0] != PP_TLV_NOOP) {
            if (n > room)
                break;
            memcpy(p, q, n);
            p += n;
            room -= n;
        }
        q += n;
    }
    return p;
}

/* Whether [a, a+an) and [b, b+bn) share a byte. Compared as integers:
 * the views may belong to unrelated objects. */
static int wr_overlaps(const void *a, size_t an, const void *b, size_t bn)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a != NULL && b != NULL && an > 0 && bn > 0 && x < y + bn &&
        y < x + an;
}

/* Whether writing n bytes at out would overwrite what the writer reads:
 * the relayed TLVs and the UNIX fields of hdr, the values in opts. */
static int wr_inputs_overlap(const pp_header *hdr, const pp_v2_opts *opts,
                             const void *out, size_t n)
{
    size_t i;

    if (hdr->family == PP_AF_UNIX &&
        (wr_overlaps(out, n, hdr->src.unix_raw, PP_UNIX_PATH_LEN) ||
         wr_overlaps(out, n, hdr->dst.unix_raw, PP_UNIX_PATH_LEN) ||
         wr_overlaps(out, n, hdr->src.path, hdr->src.path_len) ||
         wr_overlaps(out, n, hdr->dst.path, hdr->dst.path_len)))
        return 1;
    if (opts == NULL)
        return 0;
    if (opts->relay_tlvs && wr_overlaps(out, n, hdr->tlvs, hdr->tlvs_len))
        return 1;
    for (i = 0; i < opts->tlv_count; i++)
        if (wr_overlaps(out, n, opts->tlvs[i].value, opts->tlvs[i].len))
            return 1;
    return 0;
}

static void wr_v2_emit(uint8_t *o, const pp_header *hdr, const pp_v2_opts *opts,
                       const wr_v2_plan *pl)
{
    uint8_t *p = o + WR_V2_FIXED;
    uint8_t *crc_value = NULL;
    size_t i;

    memcpy(o, v2_sig, sizeof v2_sig);
    o[12] = (uint8_t)(0x20u | hdr->command);
    o[13] = pl->fam_byte;
    store_be16(o + 14, (uint16_t)(pl->total - WR_V2_FIXED));
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
        p = wr_put_relay(p, hdr, pl->relay);
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
        store_be32(crc_value, pp_crc32c(0, o, pl->total));
}

int pp_write_v2(void *out, size_t cap, const pp_header *hdr,
                const pp_v2_opts *opts)
{
    wr_v2_plan pl;
    int rc;

    if (hdr == NULL)
        return PP_ERR_ARG;
    if ((rc = wr_v2_plan_base(hdr, &pl)) != PP_OK ||
        (opts != NULL && (rc = wr_v2_plan_opts(hdr, opts, &pl)) != PP_OK))
        return rc;
    if (pl.total > cap)
        return (int)pl.total;
    if (out == NULL || wr_inputs_overlap(hdr, opts, out, pl.total))
        return PP_ERR_ARG;
    wr_v2_emit((uint8_t *)out, hdr, opts, &pl);
    return (int)pl.total;
}

/* ======================================================================
 * 7. sockaddr helpers
 * ==================================================================== */

#ifdef PP_WITH_SOCKADDR

/* One endpoint as read from a sockaddr, IPv4-mapped IPv6 unmapped. */
typedef struct sa_end {
    int family; /* PP_AF_* */
    uint8_t ip[16];
    uint16_t port;
    const uint8_t *sun_path; /* AF_UNIX: into the caller's sockaddr */
} sa_end;

static uint16_t sa_port_from_net(const void *net)
{
    uint8_t b[2];
    memcpy(b, net, 2);
    return load_be16(b);
}

static void sa_port_to_net(void *net, uint16_t port)
{
    uint8_t b[2];
    store_be16(b, port);
    memcpy(net, b, 2);
}

/* sockaddrs are copied out with memcpy: the caller's storage need not be
 * the exact struct type nor aligned for it. */
static int sa_end_from_sockaddr(const struct sockaddr *sa, sa_end *e)
{
    memset(e, 0, sizeof *e);
    switch (sa->sa_family) {
    case AF_INET: {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        e->family = PP_AF_INET;
        memcpy(e->ip, &sin.sin_addr, 4);
        e->port = sa_port_from_net(&sin.sin_port);
        return 1;
    }
    case AF_INET6: {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        memcpy(e->ip, &sin6.sin6_addr, 16);
        e->port = sa_port_from_net(&sin6.sin6_port);
        e->family = PP_AF_INET6;
        if (is_v4mapped(e->ip)) {
            e->family = PP_AF_INET;
            memmove(e->ip, e->ip + 12, 4);
            memset(e->ip + 4, 0, 12);
        }
        return 1;
    }
    case AF_UNIX:
        e->family = PP_AF_UNIX;
        e->sun_path =
            (const uint8_t *)sa + offsetof(struct sockaddr_un, sun_path);
        return 1;
    default:
        return 0;
    }
}

/* Size of sun_path here: 108 on Linux, 104 on the BSDs. */
static size_t sa_sun_path_size(void)
{
    struct sockaddr_un sun;
    return sizeof sun.sun_path;
}

static void sa_set_end(pp_addr *a, const sa_end *e, int family)
{
    if (family == PP_AF_UNIX) {
        size_t room = sa_sun_path_size();
        const uint8_t *nul;
        if (room > PP_UNIX_PATH_LEN)
            room = PP_UNIX_PATH_LEN;
        nul = memchr(e->sun_path, 0, room);
        a->path = (const char *)e->sun_path;
        a->path_len = nul != NULL ? (size_t)(nul - e->sun_path) : room;
        /* Only an abstract name (leading NUL) needs the raw field, and
         * only where sun_path is 108 bytes; a path name is written up to
         * its NUL and zero-filled, never with the bytes after it. */
        a->unix_raw = room == PP_UNIX_PATH_LEN && e->sun_path[0] == 0
            ? e->sun_path
            : NULL;
        return;
    }
    memcpy(a->ip, e->ip, 16);
    if (family == PP_AF_INET6 && e->family == PP_AF_INET) {
        memcpy(a->ip, v4mapped_prefix, 12); /* promote to ::ffff:v4 */
        memcpy(a->ip + 12, e->ip, 4);
    }
    a->port = e->port;
}

int pp_header_from_sockaddr(pp_header *hdr, const struct sockaddr *src,
                            const struct sockaddr *dst)
{
    sa_end s, d;
    int family;

    if (hdr == NULL || src == NULL || dst == NULL ||
        !sa_end_from_sockaddr(src, &s) || !sa_end_from_sockaddr(dst, &d))
        return PP_ERR_ARG;
    if (s.family == d.family)
        family = s.family;
    else if (s.family != PP_AF_UNIX && d.family != PP_AF_UNIX)
        family = PP_AF_INET6; /* one INET, one INET6 */
    else
        return PP_ERR_ARG;
    memset(hdr, 0, sizeof *hdr);
    hdr->version = 2;
    hdr->command = PP_CMD_PROXY;
    hdr->family = (uint8_t)family;
    hdr->transport = PP_TRANSPORT_STREAM;
    sa_set_end(&hdr->src, &s, family);
    sa_set_end(&hdr->dst, &d, family);
    return PP_OK;
}

static int sa_fill_unix(const pp_addr *a, struct sockaddr_storage *ss,
                        socklen_t *sslen)
{
    struct sockaddr_un sun;
    size_t room = sizeof sun.sun_path;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (a->unix_raw != NULL) {
        size_t n = room < PP_UNIX_PATH_LEN ? room : PP_UNIX_PATH_LEN;
        size_t i;
        for (i = n; i < PP_UNIX_PATH_LEN; i++) /* would be cut off */
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

/* One endpoint a of hdr as a socket address (pp_get_src, pp_get_dst). */
static int sa_from_addr(const pp_header *hdr, const pp_addr *a,
                        struct sockaddr_storage *ss, socklen_t *sslen)
{
    if (ss == NULL || sslen == NULL || !pp_has_addresses(hdr))
        return PP_ERR_ARG;
    memset(ss, 0, sizeof *ss);
    switch (hdr->family) {
    case PP_AF_INET: {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sa_port_to_net(&sin.sin_port, a->port);
        memcpy(&sin.sin_addr, a->ip, 4);
        memcpy(ss, &sin, sizeof sin);
        *sslen = (socklen_t)sizeof sin;
        return PP_OK;
    }
    case PP_AF_INET6: {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sa_port_to_net(&sin6.sin6_port, a->port);
        memcpy(&sin6.sin6_addr, a->ip, 16);
        memcpy(ss, &sin6, sizeof sin6);
        *sslen = (socklen_t)sizeof sin6;
        return PP_OK;
    }
    case PP_AF_UNIX:
        return sa_fill_unix(a, ss, sslen);
    default:
        return PP_ERR_ARG;
    }
}

int pp_get_src(const pp_header *hdr, struct sockaddr_storage *ss,
               socklen_t *sslen)
{
    if (hdr == NULL)
        return PP_ERR_ARG;
    return sa_from_addr(hdr, &hdr->src, ss, sslen);
}

int pp_get_dst(const pp_header *hdr, struct sockaddr_storage *ss,
               socklen_t *sslen)
{
    if (hdr == NULL)
        return PP_ERR_ARG;
    return sa_from_addr(hdr, &hdr->dst, ss, sslen);
}

int pp_trust_match_sockaddr(const pp_trust *t, const struct sockaddr *sa)
{
    uint8_t addr[16];

    if (sa == NULL)
        return 0;
    /* Copy the address bytes out: sa may point at any sockaddr storage. */
    if (sa->sa_family == AF_INET) {
        memcpy(addr,
               (const unsigned char *)sa +
                   offsetof(struct sockaddr_in, sin_addr),
               4);
        return pp_trust_match_ip4(t, addr);
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(addr,
               (const unsigned char *)sa +
                   offsetof(struct sockaddr_in6, sin6_addr),
               16);
        return pp_trust_match_ip6(t, addr);
    }
    return 0;
}

#endif /* PP_WITH_SOCKADDR */

/* ======================================================================
 * 8. Trust table
 * ==================================================================== */

/* Every entry is a [lo, hi] range of 128-bit addresses, IPv4 stored as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so one ordered space holds
 * both families and a dual-stack peer ::ffff:a.b.c.d matches IPv4 entries.
 * pp_trust_build sorts the ranges by lo and merges overlapping or adjacent
 * ones in place; a lookup on a built table is then one binary search.
 * Big-endian byte order makes the numeric order of addresses the order of
 * their bytes. */

/* Longest address text that can be valid:
 * "0000:0000:0000:0000:0000:0000:255.255.255.255". */
#define TRUST_ADDR_TEXT_MAX 45u

/* A 128-bit address as two host-order words, most significant first. */
typedef struct trust_u128 {
    uint64_t high;
    uint64_t low;
} trust_u128;

/* The 8 bytes at p as a big-endian number. */
static uint64_t trust_be64(const uint8_t *p)
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
        (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
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
        if (v1_ip6_text(text, text + len + 1, out, &stop) != PP_OK ||
            stop != text + len)
            return PP_ERR_CIDR_SYNTAX;
        *family_bits = 128;
        return PP_OK;
    }
    if (v1_ip4_text(text, text + len + 1, v4, &stop) != PP_OK ||
        stop != text + len)
        return PP_ERR_CIDR_SYNTAX;
    memcpy(out, v4mapped_prefix, 12);
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
        if (child + 1 < n && trust_cmp_bytes(e[child].lo, e[child + 1].lo) < 0)
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
        memcpy(key, v4mapped_prefix, 12);
        memcpy(key + 12, addr, 4);
        return 1;
    }
    if (family == PP_AF_INET6) {
        memcpy(key, addr, 16);
        return 1;
    }
    return 0;
}

static int trust_range_holds(const pp_trust_entry *e, trust_u128 key)
{
    return trust_cmp(trust_load(e->lo), key) <= 0 &&
        trust_cmp(key, trust_load(e->hi)) <= 0;
}

/* Sorted, disjoint ranges: the only candidate is the last one whose lo is
 * not above the key. */
static int trust_sorted_holds(const pp_trust_entry *e, size_t n, trust_u128 key)
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

static int trust_unsorted_holds(const pp_trust_entry *e, size_t n,
                                trust_u128 key)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (trust_range_holds(&e[i], key))
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
    t->state_donotuse.internal_donotuse.built = 0;
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
    t->state_donotuse.internal_donotuse.built = 0;
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
            t->state_donotuse.internal_donotuse.built = 1;
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
    t->state_donotuse.internal_donotuse.built = 1;
}

/* family is PP_AF_INET (addr has 4 bytes) or PP_AF_INET6 (16 bytes). */
static int trust_match(const pp_trust *t, int family, const uint8_t *addr)
{
    uint8_t bytes[16];
    trust_u128 key;

    if (t == NULL || addr == NULL || t->entries == NULL)
        return 0;
    if (!trust_key(family, addr, bytes))
        return 0;
    key = trust_load(bytes);
    if (t->state_donotuse.internal_donotuse.built)
        return trust_sorted_holds(t->entries, t->count, key);
    return trust_unsorted_holds(t->entries, t->count, key);
}

int pp_trust_match_ip4(const pp_trust *t, const uint8_t addr[4])
{
    return trust_match(t, PP_AF_INET, addr);
}

int pp_trust_match_ip6(const pp_trust *t, const uint8_t addr[16])
{
    return trust_match(t, PP_AF_INET6, addr);
}

/* ======================================================================
 * 9. Stream sockets
 * ==================================================================== */

#ifdef PP_WITH_RECV

/* The buffer size pp_recv_step requires: room for the longest header the
 * settings in hdr can accept. */
static size_t sk_room_needed(const pp_header *hdr)
{
    size_t need = (hdr->flags & PP_F_NO_V2) ? PP_V1_MAX_LEN : PP_V2_MAX_LEN;

    if (hdr->max_len != 0 && hdr->max_len < need)
        need = hdr->max_len;
    return need;
}

/* How many bytes after the first `have` may still belong to the header,
 * within the buffer. Once v2 told its length that is exact; before, any of
 * the first 107 bytes may (a v1 line is at most 107 bytes, and a v2 header
 * tells its length after 16). Peeking past the header is harmless: only
 * bytes proven to be header are ever consumed. */
static size_t sk_peek_len(const pp_header *hdr, size_t have, size_t cap)
{
    size_t want = cap - have;
    size_t limit = pp_expected_len(hdr);

    if (limit == 0)
        limit = PP_V1_MAX_LEN;
    if (limit > have && limit - have < want)
        want = limit - have;
    return want;
}

static int sk_would_block(int err)
{
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    if (err == EWOULDBLOCK)
        return 1;
#endif
    return err == EAGAIN;
}

/* One recv with MSG_DONTWAIT (and MSG_PEEK when asked), retried on EINTR.
 * Returns the bytes received (> 0), PP_AGAIN, PP_ERR_CLOSED at end of
 * stream, or PP_ERR_IO with errno from recv. */
static long sk_recv(int fd, uint8_t *dst, size_t len, int peek)
{
    int flags = MSG_DONTWAIT | (peek ? MSG_PEEK : 0);

    for (;;) {
        ssize_t got = recv(fd, dst, len, flags);

        if (got > 0)
            return (long)got;
        if (got == 0)
            return PP_ERR_CLOSED;
        if (errno == EINTR)
            continue;
        return sk_would_block(errno) ? PP_AGAIN : PP_ERR_IO;
    }
}

/* Take n bytes that an earlier peek saw off the socket, into buf + *have
 * (where the peek put the very same bytes), advancing *have as they come.
 * Peeked bytes are queued, so this does not wait; should another reader
 * have taken them, the error is reported and *have stays exact. */
static int sk_consume(int fd, uint8_t *buf, size_t *have, size_t n)
{
    while (n > 0) {
        long got = sk_recv(fd, buf + *have, n, 0);

        if (got < 0)
            return (int)got;
        *have += (size_t)got;
        n -= (size_t)got;
    }
    return PP_OK;
}

/* The header is complete with length len (> *have - it was only peeked
 * past *have): consume the rest of it and report len. */
static int sk_finish(int fd, uint8_t *buf, size_t *have, int len)
{
    int rc = PP_OK;

    if ((size_t)len > *have)
        rc = sk_consume(fd, buf, have, (size_t)len - *have);
    return rc < 0 ? rc : len;
}

int pp_recv_step(int fd, pp_header *hdr, void *buf, size_t cap, size_t *have)
{
    uint8_t *b = (uint8_t *)buf;

    if (fd < 0 || hdr == NULL || b == NULL || have == NULL || *have > cap ||
        cap < sk_room_needed(hdr))
        return PP_ERR_ARG;

    for (;;) {
        size_t want;
        long got;
        int rc = pp_parse(hdr, b, *have);

        /* A finished header (also one whose consumption an error cut
         * short) or a sticky parser error: nothing more to read. */
        if (rc > 0)
            return sk_finish(fd, b, have, rc);
        if (rc != PP_INCOMPLETE)
            return rc;
        /* Only reachable when max_len is below 16: a v2 header can never
         * fit, and the parser learns the length too late to say so. */
        if (*have >= cap)
            return PP_ERR_TOO_LONG;

        want = sk_peek_len(hdr, *have, cap);
        got = sk_recv(fd, b + *have, want, 1);
        if (got < 0)
            return (int)got;

        rc = pp_parse(hdr, b, *have + (size_t)got);
        if (rc > 0)
            return sk_finish(fd, b, have, rc);
        if (rc != PP_INCOMPLETE)
            return rc;

        /* Still a valid prefix: every peeked byte is header. Take them so
         * that poll() will not report them again. */
        rc = sk_consume(fd, b, have, (size_t)got);
        if (rc < 0)
            return rc;
        /* A short peek emptied the queue; a full one may have left more. */
        if ((size_t)got < want)
            return PP_AGAIN;
    }
}

/* Milliseconds from now until *deadline, rounded up so that poll() does
 * not wake a fraction of a millisecond early and spin; 0 once passed. */
static int sk_ms_left(const struct timespec *deadline)
{
    struct timespec now;
    long long left_ns;

    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    left_ns =
        ((long long)deadline->tv_sec - (long long)now.tv_sec) * 1000000000LL +
        ((long long)deadline->tv_nsec - (long long)now.tv_nsec);
    if (left_ns <= 0)
        return 0;
    if (left_ns / 1000000LL >= (long long)INT_MAX)
        return INT_MAX;
    return (int)((left_ns + 999999LL) / 1000000LL);
}

int pp_recv_header(int fd, pp_header *hdr, void *buf, size_t cap,
                   int timeout_ms)
{
    struct timespec deadline;
    size_t have = 0;

    if (timeout_ms >= 0) {
        if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0)
            return PP_ERR_IO;
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1000000000L;
        }
    }

    for (;;) {
        struct pollfd pfd;
        int wait_ms = -1;
        int rc = pp_recv_step(fd, hdr, buf, cap, &have);

        if (rc != PP_AGAIN)
            return rc;
        if (timeout_ms >= 0) {
            wait_ms = sk_ms_left(&deadline);
            if (wait_ms == 0)
                return PP_ERR_TIMEOUT;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* Readable, hung up or in error: the next step tells which. */
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            return PP_ERR_IO;
    }
}
#endif /* PP_WITH_RECV */

/* ======================================================================
 * 10. Datagrams
 * ==================================================================== */

int pp_dgram_parse(pp_header *hdr, const void *dgram, size_t len,
                   const uint8_t **payload, size_t *payload_len)
{
    size_t max_len;
    int rc;

    if (payload != NULL)
        *payload = NULL;
    if (payload_len != NULL)
        *payload_len = 0;
    if (hdr == NULL || (dgram == NULL && len > 0) || payload == NULL ||
        payload_len == NULL)
        return PP_ERR_ARG;

    max_len = hdr->max_len;
    memset(hdr, 0, sizeof *hdr);
    hdr->max_len = max_len;
    hdr->flags = PP_F_NO_V1;

    rc = pp_parse(hdr, dgram, len);
    /* A datagram is all there will ever be: a valid prefix is cut off. */
    if (rc == PP_INCOMPLETE)
        return PP_ERR_TRUNCATED;
    if (rc < 0)
        return rc;
    *payload = (const uint8_t *)dgram + rc;
    *payload_len = len - (size_t)rc;
    return rc;
}

int pp_dgram_write(void *out, size_t cap, const pp_header *hdr,
                   const pp_v2_opts *opts, const void *payload,
                   size_t payload_len)
{
    uint8_t *o = (uint8_t *)out;
    size_t total;
    int hlen;

    if ((o == NULL && cap > 0) || (payload == NULL && payload_len > 0))
        return PP_ERR_ARG;

    /* Measure first: nothing may be written unless all of it fits. */
    hlen = pp_write_v2(o, 0, hdr, opts);
    if (hlen < 0)
        return hlen;
    if (payload_len > (size_t)INT_MAX - (size_t)hlen)
        return PP_ERR_ARG;
    total = (size_t)hlen + payload_len;
    if (total > cap || o == NULL)
        return (int)total;
    /* The payload may move within out; what the header reads may not. */
    if (wr_inputs_overlap(hdr, opts, o, total))
        return PP_ERR_ARG;

    /* Payload first, with memmove: a caller may have received it at the
     * start of out and be prepending the header in place. */
    if (payload_len > 0)
        memmove(o + hlen, payload, payload_len);
    if (pp_write_v2(o, (size_t)hlen, hdr, opts) != hlen)
        return PP_ERR_ARG; /* cannot happen: same input, same length */
    return (int)total;
}

/* ======================================================================
 * 11. Status names and sentences
 * ==================================================================== */

struct status_text {
    const char *name;
    const char *sentence;
};

/* Indexed by -status. */
static const struct status_text status_texts[] = {
    {"ok", "success"},
    {"incomplete", "valid prefix of a PROXY header: more bytes needed"},
    {"not_proxy", "the bytes are not a PROXY protocol header"},
    {"v1_syntax", "v1 header: wrong separator, missing or extra field"},
    {"v1_family", "v1 header: protocol is not TCP4, TCP6 or UNKNOWN"},
    {"v1_address", "v1 header: address is not valid for its family"},
    {"v1_port", "v1 header: port is not 0..65535 without leading zeros"},
    {"v1_crlf", "v1 header: lone CR or LF"},
    {"v1_too_long", "v1 header: no CRLF within 107 bytes"},
    {"v2_version", "v2 header: version is not 2"},
    {"v2_command", "v2 header: command is neither LOCAL nor PROXY"},
    {"v2_family", "v2 header: unknown address family or transport"},
    {"v2_addr_len", "v2 header: length is too short for the address block"},
    {"too_long", "header is longer than the configured limit"},
    {"tlv_truncated", "v2 header: TLVs do not fill the header exactly"},
    {"tlv_crc32c", "v2 header: CRC32C TLV is not 4 bytes or is repeated"},
    {"crc32c_mismatch", "v2 header: CRC32C checksum does not match"},
    {"tlv_unique_id", "v2 header: UNIQUE_ID TLV is longer than 128 bytes"},
    {"tlv_ssl", "v2 header: SSL TLV is malformed"},
    {"version_disabled", "PROXY protocol version not allowed here"},
    {"arg", "invalid argument"},
    {"table_full", "trust table is full"},
    {"cidr_syntax", "CIDR text is malformed"},
    {"cidr_prefix", "CIDR prefix length is out of range"},
    {"timeout", "timed out before the header was complete"},
    {"closed", "peer closed the connection before the header was complete"},
    {"io", "I/O error (see errno)"},
    {"again", "would block: wait for the socket to be readable"},
    {"truncated", "datagram ends inside its PROXY header"},
};
/* One entry for each status from PP_OK down to the last one. */
PP_STATIC_ASSERT(sizeof status_texts / sizeof status_texts[0] ==
                     1 - PP_ERR_TRUNCATED,
                 status_texts_cover_every_status);

static const struct status_text *status_text_of(int status)
{
    int n = (int)(sizeof status_texts / sizeof status_texts[0]);
    if (status > 0 || status <= -n)
        return NULL;
    return &status_texts[-status];
}

const char *pp_strerror(int status)
{
    const struct status_text *t = status_text_of(status);
    return t ? t->sentence : "unknown status";
}

const char *pp_status_name(int status)
{
    const struct status_text *t = status_text_of(status);
    return t ? t->name : "unknown";
}
