/*
 * own_buffer - PROXY support in a server that owns its read buffer.
 *
 *   own_buffer ADDR PORT TIMEOUT_MS CIDR [CIDR ...]
 *
 * Event-driven servers (nginx, most epoll servers) read whatever is there
 * into a buffer of their own; they cannot let a library read the socket.
 * The pattern: after each read, call pp_parse() over ALL bytes held so far
 * (the pp_header keeps the parser's progress). PP_INCOMPLETE means "read
 * more": a header split across TCP segments is normal. Once it returns the
 * header length n, buf[n .. len) is application data, handed to the
 * application from the same buffer: never read again, never peeked.
 *
 * The application reads one request line and answers "HTTP/1.0 200 OK ...
 * client ADDR:PORT sent: LINE", then closes. Peers outside the CIDRs are
 * closed unread; header and request line must come within TIMEOUT_MS. One
 * line per connection on standard output. Level-triggered epoll, one read()
 * per readiness event, a fixed table of connections.
 */
#define _GNU_SOURCE /* accept4 */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pphdr.h"

#define MAX_CONNS 128
#define HEADER_MAX 4096 /* longest PROXY header accepted */

struct conn {
    int fd;             /* -1: free slot */
    long long deadline; /* monotonic ms: header and request line by then */
    size_t len;         /* bytes held in buf */
    size_t app_start;   /* header length once parsed, else 0 */
    pp_header hdr;
    char client[64];   /* who the client is, once known */
    uint8_t buf[8192]; /* the server's own buffer: header + request */
};

static struct conn conns[MAX_CONNS];
static pp_trust trusted;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for MONOTONIC */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_addr(const struct sockaddr_storage *ss, socklen_t len,
                        char out[64])
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, 64, "?");
    else
        snprintf(out, 64, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                 port);
}

static void finish(struct conn *c, const char *why)
{
    printf("%s %s\n", why, c->client);
    if (close(c->fd) != 0) /* also removes it from the epoll set */
        perror("close");
    c->fd = -1;
}

/* The application: called with the bytes after the header, from the same
 * buffer. Answers once a whole request line is there. */
static void application(struct conn *c, const uint8_t *data, size_t len)
{
    const uint8_t *lf = memchr(data, '\n', len);
    char out[1024];
    size_t line;
    int n;

    if (lf == NULL) {
        if (c->len == sizeof c->buf)
            finish(c, "error line_too_long from");
        return; /* wait for the rest of the line */
    }
    line = (size_t)(lf - data);
    if (line > 0 && data[line - 1] == '\r')
        line--;
    n = snprintf(out, sizeof out,
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                 "Connection: close\r\n\r\nclient %s sent: %.*s\n",
                 c->client, (int)(line > 512 ? 512 : line), (const char *)data);
    /* Under 1 KB into an empty socket buffer: a short send cannot happen
     * without an error, and either way the connection ends here. */
    if (n < 0 || send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n)
        finish(c, "error send to");
    else
        finish(c, "answered");
}

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return; /* level-triggered: epoll reports it again */
    if (n <= 0) {
        finish(c, n == 0 ? "error closed from" : "error io from");
        return;
    }
    c->len += (size_t)n;
    if (c->app_start == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char why[64];
        int rc = pp_parse(&c->hdr, c->buf, c->len);
        if (rc == PP_INCOMPLETE)
            return; /* a valid prefix: read more, it is not an error */
        if (rc < 0) {
            snprintf(why, sizeof why, "error %s from", pp_status_name(rc));
            finish(c, why);
            return;
        }
        c->app_start = (size_t)rc;
        /* LOCAL, UNKNOWN (health checks), UNIX: the peer stands for it. */
        if (pp_has_addresses(&c->hdr) && c->hdr.family != PP_AF_UNIX) {
            if (pp_get_src(&c->hdr, &ss, &sl) != PP_OK) {
                finish(c, "error no_source from");
                return;
            }
            format_addr(&ss, sl, c->client);
        }
    }
    application(c, c->buf + c->app_start, c->len - c->app_start);
}

static void on_accept(int ep, int lfd, long timeout_ms)
{
    struct sockaddr_storage peer = {0};
    socklen_t len = sizeof peer;
    struct epoll_event ev = {.events = EPOLLIN};
    struct conn *c = NULL;
    int fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK), i;

    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            perror("accept4");
        return;
    }
    for (i = 0; i < MAX_CONNS && c == NULL; i++)
        c = conns[i].fd < 0 ? &conns[i] : NULL;
    if (c == NULL) {
        printf("full\n");
        close(fd); /* nothing read; a close error changes nothing here */
        return;
    }
    c->fd = fd;
    format_addr(&peer, len, c->client);
    if (!pp_trust_match_sockaddr(&trusted, (struct sockaddr *)&peer)) {
        finish(c, "untrusted"); /* closed before reading a byte */
        return;
    }
    c->len = c->app_start = 0;
    c->deadline = now_ms() + timeout_ms;
    pp_header_init(&c->hdr);
    c->hdr.max_len = HEADER_MAX;
    ev.data.u32 = (uint32_t)(c - conns);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll_ctl");
        finish(c, "error epoll for");
    }
}

int main(int argc, char **argv)
{
    static pp_trust_entry storage[64];
    struct addrinfo hints = {0}, *ai;
    struct epoll_event ev = {.events = EPOLLIN}, events[64];
    long timeout_ms;
    int lfd, ep, i, one = 1;
    char *end;

    if (argc < 5 || (timeout_ms = strtol(argv[3], &end, 10)) <= 0 ||
        *end != '\0' || timeout_ms > 3600000) {
        fprintf(stderr, "usage: own_buffer ADDR PORT TIMEOUT_MS CIDR...\n");
        return 2;
    }
    pp_trust_init(&trusted, storage, sizeof storage / sizeof storage[0]);
    for (i = 4; i < argc; i++) {
        int rc = pp_trust_add(&trusted, argv[i], strlen(argv[i]), NULL);
        if (rc != PP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], pp_strerror(rc));
            return 2;
        }
    }
    pp_trust_build(&trusted);
    for (i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if ((i = getaddrinfo(argv[1], argv[2], &hints, &ai)) != 0) {
        fprintf(stderr, "%s %s: %s\n", argv[1], argv[2], gai_strerror(i));
        return 1;
    }
    ev.data.u32 = MAX_CONNS; /* the listening socket */
    if ((lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(lfd, 128) != 0 ||
        (ep = epoll_create1(0)) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("listen");
        return 1; /* exiting closes everything */
    }
    freeaddrinfo(ai);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s port %s\n", argv[1], argv[2]);

    for (;;) {
        long long now = now_ms(), next = now + 1000;
        int n;
        for (i = 0; i < MAX_CONNS; i++) { /* the deadlines */
            if (conns[i].fd >= 0 && conns[i].deadline <= now)
                finish(&conns[i], "error timeout from");
            else if (conns[i].fd >= 0 && conns[i].deadline < next)
                next = conns[i].deadline;
        }
        n = epoll_wait(ep, events, 64, (int)(next - now));
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) { /* a slot's fd appears once per batch */
            uint32_t slot = events[i].data.u32;
            if (slot == MAX_CONNS)
                on_accept(ep, lfd, timeout_ms);
            else if (conns[slot].fd >= 0)
                on_readable(&conns[slot]);
        }
    }
}
