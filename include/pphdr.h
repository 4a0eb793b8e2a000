/*
 * pphdr - a strict, incremental, zero-allocation PROXY protocol library.
 *
 * Reads and writes HAProxy PROXY protocol headers (v1 text, v2 binary with
 * TLVs), checks peers against a CIDR trust table, and reads a header off a
 * socket without consuming application bytes.
 *
 * The whole library is this header and lib/pphdr.c. Copy both into another
 * tree and compile them with any C99 compiler; no configure step is needed.
 * Define PP_NO_SOCKETS before including this header (and when compiling
 * pphdr.c) on platforms without BSD sockets: the sockaddr, socket and trust
 * sockaddr helpers are then left out.
 *
 * Windows (_WIN32): the sockaddr types come from <winsock2.h>, <ws2tcpip.h>
 * and <afunix.h> (Windows 10 SDK 1803 or later, mingw-w64), so the sockaddr
 * helpers and pp_trust_match_sockaddr are there; the receive helpers
 * pp_recv_step and pp_recv_header (int descriptors, poll) are left out.
 * Include this header before <windows.h>, or define WIN32_LEAN_AND_MEAN.
 *
 * Conventions
 *  - Every function that can fail returns a pp_status value (negative) or a
 *    non-negative result. Errors live in return values and caller structs,
 *    never in globals.
 *  - No function allocates memory. State lives in caller-owned structs that
 *    are valid when zeroed. Pointers returned by the library point into
 *    buffers the caller passed in and live as long as those buffers.
 *  - Multi-byte wire values are decoded explicitly; ports are host order,
 *    addresses network order (as in struct in_addr / in6_addr).
 *
 * MIT licensed; see COPYING.
 */
#ifndef PPHDR_H
#define PPHDR_H

#include <stddef.h>
#include <stdint.h>

#if !defined(PP_NO_SOCKETS) && defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
#elif !defined(PP_NO_SOCKETS)
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Version. The single place the version is written; meson reads it here.
 * ---------------------------------------------------------------------- */
#define PP_VERSION_MAJOR 0
#define PP_VERSION_MINOR 3
#define PP_VERSION_PATCH 0
#define PP_VERSION_NUMBER                                                      \
    (PP_VERSION_MAJOR * 10000 + PP_VERSION_MINOR * 100 + PP_VERSION_PATCH)

/* Symbol visibility: the build compiles with hidden symbols by default and
 * exports only what is marked PP_API. */
#ifndef PP_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define PP_API __attribute__((visibility("default")))
#else
#define PP_API
#endif
#endif

/* PP_VERSION_NUMBER of the compiled library; compare with the macro to catch
 * a header/library mismatch. */
PP_API unsigned pp_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes. Explicit values, only ever appended. Every negative value a
 * function of this library returns is one of these.
 * ---------------------------------------------------------------------- */
