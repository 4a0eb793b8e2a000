/*
 * uv_server - PROXY support in a libuv server.
 *
 *   uv_server ADDR PORT TIMEOUT_MS CIDR [CIDR ...]
 *
 * In libuv the loop owns the socket and the read callback gets whatever
 * arrived. Each connection has one buffer (alloc_cb hands out its free
 * tail) and a current handler. The first, header_phase, calls pp_parse()
 * over all bytes held and waits while it says PP_INCOMPLETE. Once the
 * header is complete it switches the connection to the application's
 * handler and calls it at once with the leftover bytes (those after the
 * header in the same read, which would otherwise be lost).
 *
 * The application reads one request line and answers "HTTP/1.0 200 OK ...
 * client ADDR:PORT sent: LINE", then closes. Peers outside the CIDRs are
 * closed unread; a uv_timer closes a connection that has not sent its
 * header and request line within TIMEOUT_MS. One line per connection on
 * standard output.
 */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types */

#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "pphdr.h"

struct conn;
typedef void handler_fn(struct conn *c, const uint8_t *data, size_t len);

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    int open_handles;    /* freed when both handles are closed */
    handler_fn *handler; /* header_phase, then application */
    size_t len;          /* bytes held in buf */
    size_t app_start;    /* header length once parsed, else 0 */
    pp_header hdr;
    char client[64];
    char out[1024];
    uint8_t buf[8192];
};

static pp_trust trusted;
static long timeout_ms;

static void format_addr(const struct sockaddr_storage *ss, char out[64])
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo((const struct sockaddr *)ss, sizeof *ss, host, sizeof host,
                    port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, 64, "?");
    else
        snprintf(out, 64, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                 port);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

/* Once per connection; a pending write gets its callback (UV_ECANCELED)
 * before the close callbacks free c. */
static void finish(struct conn *c, const char *why)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    printf("%s %s\n", why, c->client);
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, "error timeout from");
}

static void on_written(uv_write_t *req, int status)
{
    finish(req->data, status == 0 ? "answered" : "error write to");
}

/* The application's handler: all bytes after the header so far. */
static void application(struct conn *c, const uint8_t *data, size_t len)
{
    const uint8_t *lf = memchr(data, '\n', len);
    size_t line;
    uv_buf_t b;
    int n;

    if (lf == NULL) {
        if (c->len == sizeof c->buf)
            finish(c, "error line_too_long from");
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp); /* one request per connection */
    line = (size_t)(lf - data);
    if (line > 0 && data[line - 1] == '\r')
        line--;
    n = snprintf(c->out, sizeof c->out,
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                 "Connection: close\r\n\r\nclient %s sent: %.*s\n",
                 c->client, (int)(line > 512 ? 512 : line), (const char *)data);
    b = uv_buf_init(c->out, n < 0 ? 0 : (unsigned)n);
    c->write_req.data = c;
    if (n < 0 || /* uv_write sends it all (or fails) */
        uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        finish(c, "error write to");
}

/* The first handler: the PROXY header, from the first byte held. */
static void header_phase(struct conn *c, const uint8_t *data, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char why[64];
    int rc = pp_parse(&c->hdr, data, len);

    if (rc == PP_INCOMPLETE)
        return; /* a valid prefix: wait for more, it is not an error */
    if (rc < 0) {
        snprintf(why, sizeof why, "error %s from", pp_status_name(rc));
        finish(c, why);
        return;
    }
    /* LOCAL, UNKNOWN (health checks), UNIX: the peer stands for it. */
    if (pp_has_addresses(&c->hdr) && c->hdr.family != PP_AF_UNIX) {
        if (pp_get_src(&c->hdr, &ss, &sl) != PP_OK) {
            finish(c, "error no_source from");
            return;
        }
        format_addr(&ss, c->client);
    }
    c->app_start = (size_t)rc;
    c->handler = application;
    application(c, data + rc, len - (size_t)rc); /* the leftover bytes */
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)hint;
    /* The free tail of the connection's buffer; 0 bytes: UV_ENOBUFS. */
    *b = uv_buf_init((char *)c->buf + c->len,
                     (unsigned)(sizeof c->buf - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (nread == 0)
        return; /* EAGAIN: nothing new */
    if (nread < 0) {
        finish(c, nread == UV_EOF ? "error closed from" : "error read from");
        return;
    }
    c->len += (size_t)nread;
    c->handler(c, c->buf + c->app_start, c->len - c->app_start);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct sockaddr_storage peer = {0};
    int len = sizeof peer;
    struct conn *c;

    if (status != 0) {
        fprintf(stderr, "listen: %s\n", uv_strerror(status));
        return;
    }
    /* Until uv_accept() is called libuv stops watching the listener: a
     * connection cannot be left waiting, so no memory is fatal. */
    c = calloc(1, sizeof *c);
    if (c == NULL || uv_tcp_init(server->loop, &c->tcp) != 0 ||
        uv_timer_init(server->loop, &c->timer) != 0) {
        fprintf(stderr, "uv_server: cannot take a connection\n");
        exit(1);
    }
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->handler = header_phase;
    c->hdr.max_len = 4096; /* calloc zeroed the rest of the header */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) != 0) {
        finish(c, "error accept");
        return;
    }
    format_addr(&peer, c->client);
    if (!pp_trust_match_sockaddr(&trusted, (struct sockaddr *)&peer)) {
        finish(c, "untrusted"); /* nothing read */
        return;
    }
    if (uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        finish(c, "error start for");
}

int main(int argc, char **argv)
{
    static pp_trust_entry storage[64];
    struct addrinfo hints = {0}, *ai;
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    char *end;
    int i, rc;

    if (argc < 5 || (timeout_ms = strtol(argv[3], &end, 10)) <= 0 ||
        *end != '\0' || timeout_ms > 3600000) {
        fprintf(stderr, "usage: uv_server ADDR PORT TIMEOUT_MS CIDR...\n");
        return 2;
    }
    pp_trust_init(&trusted, storage, sizeof storage / sizeof storage[0]);
    for (i = 4; i < argc; i++) {
        rc = pp_trust_add(&trusted, argv[i], strlen(argv[i]), NULL);
        if (rc != PP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], pp_strerror(rc));
            return 2;
        }
    }
    pp_trust_build(&trusted);
    if (loop == NULL || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "uv_server: cannot start\n");
        return 1;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if ((rc = getaddrinfo(argv[1], argv[2], &hints, &ai)) != 0) {
        fprintf(stderr, "%s %s: %s\n", argv[1], argv[2], gai_strerror(rc));
        return 1;
    }
    rc = uv_tcp_init(loop, &server);
    if (rc == 0)
        rc = uv_tcp_bind(&server, ai->ai_addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 128, on_connection);
    freeaddrinfo(ai);
    if (rc != 0) {
        fprintf(stderr, "listen: %s\n", uv_strerror(rc));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s port %s\n", argv[1], argv[2]);
    return uv_run(loop, UV_RUN_DEFAULT);
}
