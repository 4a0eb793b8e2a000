/*
 * ppsend - send one PROXY header written by pphdr, then an HTTP request.
 *
 * A test client for real receivers (HAProxy "accept-proxy", nginx "listen
 * ... proxy_protocol"): it connects to HOST PORT, builds a header with the
 * public API only (pp_header_from_sockaddr, pp_write_v1 / pp_write_v2 with
 * TLVs and CRC32C), sends it in ONE write() as real receivers require,
 * then sends "GET PATH HTTP/1.1" in a second write and copies the response
 * to standard output until the receiver closes.
 *
 * Usage:
 *
 *   ppsend [options] HOST PORT
 *
 *   -1, -2              PROXY protocol version (default 2)
 *   --src IP --sport N  source address the header claims
 *   --dst IP --dport N  destination address the header claims
 *                       (both default to the connection's own endpoints;
 *                       an IPv4 and an IPv6 side make a TCP6 header with
 *                       the IPv4 side as ::ffff:a.b.c.d)
 *   --local             v2 LOCAL command (no addresses)
 *   --unknown           v1 "PROXY UNKNOWN"
 *   --crc32c            add a CRC32C TLV
 *   --bad-crc           then corrupt its value (a receiver must refuse)
 *   --authority TEXT    add an AUTHORITY TLV
 *   --unique-id TEXT    add a UNIQUE_ID TLV
 *   --alpn TEXT         add an ALPN TLV
 *   --pad-align N       pad with NOOP to a multiple of N bytes
 *   --path PATH         request path (default /)
 *   --timeout MS        give up reading the response after MS (default 5000)
 *
 * On standard error: "ppsend: local ADDR PORT" (the connection's real
 * source, which a receiver must report for LOCAL and UNKNOWN) and
 * "ppsend: header N bytes HEX". Exit status 0 when the header was sent and
 * the receiver answered something, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200112L

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "pphdr.h"

#define MAX_TLVS 8

struct options {
    int version;
    int local, unknown, crc32c, bad_crc;
    const char *src, *dst, *sport, *dport;
    const char *path;
    const char *host, *port;
    size_t pad_align;
    int timeout_ms;
    pp_tlv tlvs[MAX_TLVS];
    size_t tlv_count;
};

static int usage(void)
{
    fputs("usage: ppsend [-1|-2] [--src IP --sport N] [--dst IP --dport N]\n"
          "              [--local] [--unknown] [--crc32c] [--bad-crc]\n"
          "              [--authority T] [--unique-id T] [--alpn T]\n"
          "              [--pad-align N] [--path P] [--timeout MS] HOST PORT\n",
          stderr);
    return 1;
}

static int add_tlv(struct options *o, uint8_t type, const char *text)
{
    size_t len = strlen(text);
    if (o->tlv_count == MAX_TLVS || len > 65535u)
        return -1;
    o->tlvs[o->tlv_count].type = type;
    o->tlvs[o->tlv_count].len = (uint16_t)len;
    o->tlvs[o->tlv_count].value = (const uint8_t *)text;
    o->tlv_count++;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->version = 2;
    o->path = "/";
    o->timeout_ms = 5000;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "-1") == 0) {
            o->version = 1;
            takes = 0;
        } else if (strcmp(a, "-2") == 0) {
            o->version = 2;
            takes = 0;
        } else if (strcmp(a, "--local") == 0) {
            o->local = 1;
            takes = 0;
        } else if (strcmp(a, "--unknown") == 0) {
            o->unknown = 1;
            takes = 0;
        } else if (strcmp(a, "--crc32c") == 0) {
            o->crc32c = 1;
            takes = 0;
        } else if (strcmp(a, "--bad-crc") == 0) {
            o->bad_crc = 1;
            takes = 0;
        } else if (v == NULL && a[0] == '-')
            return -1;
        else if (strcmp(a, "--src") == 0)
            o->src = v;
        else if (strcmp(a, "--dst") == 0)
            o->dst = v;
        else if (strcmp(a, "--sport") == 0)
            o->sport = v;
        else if (strcmp(a, "--dport") == 0)
            o->dport = v;
        else if (strcmp(a, "--path") == 0)
            o->path = v;
        else if (strcmp(a, "--pad-align") == 0)
            o->pad_align = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--timeout") == 0)
            o->timeout_ms = atoi(v);
        else if (strcmp(a, "--authority") == 0) {
            if (add_tlv(o, PP_TLV_AUTHORITY, v) != 0)
                return -1;
        } else if (strcmp(a, "--unique-id") == 0) {
            if (add_tlv(o, PP_TLV_UNIQUE_ID, v) != 0)
                return -1;
        } else if (strcmp(a, "--alpn") == 0) {
            if (add_tlv(o, PP_TLV_ALPN, v) != 0)
                return -1;
        } else if (a[0] == '-')
            return -1;
        else {
            takes = 0;
            if (o->host == NULL)
                o->host = a;
            else if (o->port == NULL)
                o->port = a;
            else
                return -1;
        }
        i += takes;
    }
    if (o->host == NULL || o->port == NULL)
        return -1;
    if ((o->src == NULL) != (o->sport == NULL) ||
        (o->dst == NULL) != (o->dport == NULL))
        return -1;
    if ((o->local && o->version != 2) || (o->unknown && o->version != 1))
        return -1;
    if (o->bad_crc && !o->crc32c)
        return -1;
    return 0;
}

/* A numeric address and port as a sockaddr (IPv4 or IPv6). */
static int make_sockaddr(const char *ip, const char *port,
                         struct sockaddr_storage *ss)
{
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    memset(ss, 0, sizeof *ss);
    if (*port == '\0' || *end != '\0' || p > 65535u)
        return -1;
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) != 1)
            return -1;
        memcpy(ss, &sin6, sizeof sin6);
    } else {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
            return -1;
        memcpy(ss, &sin, sizeof sin);
    }
    return 0;
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ppsend: %s %s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        fprintf(stderr, "ppsend: connect %s %s: %s\n", host, port,
                strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static void print_local(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN], port[8];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, addr, sizeof addr, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "ppsend: local ? ?\n");
        return;
    }
    fprintf(stderr, "ppsend: local %s %s\n", addr, port);
}

