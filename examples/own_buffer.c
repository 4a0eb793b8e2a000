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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pphdr.h"

#define MAX_CONNS 128
#define MAX_TRUSTED 64
#define HEADER_MAX 4096 /* longest PROXY header accepted */

struct conn {
    int fd;             /* -1: free slot */
    long long deadline; /* monotonic ms */
    size_t len;         /* bytes held in buf */
    size_t app_start;   /* header length once parsed, else 0 */
    pp_header hdr;
    char client[160];  /* who the client is, once known */
    uint8_t buf[8192]; /* the server's own buffer: header + request */
};

static struct conn conns[MAX_CONNS];
static pp_trust trusted;
static int timeout_ms;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for MONOTONIC */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_addr(const struct sockaddr_storage *ss, socklen_t len,
                        char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                 host, port);
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
    /* The reply fits in an empty socket buffer; a short or failed send
     * just ends the connection, as finish() does anyway. */
    if (n < 0 || send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n)
        finish(c, "error send to");
    else
        finish(c, "answered");
}

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        finish(c, n == 0 ? "error closed from" : "error io from");
        return;
    }
    c->len += (size_t)n;
    if (c->app_start == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int rc = pp_parse(&c->hdr, c->buf, c->len);
        if (rc == PP_INCOMPLETE)
            return; /* a valid prefix: read more, it is not an error */
        if (rc < 0) {
            printf("error %s ", pp_status_name(rc));
            finish(c, "from");
            return;
        }
        c->app_start = (size_t)rc;
        /* LOCAL, UNKNOWN (health checks), UNIX: the peer stands for it. */
        if (pp_has_addresses(&c->hdr) && c->hdr.family != PP_AF_UNIX) {
            if (pp_get_src(&c->hdr, &ss, &sl) != PP_OK) {
                finish(c, "error no_source from");
                return;
            }
            format_addr(&ss, sl, c->client, sizeof c->client);
        }
    }
    application(c, c->buf + c->app_start, c->len - c->app_start);
}

static void on_accept(int ep, int lfd)
{
    struct sockaddr_storage peer = {0};
    socklen_t len = sizeof peer;
    struct epoll_event ev;
    struct conn *c = NULL;
    int fd, i;

    fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            perror("accept4");
        return;
    }
    for (i = 0; i < MAX_CONNS && c == NULL; i++)
        if (conns[i].fd < 0)
            c = &conns[i];
    if (c == NULL ||
        !pp_trust_match_sockaddr(&trusted, (struct sockaddr *)&peer)) {
        char who[160];
        format_addr(&peer, len, who, sizeof who);
        printf("%s %s\n", c == NULL ? "full" : "untrusted", who);
        close(fd); /* nothing read; a close error changes nothing here */
        return;
    }
    c->fd = fd;
    c->len = c->app_start = 0;
    c->deadline = now_ms() + timeout_ms;
    pp_header_init(&c->hdr);
    c->hdr.max_len = HEADER_MAX;
    format_addr(&peer, len, c->client, sizeof c->client);
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)(c - conns);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll_ctl");
        finish(c, "error epoll for");
    }
}

int main(int argc, char **argv)
{
    static pp_trust_entry storage[MAX_TRUSTED];
    struct addrinfo hints = {0}, *ai;
    struct epoll_event ev, events[64];
    int lfd, ep, i, one = 1;

    if (argc < 5) {
        fprintf(stderr, "usage: own_buffer ADDR PORT TIMEOUT_MS CIDR...\n");
        return 2;
    }
    timeout_ms = atoi(argv[3]);
    pp_trust_init(&trusted, storage, MAX_TRUSTED);
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
        fprintf(stderr, "%s: %s\n", argv[1], gai_strerror(i));
        return 1;
    }
    lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(lfd, 128) != 0 ||
        (ep = epoll_create1(0)) < 0) {
        perror("listen");
        return 1; /* exiting closes everything */
    }
    freeaddrinfo(ai);
    ev.events = EPOLLIN;
    ev.data.u32 = MAX_CONNS; /* the listening socket */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("epoll_ctl");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s port %s\n", argv[1], argv[2]);

    for (;;) {
        long long now = now_ms(), next = now + 1000;
        int n;
        for (i = 0; i < MAX_CONNS; i++) { /* the header deadline */
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
        for (i = 0; i < n; i++) {
            uint32_t slot = events[i].data.u32;
            if (slot == MAX_CONNS)
                on_accept(ep, lfd);
            else if (conns[slot].fd >= 0)
                on_readable(&conns[slot]);
        }
    }
}
