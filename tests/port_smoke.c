/*
 * port_smoke - the library's public API on a new platform, in one program
 * with no dependencies: the parser (whole and byte by byte), both writers
 * (byte-exact output), CRC32C, the sockaddr helpers (INET, INET6, UNIX)
 * and the trust table with pp_trust_match_sockaddr.
 *
 * tests/portability.sh cross-compiles it for Windows (mingw-w64, run under
 * wine), s390x (big-endian, under qemu), i686 and armhf. The socket
 * addresses are built byte by byte (no inet_pton, no htons), so the program
 * needs no socket library: on Windows it links without ws2_32.
 *
 * Exit status 0 when every check passed, 1 otherwise (each failed check is
 * printed with its line).
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <string.h>

#include "pphdr.h"

#if !defined(_WIN32)
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

static int checks;
static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("port_smoke.c:%d: check failed: %s\n", __LINE__, #cond);    \
        }                                                                      \
    } while (0)

static const uint8_t ip4_src[4] = {192, 0, 2, 1};
static const uint8_t ip4_dst[4] = {198, 51, 100, 7};
static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0, 0, 0, 1};
static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
                                    0,    0,    0,    0,    0, 0, 0, 0x42};

/* A port in network byte order, written byte by byte. */
static void set_port(void *field, uint16_t port)
{
    uint8_t b[2];

    b[0] = (uint8_t)(port >> 8);
    b[1] = (uint8_t)(port & 0xff);
    memcpy(field, b, 2);
}

static uint16_t get_port(const void *field)
{
    uint8_t b[2];

    memcpy(b, field, 2);
    return (uint16_t)((b[0] << 8) | b[1]);
}

static struct sockaddr_in make_in4(const uint8_t ip[4], uint16_t port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    set_port(&sin.sin_port, port);
    memcpy(&sin.sin_addr, ip, 4);
    return sin;
}

static struct sockaddr_in6 make_in6(const uint8_t ip[16], uint16_t port)
{
    struct sockaddr_in6 sin6;

    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    set_port(&sin6.sin6_port, port);
    memcpy(&sin6.sin6_addr, ip, 16);
    return sin6;
}

static struct sockaddr_un make_un(const char *path)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    return sun;
}

/* Parse buf whole, then again byte by byte: the same answer each time. */
static int parse_both_ways(pp_header *hdr, const uint8_t *buf, size_t len)
{
    pp_header step;
    size_t i;
    int whole, rc = PP_INCOMPLETE;

    memset(hdr, 0, sizeof *hdr);
    whole = pp_parse(hdr, buf, len);
    memset(&step, 0, sizeof step);
    for (i = 1; i <= len && rc == PP_INCOMPLETE; i++)
        rc = pp_parse(&step, buf, i);
    CHECK(rc == whole);
    if (whole > 0) {
        CHECK(step.version == hdr->version);
        CHECK(step.family == hdr->family);
        CHECK(memcmp(step.src.ip, hdr->src.ip, 16) == 0);
        CHECK(step.src.port == hdr->src.port);
        CHECK(step.dst.port == hdr->dst.port);
    }
    return whole;
}

static void test_v1_parse(void)
{
    static const char line[] =
        "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n";
    static const char bad[] = "PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n";
    pp_header h;
    int n = parse_both_ways(&h, (const uint8_t *)line, sizeof line - 1);

    CHECK(n == 45);
    CHECK(h.version == 1 && h.family == PP_AF_INET);
    CHECK(memcmp(h.src.ip, ip4_src, 4) == 0);
    CHECK(memcmp(h.dst.ip, ip4_dst, 4) == 0);
    CHECK(h.src.port == 56324 && h.dst.port == 443);
    CHECK(pp_has_addresses(&h) == 1);
    CHECK(parse_both_ways(&h, (const uint8_t *)bad, sizeof bad - 1) ==
          PP_ERR_V1_ADDRESS);
    CHECK(strcmp(pp_status_name(PP_ERR_V1_ADDRESS), "v1_address") == 0);
}