typedef enum pp_status {
    PP_OK = 0,
    PP_INCOMPLETE = -1,       /* a valid prefix: feed more bytes */
    PP_ERR_NOT_PROXY = -2,    /* no PROXY header at all (e.g. "GET ", TLS) */
    PP_ERR_V1_SYNTAX = -3,    /* v1: wrong separator, missing or extra field */
    PP_ERR_V1_FAMILY = -4,    /* v1: protocol is not TCP4, TCP6 or UNKNOWN */
    PP_ERR_V1_ADDRESS = -5,   /* v1: address text invalid for the family */
    PP_ERR_V1_PORT = -6,      /* v1: port not 0..65535 without leading zero */
    PP_ERR_V1_CRLF = -7,      /* v1: lone CR or LF */
    PP_ERR_V1_TOO_LONG = -8,  /* v1: no CRLF within 107 bytes */
    PP_ERR_V2_VERSION = -9,   /* v2: version nibble is not 2 */
    PP_ERR_V2_COMMAND = -10,  /* v2: command is neither LOCAL nor PROXY */
    PP_ERR_V2_FAMILY = -11,   /* v2: family/transport byte not in the spec */
    PP_ERR_V2_ADDR_LEN = -12, /* v2 PROXY: length below the address block */
    PP_ERR_TOO_LONG = -13,    /* header longer than pp_header.max_len */
    PP_ERR_TLV_TRUNCATED = -14,   /* TLVs do not tile the header exactly */
    PP_ERR_TLV_CRC32C = -15,      /* CRC32C TLV not 4 bytes, or more than one */
    PP_ERR_CRC32C_MISMATCH = -16, /* CRC32C does not match the header */
    PP_ERR_TLV_UNIQUE_ID = -17,   /* UNIQUE_ID TLV longer than 128 bytes */
    PP_ERR_TLV_SSL = -18,         /* SSL TLV under 5 bytes or bad sub-TLVs */
    PP_ERR_VERSION_DISABLED = -19, /* a version the caller's flags exclude */
    PP_ERR_ARG = -20,              /* invalid argument */
    PP_ERR_TABLE_FULL = -21,       /* trust table storage is full */
    PP_ERR_CIDR_SYNTAX = -22,      /* CIDR text malformed */
    PP_ERR_CIDR_PREFIX = -23,      /* CIDR prefix length out of range */
    PP_ERR_TIMEOUT = -24,          /* socket: deadline passed */
    PP_ERR_CLOSED = -25,   /* socket: peer closed before the header ended */
    PP_ERR_IO = -26,       /* socket: I/O error, errno kept */
    PP_AGAIN = -27,        /* socket, non-blocking: wait for readability */
    PP_ERR_TRUNCATED = -28 /* datagram ends inside its header */
} pp_status;

/* A sentence describing a status code ("v1 address is invalid ..."), or
 * "unknown status" for a value not in pp_status. Static storage. */
PP_API const char *pp_strerror(int status);

/* A short stable name for a status code, e.g. "v1_address", "incomplete",
 * "not_proxy"; "unknown" for a value not in pp_status. Static storage. */
PP_API const char *pp_status_name(int status);

/* ------------------------------------------------------------------------
 * Wire constants
 * ---------------------------------------------------------------------- */
enum { PP_CMD_LOCAL = 0x0, PP_CMD_PROXY = 0x1 };

enum {
    PP_AF_UNSPEC = 0x0,
    PP_AF_INET = 0x1,
    PP_AF_INET6 = 0x2,
    PP_AF_UNIX = 0x3
};

enum {
    PP_TRANSPORT_UNSPEC = 0x0,
    PP_TRANSPORT_STREAM = 0x1,
    PP_TRANSPORT_DGRAM = 0x2
};

enum {
    PP_TLV_ALPN = 0x01,
    PP_TLV_AUTHORITY = 0x02,
    PP_TLV_CRC32C = 0x03,
    PP_TLV_NOOP = 0x04,
    PP_TLV_UNIQUE_ID = 0x05,
    PP_TLV_SSL = 0x20,
    PP_TLV_NETNS = 0x30,
    PP_TLV_GCP = 0xE0,  /* custom range: GCP PSC connection id */
    PP_TLV_AWS = 0xEA,  /* custom range: AWS, subtype 0x01 VPC endpoint id */
    PP_TLV_AZURE = 0xEE /* custom range: Azure, subtype 0x01 LINKID */
};

enum {
    PP_SSL_VERSION = 0x21,
    PP_SSL_CN = 0x22,
    PP_SSL_CIPHER = 0x23,
    PP_SSL_SIG_ALG = 0x24,
    PP_SSL_KEY_ALG = 0x25,
    PP_SSL_GROUP = 0x26,
    PP_SSL_SIG_SCHEME = 0x27,
    PP_SSL_CLIENT_CERT = 0x28
};

/* Bits of the SSL TLV's client field. */
enum {
    PP_CLIENT_SSL = 0x01,
    PP_CLIENT_CERT_CONN = 0x02,
    PP_CLIENT_CERT_SESS = 0x04
};

#define PP_V1_MAX_LEN 107u           /* v1 line, CRLF included */
#define PP_V2_MAX_LEN (16u + 65535u) /* v2 header, largest possible */
#define PP_UNIQUE_ID_MAX 128u
#define PP_UNIX_PATH_LEN 108u