/* Fill hdr from the options and the connection's own endpoints. */
static int build_header(int fd, const struct options *o, pp_header *hdr)
{
    struct sockaddr_storage own_src, own_dst, src, dst;
    socklen_t len = sizeof own_src;
    if (getsockname(fd, (struct sockaddr *)&own_src, &len) != 0)
        return -1;
    len = sizeof own_dst;
    if (getpeername(fd, (struct sockaddr *)&own_dst, &len) != 0)
        return -1;
    src = own_src;
    dst = own_dst;
    if (o->src != NULL && make_sockaddr(o->src, o->sport, &src) != 0)
        return -1;
    if (o->dst != NULL && make_sockaddr(o->dst, o->dport, &dst) != 0)
        return -1;
    if (pp_header_from_sockaddr(hdr, (const struct sockaddr *)&src,
                                (const struct sockaddr *)&dst) != PP_OK)
        return -1;
    if (o->local)
        hdr->command = PP_CMD_LOCAL;
    if (o->unknown) {
        hdr->family = PP_AF_UNSPEC;
        hdr->transport = PP_TRANSPORT_UNSPEC;
    }
    return 0;
}

/* Write the header into buf; its length, or -1. */
static int write_header(const struct options *o, const pp_header *hdr,
                        uint8_t *buf, size_t cap)
{
    pp_v2_opts v2;
    int n;
    if (o->version == 1)
        return (n = pp_write_v1(buf, cap, hdr)) > 0 && (size_t)n <= cap ? n
                                                                        : -1;
    memset(&v2, 0, sizeof v2);
    v2.tlvs = o->tlvs;
    v2.tlv_count = o->tlv_count;
    v2.crc32c = o->crc32c;
    v2.pad_align = o->pad_align;
    n = pp_write_v2(buf, cap, hdr, &v2);
    return n > 0 && (size_t)n <= cap ? n : -1;
}

/* The header must parse back to itself; --bad-crc then breaks it. */
static int check_and_corrupt(const struct options *o, uint8_t *buf, int n)
{
    pp_header back;
    pp_tlv crc;
    int rc;
    pp_header_init(&back);
    rc = pp_parse(&back, buf, (size_t)n);
    if (rc != n) {
        fprintf(stderr, "ppsend: own header parses as %d (%s)\n", rc,
                pp_status_name(rc));
        return -1;
    }
    if (o->bad_crc) {
        if (!pp_tlv_find(&back, PP_TLV_CRC32C, &crc) || crc.len != 4)
            return -1;
        buf[(size_t)(crc.value - buf) + 3] ^= 0x01;
    }
    return 0;
}

static int send_all(int fd, const void *p, size_t n)
{
    ssize_t w = write(fd, p, n); /* one write: no partial header */
    return w >= 0 && (size_t)w == n ? 0 : -1;
}

/* Copy the response to stdout until EOF or timeout; bytes read, or -1. */
static long relay_response(int fd, int timeout_ms)
{
    char buf[4096];
    long total = 0;
    for (;;) {
        struct pollfd pfd;
        ssize_t r;
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return total;
        r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return r < 0 && total == 0 ? -1 : total;
        fwrite(buf, 1, (size_t)r, stdout);
        total += r;
    }
}

int main(int argc, char **argv)
{
    struct options o;
    pp_header hdr;
    uint8_t buf[1024];
    char request[512];
    int fd, n, i, req_len, bracket;
    long got;

    if (parse_args(argc, argv, &o) != 0)
        return usage();
    fd = connect_to(o.host, o.port);
    if (fd < 0)
        return 1;
    print_local(fd);
    if (build_header(fd, &o, &hdr) != 0 ||
        (n = write_header(&o, &hdr, buf, sizeof buf)) < 0 ||
        check_and_corrupt(&o, buf, n) != 0) {
        fprintf(stderr, "ppsend: cannot build the header\n");
        close(fd);
        return 1;
    }
    fprintf(stderr, "ppsend: header %d bytes ", n);
    for (i = 0; i < n; i++)
        fprintf(stderr, "%02x", buf[i]);
    fputc('\n', stderr);

    bracket = strchr(o.host, ':') != NULL; /* IPv6 in a Host header */
    req_len = snprintf(request, sizeof request,
                       "GET %s HTTP/1.1\r\nHost: %s%s%s\r\n"
                       "User-Agent: ppsend\r\nConnection: close\r\n\r\n",
                       o.path, bracket ? "[" : "", o.host, bracket ? "]" : "");
    if (req_len < 0 || (size_t)req_len >= sizeof request ||
        send_all(fd, buf, (size_t)n) != 0 ||
        send_all(fd, request, (size_t)req_len) != 0) {
        fprintf(stderr, "ppsend: write: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    got = relay_response(fd, o.timeout_ms);
    close(fd);
    fflush(stdout);
    return got > 0 ? 0 : 1;
}