static void test_crc32c(void)
{
    CHECK(pp_crc32c(0, "123456789", 9) == 0xE3069283u);
}

/* INET: sockaddrs to a header, the v1 line byte for byte, and back. */
static void test_inet(void)
{
    static const char want[] =
        "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    struct sockaddr_in src = make_in4(ip4_src, 56324);
    struct sockaddr_in dst = make_in4(ip4_dst, 443);
    struct sockaddr_storage ss;
    struct sockaddr_in back;
    socklen_t sslen = 0;
    pp_header h, p;
    char out[PP_V1_MAX_LEN];
    int n;

    CHECK(pp_header_from_sockaddr(&h, (const struct sockaddr *)&src,
                                  (const struct sockaddr *)&dst) == PP_OK);
    n = pp_write_v1(out, sizeof out, &h);
    CHECK(n == (int)sizeof want - 1 && memcmp(out, want, sizeof want - 1) == 0);
    CHECK(n > 0 && parse_both_ways(&p, (const uint8_t *)out, (size_t)n) == n);
    CHECK(pp_get_src(&p, &ss, &sslen) == PP_OK);
    CHECK(sslen == (socklen_t)sizeof back);
    memcpy(&back, &ss, sizeof back);
    CHECK(back.sin_family == AF_INET);
    CHECK(get_port(&back.sin_port) == 56324);
    CHECK(memcmp(&back.sin_addr, ip4_src, 4) == 0);
    CHECK(pp_get_dst(&p, &ss, &sslen) == PP_OK);
    memcpy(&back, &ss, sizeof back);
    CHECK(get_port(&back.sin_port) == 443);
    CHECK(memcmp(&back.sin_addr, ip4_dst, 4) == 0);
}

/* INET6: a v2 header with CRC32C and ALPN, byte for byte, and back. */
static void test_inet6(void)
{
    static const uint8_t want[] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
        0x54, 0x0a, 0x21, 0x21, 0x00, 0x30, /* signature, PROXY TCP6, 48 */
        0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,
        0,    0,    0,    0,    0,    1,    0x20, 0x01, 0x0d, 0xb8,
        0,    1,    0,    0,    0,    0,    0,    0,    0,    0,
        0,    0x42, 0xc3, 0x50, 0x01, 0xbb, /* ports 50000, 443 */
        0x03, 0x00, 0x04}; /* CRC32C TLV head; value checked apart */
    static const uint8_t alpn[] = {'h', '2'};
    struct sockaddr_in6 src = make_in6(ip6_src, 50000);
    struct sockaddr_in6 dst = make_in6(ip6_dst, 443);
    struct sockaddr_storage ss;
    struct sockaddr_in6 back;
    socklen_t sslen = 0;
    pp_header h, p;
    pp_tlv tlv;
    pp_v2_opts opts;
    pp_bytes got;
    uint8_t out[128];
    int n;

    CHECK(pp_header_from_sockaddr(&h, (const struct sockaddr *)&src,
                                  (const struct sockaddr *)&dst) == PP_OK);
    tlv.type = PP_TLV_ALPN;
    tlv.len = 2;
    tlv.value = alpn;
    memset(&opts, 0, sizeof opts);
    opts.tlvs = &tlv;
    opts.tlv_count = 1;
    opts.crc32c = 1;
    n = pp_write_v2(out, sizeof out, &h, &opts);
    CHECK(n == 16 + 36 + 7 + 5);
    CHECK(n > 0 && memcmp(out, want, sizeof want) == 0);
    CHECK(n > 0 && parse_both_ways(&p, out, (size_t)n) == n);
    CHECK(p.version == 2 && p.family == PP_AF_INET6);
    CHECK(pp_alpn(&p, &got) == 1 && got.len == 2 &&
          memcmp(got.ptr, "h2", 2) == 0);
    CHECK(pp_get_src(&p, &ss, &sslen) == PP_OK);
    CHECK(sslen == (socklen_t)sizeof back);
    memcpy(&back, &ss, sizeof back);
    CHECK(back.sin6_family == AF_INET6);
    CHECK(get_port(&back.sin6_port) == 50000);
    CHECK(memcmp(&back.sin6_addr, ip6_src, 16) == 0);
    CHECK(pp_get_dst(&p, &ss, &sslen) == PP_OK);
    memcpy(&back, &ss, sizeof back);
    CHECK(memcmp(&back.sin6_addr, ip6_dst, 16) == 0);
    /* A flipped byte breaks the CRC32C. */
    if (n > 20) {
        out[20] ^= 1;
        CHECK(parse_both_ways(&p, out, (size_t)n) == PP_ERR_CRC32C_MISMATCH);
    }
}