/* pp_header.flags */
#define PP_F_NO_V1 0x1u /* reject v1 with PP_ERR_VERSION_DISABLED */
#define PP_F_NO_V2 0x2u /* reject v2 with PP_ERR_VERSION_DISABLED */

/* One endpoint of the proxied connection. */
typedef struct pp_addr {
    /* INET: the first 4 bytes; INET6: all 16; network byte order. */
    uint8_t ip[16];
    /* Host byte order. 0 for UNIX and for headers without addresses. */
    uint16_t port;
    /* UNIX: the path up to its first NUL (path_len bytes, not
     * NUL-terminated, possibly empty for Linux abstract names), pointing
     * into the caller's buffer. NULL otherwise. */
    const char *path;
    size_t path_len;
    /* UNIX: the raw 108-byte field as sent (it may hold no NUL at all). */
    const uint8_t *unix_raw;
} pp_addr;

/* The parser's private progress, in the pattern of lz4's LZ4_stream_u: a
 * union of the private struct with a byte array of fixed size, so that the
 * size of pp_header does not change when the private struct does. Its
 * members are not part of the API: do not read or write them (the names
 * say so); a zeroed header is a valid start. */
#define PP_PROGRESS_SIZE 64
typedef struct pp_progress_donotuse {
    size_t wake;
    uint32_t pos;
    uint32_t total;
    uint32_t crc_at;
    uint32_t tlv_at;
    uint8_t stage;
    int8_t result;
    uint8_t part;
    uint8_t cr_limit;
} pp_progress_donotuse;

typedef union pp_progress_u {
    pp_progress_donotuse internal_donotuse;
    unsigned char reserved_donotuse[PP_PROGRESS_SIZE];
    size_t align_donotuse;
} pp_progress_u;

/* A PROXY header: parser input settings, parser progress, and the result.
 *
 * Zero it (or call pp_header_init) once per connection, set max_len and
 * flags if wanted (and leave them until the result), then call pp_parse. The result fields are valid once
 * pp_parse returned a length > 0; pointers in it point into the buffer of
 * that last pp_parse call. */
typedef struct pp_header {
    /* --- settings (read by pp_parse) --- */
    /* Longest header accepted, in bytes; 0 means no limit of the caller's
     * (107 for v1, 16 + 65535 for v2). Larger headers: PP_ERR_TOO_LONG
     * (a v1 line over 107 bytes is PP_ERR_V1_TOO_LONG whatever the limit).
     * Below 15 no v1 line fits and below 16 no v2 header: PP_ERR_TOO_LONG
     * at the first byte. */
    size_t max_len;
    /* PP_F_* bits; 0 accepts both versions. */
    unsigned flags;

    /* --- result --- */
    size_t length;     /* header length in bytes */
    uint8_t version;   /* 1 or 2 */
    uint8_t command;   /* PP_CMD_PROXY or PP_CMD_LOCAL (v1 is PROXY) */
    uint8_t family;    /* PP_AF_*; v1 UNKNOWN is PP_AF_UNSPEC */
    uint8_t transport; /* PP_TRANSPORT_*; v1 TCP is STREAM */
    /* Source and destination. Filled only when pp_has_addresses(). */
    pp_addr src;
    pp_addr dst;
    /* v2 TLV block (all bytes after the address block), a view into the
     * caller's buffer; NULL/0 for v1 and when there are no TLVs. Fully
     * validated by pp_parse: iterating it cannot fail or over-read. */
    const uint8_t *tlvs;
    size_t tlvs_len;

    /* --- private progress of the parser --- */
    pp_progress_u progress_donotuse;
} pp_header;

/* Zero *hdr (same as memset to 0). */
PP_API void pp_header_init(pp_header *hdr);

/* ------------------------------------------------------------------------
 * Parsing
 * ---------------------------------------------------------------------- */

