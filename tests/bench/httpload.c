/*
 * httpload - HTTP/1.1 load generator and backend for tests/bench/http_bench.sh.
 *
 *   httpload backend PORT
 *       Accept on 127.0.0.1:PORT; answer every request (head, then a
 *       Content-Length body) with "HTTP/1.1 200 OK", a 2-byte body; keep
 *       the connection unless the request says "Connection: close".
 *       epoll, one thread, no allocation per request.
 *   httpload keepalive PORT CONCURRENCY SECONDS BODY
 *       CONCURRENCY connections to 127.0.0.1:PORT, each starting with a
 *       PROXY v2 header (TCP4, 28 bytes), then POST requests with BODY
 *       bytes, one at a time per connection, for SECONDS.
 *   httpload close PORT CONCURRENCY SECONDS BODY
 *       The same with one request per connection ("Connection: close"):
 *       connect, header, request, read the response to EOF, close, again.
 *
 * The client modes print "requests: N in S s = R req/s, errors E" and
 * exit 1 when a response is not "HTTP/1.1 200" or is cut short.
 * Standalone (no pphdr, no HTTP library): the PROXY header is built by hand
 * as a load balancer would send it. Linux only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_CONC 4096
#define BUF 16384

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* Content-Length of the head in buf[0..n), -1 if absent (case-insensitive). */
static long content_length(const char *buf, size_t n)
{
    static const char name[] = "\r\ncontent-length:";
    size_t i, k;

    for (i = 0; i + sizeof name - 1 < n; i++) {
        for (k = 0; k < sizeof name - 1; k++) {
            char c = buf[i + k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != name[k])
                break;
        }
        if (k == sizeof name - 1)
            return strtol(buf + i + k, NULL, 10);
    }
    return -1;
}

static int has_close(const char *buf, size_t n)
{
    return memmem(buf, n, "Connection: close", 17) != NULL;
}

/* ---------------------------------------------------------------- backend */

struct bconn {
    int fd;
    int started; /* a leading PROXY v2 header was looked for */
    size_t len;
    char buf[BUF];
};

static void backend(int port)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct sockaddr_in sa = loopback(port);
    struct epoll_event ev, evs[MAX_EVENTS];
    int one = 1, lfd, ep;

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, 4096) < 0)
        die("bind/listen");
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1), i;
        for (i = 0; i < n; i++) {
            struct bconn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof *c);
                    if (c == NULL)
                        die("calloc");
                    c->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
                int closing = 0;
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN)
                        break;
                    goto drop;
                }
                c->len += (size_t)r;
                if (!c->started) { /* a direct run: skip the PROXY v2 header */
                    size_t hl;
                    if (c->len < 16)
                        continue;
                    c->started = 1;
                    if (memcmp(c->buf, "\r\n\r\n\0\r\nQUIT\n", 12) == 0) {
                        hl = 16 + ((size_t)(uint8_t)c->buf[14] << 8) +
                            (uint8_t)c->buf[15];
                        if (c->len < hl)
                            goto drop;
                        memmove(c->buf, c->buf + hl, c->len - hl);
                        c->len -= hl;
                    }
                }
                for (;;) { /* every complete request in the buffer */
                    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
                    size_t hl, total;
                    long cl;
                    if (end == NULL) {
                        if (c->len == BUF)
                            goto drop;
                        break;
                    }
                    hl = (size_t)(end - c->buf) + 4;
                    cl = content_length(c->buf, hl);
                    total = hl + (size_t)(cl > 0 ? cl : 0);
                    if (total > BUF)
                        goto drop;
                    if (c->len < total)
                        break;
                    closing = has_close(c->buf, hl);
                    if (write(c->fd, resp, sizeof resp - 1) !=
                        (ssize_t)sizeof resp - 1)
                        goto drop;
                    memmove(c->buf, c->buf + total, c->len - total);
                    c->len -= total;
                    if (closing)
                        goto drop;
                }
            }
            continue;
        drop:
            close(c->fd); /* also leaves the epoll set */
            free(c);
        }
    }
}

/* ----------------------------------------------------------------- client */

struct cconn {
    int fd;
    size_t got;  /* bytes of the current response */
    size_t want; /* its whole length once the head is in, else 0 */
    char buf[BUF];
};

static char proxy_hdr[28];
static char request[BUF];
static size_t request_len;
static int close_mode;
static long done_reqs, errors;