/* UNIX: a path through a v2 header and back into a sockaddr_un. */
static void test_unix(void)
{
    static const char path[] = "C:\\pphdr\\test.sock";
    struct sockaddr_un src = make_un(path);
    struct sockaddr_un dst = make_un("/run/app.sock");
    struct sockaddr_storage ss;
    struct sockaddr_un back;
    socklen_t sslen = 0;
    pp_header h, p;
    uint8_t out[256];
    int n;

    CHECK(pp_header_from_sockaddr(&h, (const struct sockaddr *)&src,
                                  (const struct sockaddr *)&dst) == PP_OK);
    CHECK(h.family == PP_AF_UNIX && h.src.path_len == sizeof path - 1);
    n = pp_write_v2(out, sizeof out, &h, NULL);
    CHECK(n == 16 + 216);
    CHECK(n > 15 && out[13] == 0x31);
    CHECK(n > 0 && parse_both_ways(&p, out, (size_t)n) == n);
    CHECK(p.family == PP_AF_UNIX && p.src.path_len == sizeof path - 1);
    CHECK(p.src.path != NULL && memcmp(p.src.path, path, sizeof path - 1) == 0);
    CHECK(pp_get_src(&p, &ss, &sslen) == PP_OK);
    CHECK(sslen == (socklen_t)sizeof back);
    memcpy(&back, &ss, sizeof back);
    CHECK(back.sun_family == AF_UNIX);
    CHECK(strcmp(back.sun_path, path) == 0);
}

static void test_trust(void)
{
    static const uint8_t mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                       0, 0, 0xff, 0xff, 192, 0, 2, 9};
    pp_trust_entry storage[4];
    pp_trust t;
    struct sockaddr_in in_yes = make_in4(ip4_src, 1);
    struct sockaddr_in in_no = make_in4(ip4_dst, 1);
    struct sockaddr_in6 in6_yes = make_in6(ip6_src, 1);
    struct sockaddr_in6 in6_mapped = make_in6(mapped, 1);
    struct sockaddr_in6 in6_no = make_in6(ip6_dst, 1);
    struct sockaddr_un un = make_un("/run/app.sock");

    pp_trust_init(&t, storage, 4);
    CHECK(pp_trust_add(&t, "192.0.2.0/24", 12, NULL) == PP_OK);
    CHECK(pp_trust_add(&t, "2001:db8::/48", 13, NULL) == PP_OK);
    pp_trust_build(&t);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&in_yes) == 1);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&in_no) == 0);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&in6_yes) == 1);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&in6_mapped) ==
          1);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&in6_no) == 0);
    CHECK(pp_trust_match_sockaddr(&t, (const struct sockaddr *)&un) == 0);
}

int main(void)
{
    CHECK(pp_version_number() == PP_VERSION_NUMBER);
    test_v1_parse();
    test_crc32c();
    test_inet();
    test_inet6();
    test_unix();
    test_trust();
    if (failures != 0) {
        printf("port_smoke: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("port_smoke: all %d checks passed\n", checks);
    return 0;
}