/* Parse a PROXY header (v1 or v2) at the start of buf.
 *
 * Returns the header length (> 0) when buf starts with a complete valid
 * header; the bytes after it are application data and are not read.
 * Returns PP_INCOMPLETE when buf[0..len) is a valid prefix of a header;
 * PP_ERR_NOT_PROXY when the bytes are not a PROXY header at all; another
 * PP_ERR_* when they prove a broken header.
 *
 * Incremental use: zero hdr once per connection, then call pp_parse each
 * time bytes arrive with ALL bytes received so far (same content from the
 * start, growing len; the buffer may move between calls). hdr keeps the
 * progress so the total work stays linear in the header length, and the
 * result for any split is the same as for the whole input at once. Errors
 * are reported as soon as the bytes prove them. Once a call returned a
 * length or an error, later calls return the same value (after a length,
 * a later call with the whole header re-points the views into its buf).
 * Bytes or settings that change between the calls of one header are a
 * misuse: the answer is then unspecified (an error, or a result with
 * garbage values), but pp_parse still reads nothing outside buf[0..len).
 *
 * buf may be NULL when len is 0. hdr must not be NULL. */
PP_API int pp_parse(pp_header *hdr, const void *buf, size_t len);

/* The total header length as soon as it is known (v2: after its first 16
 * bytes; v1: once complete), so a caller can read exactly that many bytes;
 * 0 while unknown. */
PP_API size_t pp_expected_len(const pp_header *hdr);

/* 1 when the header (parsed, or filled by pp_header_from_sockaddr) carries
 * addresses the receiver should use (PROXY command with INET, INET6 or
 * UNIX), 0 otherwise (LOCAL, UNSPEC, v1 UNKNOWN, or a parse not finished:
 * use the connection's own endpoints). */
PP_API int pp_has_addresses(const pp_header *hdr);

/* ------------------------------------------------------------------------
 * TLVs (v2). All views point into the parsed buffer.
 * ---------------------------------------------------------------------- */
typedef struct pp_tlv {
    uint8_t type;
    uint16_t len;
    const uint8_t *value; /* len bytes */
} pp_tlv;

/* Iterator state over a TLV block; zero it or use an init function. */
typedef struct pp_tlv_iter {
    const uint8_t *next;
    const uint8_t *end;
} pp_tlv_iter;

/* Start iterating the top-level TLVs of a parsed header, in wire order
 * (NOOP and CRC32C included). */
PP_API void pp_tlv_iter_init(pp_tlv_iter *it, const pp_header *hdr);

/* Start iterating the sub-TLVs of an SSL TLV (as returned by pp_tlv_next
 * or pp_tlv_find on a parsed header). Empty if ssl is not a valid SSL TLV. */
PP_API void pp_ssl_iter_init(pp_tlv_iter *it, const pp_tlv *ssl);

/* Store the next TLV in *tlv and return 1, or return 0 at the end. On a
 * block validated by pp_parse this never fails; on other bytes it stops
 * (returns 0) at the first TLV that would run past the end. */
PP_API int pp_tlv_next(pp_tlv_iter *it, pp_tlv *tlv);

/* Find the first top-level TLV of the given type: 1 and *tlv filled, or 0.
 * When a type repeats, this and the typed accessors below see the first;
 * iterate to see the others. */
PP_API int pp_tlv_find(const pp_header *hdr, uint8_t type, pp_tlv *tlv);

/* A byte string inside the parsed buffer; not NUL-terminated. */
typedef struct pp_bytes {
    const uint8_t *ptr;
    size_t len;
} pp_bytes;

/* Typed accessors: 1 and *out filled when the TLV is present, else 0. */
PP_API int pp_alpn(const pp_header *hdr, pp_bytes *out);
PP_API int pp_authority(const pp_header *hdr, pp_bytes *out);
PP_API int pp_unique_id(const pp_header *hdr, pp_bytes *out);
PP_API int pp_netns(const pp_header *hdr, pp_bytes *out);

/* The SSL TLV decoded. verify == 0 alone does not mean a client
 * certificate was verified: check client & (CERT_CONN | CERT_SESS) too. */
typedef struct pp_ssl_info {
    uint8_t client;   /* PP_CLIENT_* bits */
    uint32_t verify;  /* 0: presented certificate verified */
    pp_bytes version; /* sub-TLVs; ptr NULL when absent */
    pp_bytes cn;
    pp_bytes cipher;
    pp_bytes sig_alg;
    pp_bytes key_alg;
    pp_bytes group;
    pp_bytes sig_scheme;
    pp_bytes client_cert; /* DER */
} pp_ssl_info;