static void build(size_t body)
{
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static const uint8_t rest[16] = {0x21, 0x11, 0x00, 0x0C, 203, 0,
                                     113,  7,    192,  0,    2,   1,
                                     0x9C, 0x40, 0x01, 0xBB};
    int n;

    memcpy(proxy_hdr, sig, 12);
    memcpy(proxy_hdr + 12, rest, 16);
    n = snprintf(
        request, sizeof request,
        "POST /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: httpload\r\n"
        "X-Forwarded-For: 6.6.6.6\r\n%sContent-Length: %zu\r\n\r\n",
        close_mode ? "Connection: close\r\n" : "", body);
    if (n < 0 || (size_t)n + body > sizeof request) {
        fprintf(stderr, "body too large\n");
        exit(2);
    }
    memset(request + n, 'b', body);
    request_len = (size_t)n + body;
}

static void start(int ep, struct cconn *c, int port)
{
    struct sockaddr_in sa = loopback(port);
    struct epoll_event ev;
    struct iovec iov[2];
    struct msghdr mh;
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        die("socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    /* header and first request in one write, as a balancer would */
    iov[0].iov_base = proxy_hdr;
    iov[0].iov_len = sizeof proxy_hdr;
    iov[1].iov_base = request;
    iov[1].iov_len = request_len;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) !=
        (ssize_t)(sizeof proxy_hdr + request_len))
        die("send");
    c->got = 0;
    c->want = 0;
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void finish(struct cconn *c)
{
    if (c->got < 12 || memcmp(c->buf, "HTTP/1.1 200", 12) != 0)
        errors++;
    else
        done_reqs++;
}

static int client(int port, int conc, double secs, size_t body)
{
    struct epoll_event evs[MAX_EVENTS];
    struct cconn *cs;
    double t0, t_end, t;
    int ep, i;

    if (conc < 1 || conc > MAX_CONC) {
        fprintf(stderr, "concurrency 1..%d\n", MAX_CONC);
        return 2;
    }
    build(body);
    cs = calloc((size_t)conc, sizeof *cs);
    if (cs == NULL)
        die("calloc");
    ep = epoll_create1(0);
    t0 = now_s();
    t_end = t0 + secs;
    for (i = 0; i < conc; i++)
        start(ep, &cs[i], port);
    while ((t = now_s()) < t_end) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 100);
        for (i = 0; i < n; i++) {
            struct cconn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->got, BUF - c->got);
            if (r > 0) {
                c->got += (size_t)r;
                if (c->want == 0) {
                    char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
                    if (end != NULL) {
                        size_t hl = (size_t)(end - c->buf) + 4;
                        long cl = content_length(c->buf, hl);
                        c->want = hl + (size_t)(cl > 0 ? cl : 0);
                    } else if (c->got == BUF) {
                        errors++;
                        r = 0;
                    }
                }
                if (r > 0 && (c->want == 0 || c->got < c->want))
                    continue;
                if (r > 0 && !close_mode) {
                    finish(c);
                    c->got = 0;
                    c->want = 0;
                    if (write(c->fd, request, request_len) !=
                        (ssize_t)request_len)
                        die("write");
                    continue;
                }
                if (r > 0)
                    continue; /* close mode: read on to the end of stream */
            } else if (r < 0 && errno == EAGAIN) {
                continue;
            }
            /* end of stream (or a full buffer): one request per connection */
            if (close_mode && c->want != 0 && c->got >= c->want)
                finish(c);
            else if (r <= 0)
                errors++;
            {
                struct linger lg = {1,
                                    0}; /* RST: no TIME_WAIT on either side */
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close(c->fd);
            start(ep, c, port);
        }
    }
    t = now_s() - t0;
    printf("requests: %ld in %.2f s = %.0f req/s, errors %ld\n", done_reqs, t,
           (double)done_reqs / t, errors);
    return errors > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "backend") == 0) {
        backend(atoi(argv[2]));
        return 0;
    }
    if (argc == 6 &&
        (strcmp(argv[1], "keepalive") == 0 || strcmp(argv[1], "close") == 0)) {
        close_mode = strcmp(argv[1], "close") == 0;
        return client(atoi(argv[2]), atoi(argv[3]), atof(argv[4]),
                      (size_t)strtoul(argv[5], NULL, 10));
    }
    fprintf(stderr,
            "usage: httpload backend PORT\n"
            "       httpload keepalive|close PORT CONCURRENCY SECONDS BODY\n");
    return 2;
}