/* 1 and *out filled when an SSL TLV is present, else 0. */
PP_API int pp_ssl(const pp_header *hdr, pp_ssl_info *out);

/* AWS (0xEA, subtype 0x01): the VPC endpoint id, ASCII, no NUL. 1 or 0
 * (absent, another subtype, or empty). */
PP_API int pp_aws_vpce_id(const pp_header *hdr, pp_bytes *out);
/* Azure (0xEE, subtype 0x01): the private endpoint LINKID (uint32 sent
 * little-endian). 1 or 0 (absent, another subtype, or not 5 bytes). */
PP_API int pp_azure_linkid(const pp_header *hdr, uint32_t *out);
/* GCP (0xE0): the PSC connection id (uint64 big-endian, exactly 8 bytes).
 * 1 or 0. */
PP_API int pp_gcp_psc_id(const pp_header *hdr, uint64_t *out);

/* CRC32C (Castagnoli) of len bytes, continuing from crc (start with 0).
 * Uses the SSE4.2 crc32 instruction when the CPU has it. */
PP_API uint32_t pp_crc32c(uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------------
 * Writing. Measure-then-write: each writer returns the header length it
 * needs; when that is more than cap it writes nothing, so out == NULL with
 * cap == 0 measures. out == NULL with a cap that would hold the header is
 * PP_ERR_ARG. Negative: PP_ERR_ARG. Each header is produced whole, to be
 * sent in a single write.
 * ---------------------------------------------------------------------- */

/* Write a v1 line for hdr: TCP4/TCP6 for PROXY with INET/INET6 over
 * STREAM (IPv6 in RFC 5952 form, IPv4-mapped with a dotted tail). Every
 * other valid header (LOCAL; UNSPEC, UNIX or datagrams with PROXY) gets
 * "PROXY UNKNOWN\r\n": the receiver then uses the connection's own
 * endpoints. A command other than PP_CMD_LOCAL or PP_CMD_PROXY, a family
 * above PP_AF_UNIX or a transport above PP_TRANSPORT_DGRAM is PP_ERR_ARG.
 * With cap >= 107 the line is formatted in place in out; with a smaller
 * cap it is formatted aside and copied. */
PP_API int pp_write_v1(void *out, size_t cap, const pp_header *hdr);

/* Options of pp_write_v2; zero means none. The TLVs are written in this
 * order: the CRC32C TLV (crc32c), the relayed TLVs (relay_tlvs), the
 * caller's TLVs (tlvs), and last the NOOP TLV of the padding. */
typedef struct pp_v2_opts {
    const pp_tlv *tlvs; /* written in this order */
    size_t tlv_count;
    int relay_tlvs; /* copy hdr->tlvs (less CRC32C and NOOP) */
    int crc32c;     /* add a CRC32C TLV, first, over the result */
    /* Pad with one NOOP TLV, the last, to exactly pad_to bytes. A NOOP
     * TLV is at least 3 bytes, so pad_to must be the unpadded length or at
     * least 3 more (else PP_ERR_ARG), and a multiple of pad_align when
     * both are set. */
    size_t pad_to;
    /* Without pad_to: pad to the next multiple of pad_align that a NOOP
     * TLV can reach. When the next multiple is 1 or 2 bytes away, the
     * header grows to the first multiple at least 3 bytes away. */
    size_t pad_align;
} pp_v2_opts;

/* Write a v2 header for hdr (command, family, transport, addresses) with
 * the TLVs that opts asks for. opts may be NULL. The bytes the header will
 * occupy, out[0 .. length), must not overlap what the writer reads (the
 * relayed hdr->tlvs, the UNIX fields, opts' TLV values): PP_ERR_ARG,
 * nothing written; the rest of out[0 .. cap) may. A LOCAL header's
 * address block is zero-filled (none for UNSPEC): some receivers reject a
 * LOCAL length below the family's block. A UNIX endpoint is written from
 * its unix_raw field when that is set, all 108 bytes as they are (so a
 * parsed header's bytes after the path's NUL are sent again); otherwise
 * from path, path_len bytes then zeros, and a path_len over 108 is
 * PP_ERR_ARG. PP_ERR_ARG also when the result cannot be encoded (over
 * 65535 bytes of payload, a family/transport pair the spec does not list,
 * TLVs the parser would reject such as a caller-supplied CRC32C, or
 * padding that cannot be reached). */
PP_API int pp_write_v2(void *out, size_t cap, const pp_header *hdr,
                       const pp_v2_opts *opts);

#ifndef PP_NO_SOCKETS
/* Fill hdr (after zeroing it) as a v2-style PROXY/STREAM header for a
 * connection from src to dst (as accept() and getsockname() return them);
 * for datagrams set hdr->transport = PP_TRANSPORT_DGRAM afterwards.
 * IPv4-mapped IPv6 on both sides becomes INET; mixed INET/INET6 promotes
 * the INET side to IPv4-mapped IPv6. AF_UNIX is supported: path (and, for
 * a Linux abstract name only, unix_raw) then point into *src / *dst, valid
 * as long as they are; a path name is written up to its NUL, then zeros.
 * Zero a sockaddr_un before accept(): an unnamed peer leaves it unwritten.
 * PP_OK or PP_ERR_ARG. */
PP_API int pp_header_from_sockaddr(pp_header *hdr, const struct sockaddr *src,
                                   const struct sockaddr *dst);

/* Fill *ss with the source (pp_get_src: the client) or destination
 * (pp_get_dst) address of a header that pp_has_addresses(); *sslen gets its
 * size (for UNIX, the whole struct sockaddr_un). PP_OK, or PP_ERR_ARG (a
 * NULL argument, a header without addresses, or a UNIX path that does not
 * fit this platform's sun_path: 108 bytes on Linux, 104 on macOS and the
 * BSDs). */
PP_API int pp_get_src(const pp_header *hdr, struct sockaddr_storage *ss,
                      socklen_t *sslen);
PP_API int pp_get_dst(const pp_header *hdr, struct sockaddr_storage *ss,
                      socklen_t *sslen);
#endif

/* ------------------------------------------------------------------------
 * Trust table: which peers may send a PROXY header. Caller storage, no
 * allocation. IPv4 is kept as IPv4-mapped IPv6 so that a dual-stack socket's
 * ::ffff:a.b.c.d peer matches IPv4 entries.
 * ---------------------------------------------------------------------- */
typedef struct pp_trust_entry {
    uint8_t lo[16]; /* first address of the range */
    uint8_t hi[16]; /* last address of the range */
} pp_trust_entry;

/* Private state of a trust table (see pp_progress_u). */
typedef union pp_trust_state_u {
    struct pp_trust_internal_donotuse {
        int built; /* sorted and merged by pp_trust_build */
    } internal_donotuse;
    unsigned char reserved_donotuse[16];
    size_t align_donotuse;
} pp_trust_state_u;

typedef struct pp_trust {
    pp_trust_entry *entries; /* storage given to pp_trust_init */
    size_t cap;              /* its number of entries */
    size_t count;            /* entries in use (fewer once built) */
    pp_trust_state_u state_donotuse;
} pp_trust;

/* Use storage[0..cap) for the table. */
PP_API void pp_trust_init(pp_trust *t, pp_trust_entry *storage, size_t cap);

/* Add "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1/128", "0.0.0.0/0"
 * (text of len bytes, no NUL needed; the address syntax is the strict one
 * of v1 headers; text with a ':' is IPv6). Host bits below the prefix are
 * masked; *host_bits (may be NULL) is set to 1 when there were some.
 * Returns PP_OK, PP_ERR_CIDR_SYNTAX, PP_ERR_CIDR_PREFIX (a prefix over
 * 32/128 or with leading zeros), PP_ERR_TABLE_FULL, or PP_ERR_ARG (NULL
 * table). On error the table is unchanged. Marks the table unbuilt.
 * IPv4 is kept as IPv4-mapped IPv6, so an IPv6 entry matches the IPv4
 * peers its range covers inside ::ffff:0:0/96: ::/0 all of them, and
 * ::ffff:10.0.0.0/104 those in 10.0.0.0/8, just as that entry would. */
PP_API int pp_trust_add(pp_trust *t, const char *text, size_t len,
                        int *host_bits);

/* Sort and merge the entries so lookups are O(log n). Lookups on an
 * unbuilt table are correct but linear. Call after the last add. */
PP_API void pp_trust_build(pp_trust *t);

/* 1 when the address (network byte order) is in the table, else 0 (also
 * for a NULL table or address). The IPv6 form matches an IPv4-mapped
 * address (::ffff:a.b.c.d) against IPv4 entries too, and the IPv4 form
 * matches IPv6 entries that cover its ::ffff:a.b.c.d. */
PP_API int pp_trust_match_ip4(const pp_trust *t, const uint8_t addr[4]);
PP_API int pp_trust_match_ip6(const pp_trust *t, const uint8_t addr[16]);

#ifndef PP_NO_SOCKETS
/* 1 when the socket address (AF_INET or AF_INET6) is in the table. */
PP_API int pp_trust_match_sockaddr(const pp_trust *t,
                                   const struct sockaddr *sa);
#endif

#if !defined(PP_NO_SOCKETS) && !defined(_WIN32)

/* ------------------------------------------------------------------------
 * Socket helpers: consume exactly the header from a connected stream
 * socket; every application byte stays in the kernel.
 * ---------------------------------------------------------------------- */

/* One non-blocking step (never blocks, whatever the socket's mode).
 * Only bytes proven to belong to the header are consumed: after an error,
 * those consumed so far are in buf[0 .. *have), so a server that falls
 * back to plain traffic on PP_ERR_NOT_PROXY can recover them. After a
 * success, application bytes may already be queued: with edge-triggered
 * polling, read before waiting again.
 * buf/cap is the header buffer: cap must hold the longest header hdr
 * allows (16 + 65535; hdr->max_len if lower; 107 with PP_F_NO_V2), else
 * PP_ERR_ARG; an event loop with many connections sets max_len. *have is
 * the bytes of it filled so far (0 at first); keep all three and hdr
 * unchanged between steps. Returns the header length once the whole header
 * was consumed (hdr parsed, buf holding it); PP_AGAIN when the caller must
 * wait for readability and call again; a parser PP_ERR_*; PP_ERR_CLOSED
 * when the peer closed first; PP_ERR_IO with errno kept. */
PP_API int pp_recv_step(int fd, pp_header *hdr, void *buf, size_t cap,
                        size_t *have);

/* Blocking form: loop over pp_recv_step with poll() until the header is
 * complete or timeout_ms milliseconds have passed (PP_ERR_TIMEOUT; a
 * negative timeout waits forever). Same results otherwise. hdr is not
 * zeroed here (its max_len and flags apply). When the header arrived in
 * pieces, bytes consumed before an error are not returned: use
 * pp_recv_step when a fallback needs them. */
PP_API int pp_recv_header(int fd, pp_header *hdr, void *buf, size_t cap,
                          int timeout_ms);
#endif

/* ------------------------------------------------------------------------
 * Datagrams: PROXY v2 at the start of each datagram (v1 is refused).
 * ---------------------------------------------------------------------- */

/* Parse the v2 header at the start of a datagram into hdr (zeroed here;
 * its max_len is kept, flags become PP_F_NO_V1) and point *payload / *payload_len at the rest.
 * Returns the header length, PP_ERR_VERSION_DISABLED for v1,
 * PP_ERR_TRUNCATED when the datagram ends inside the header, or another
 * parser error. */
PP_API int pp_dgram_parse(pp_header *hdr, const void *dgram, size_t len,
                          const uint8_t **payload, size_t *payload_len);

/* Write a v2 header for hdr (see pp_write_v2) followed by the payload into
 * out. Returns the datagram length needed; writes nothing when that is
 * more than cap. */
PP_API int pp_dgram_write(void *out, size_t cap, const pp_header *hdr,
                          const pp_v2_opts *opts, const void *payload,
                          size_t payload_len);

#ifdef __cplusplus
}
#endif

#endif /* PPHDR_H */
