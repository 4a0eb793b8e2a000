/*
 * httpmode.c - the http mode (--mode http): HTTP/1.0 and 1.1 to an
 * upstream that does not speak PROXY, the client's address handed on in
 * X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Port and
 * Forwarded. http.c checks and rewrites the bytes; this file moves them
 * and keeps time.
 *
 * One upstream connection per client connection, dialled when the first
 * complete, valid request head is in. Per direction, bytes go through a
 * buffer:
 *   client -> cin -> hx_req_feed -> uout -> upstream
 *   upstream -> din -> hx_resp_feed (framing only) -> client
 * A response's head is held in din until it is complete, so that a
 * malformed or missing response can still be answered with a 502. Bodies
 * stream through (at most UOUT_HIGH bytes wait for the upstream, and din
 * holds DIN_CAP, more only for a long response head).
 *
 * Errors: a refused request is answered (400, 501, 505, 414, 431) only
 * when no earlier response is pending; otherwise ppproxy stops reading
 * the client, lets the pending responses finish, and closes. An upstream
 * that cannot be reached, closes early or answers garbage gets a 502, a
 * silent one a 504, a slow head a 408. An error response replaces the
 * unsent part of the current response in din, then the connection ends
 * with a lingering close: our FIN first, then the client's bytes read and
 * dropped until it closes (or LINGER_MS), so no reset destroys the answer.
 *
 * A 101 response turns the connection into a raw tunnel both ways.
 * Timers (one at a time): TIMER_REQUEST from a head's first byte,
 * TIMER_RESPONSE from a forwarded request's last byte to its response's
 * first, TIMER_IDLE otherwise (refreshed by every byte), TIMER_LINGER.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "ppproxy.h"

#define CIN_CAP 16384
#define DIN_CAP 16384
#define DIN_MAX (256 * 1024)   /* a response head must fit */
#define UOUT_HIGH (256 * 1024) /* no more client bytes taken beyond this */
#define LINGER_MS 2000
#define TURN_BUDGET (1024 * 1024) /* bytes per turn, then others go */

/* A request forwarded and not yet answered: what its log line says. */
struct pending {
    char method[24];
    char target[HX_TARGET_MAX];
    size_t target_len;
    char version[16];
    char real[64];
    uint64_t req_body;
    int64_t started;
    int refused; /* refused: logged when the earlier ones are */
    int status;
    const char *outcome;
};

struct hconn {
    struct hx_client cl;
    struct hx_req req;
    struct hx_resp resp;
    struct pending log[HX_PIPELINE];
    size_t log_first, log_len;
    int64_t head_started; /* first byte of the head being received, or 0 */

    char *cin;
    size_t cin_off, cin_len;
    struct hx_buf uout;
    size_t uout_off;
    char *din;
    size_t din_cap, din_sent, din_release, din_parsed, din_len;
    size_t resp_start; /* where in din the current response began */

    int dialled, connected;
    int client_eof, upstream_eof, eof_seen;
    int client_stop;   /* no more requests taken (last one, or refused) */
    int wait_upgrade;  /* a websocket request went out: its answer decides */
    int tunnel;        /* after a 101 */
    int upstream_last; /* the upstream closes after the current response */
    int told_close;    /* a request that ends the connection went out */
    int closing;       /* an error response is queued in din */
    int lingering;
    int up_shut, client_shut;
    int req_flushed;      /* every forwarded request byte is upstream */
    int resp_started;     /* the oldest awaited response has begun */
    int in_run;           /* http_run is on the stack */
    int c_rd, u_rd;       /* may have bytes to read (an edge came, no EAGAIN) */
    int c_hup, u_hup;     /* the peer's FIN (or an error) is there to read */
    size_t uncounted;     /* bytes of the --send-proxy header still in uout */
    int committed;        /* a head of the current final response went out */
    int stall, stall_was; /* TIMER_RESPONSE bounds silence mid-transfer */
    const char *outcome;  /* of the connection's line */
};

/* ------------------------------------------------------------------------
 * Log lines
 * ---------------------------------------------------------------------- */
static void log_entry(struct conn *c, const struct pending *p, int status,
                      uint64_t resp_body, const char *outcome)
{
    struct reqlog r;

    r.client = p->real[0] ? p->real : c->info.client;
    r.peer = c->info.peer;
    r.method = p->method;
    r.target = p->target;
    r.target_len = p->target_len;
    r.version = p->version;
    r.status = status;
    r.req_body_bytes = p->req_body;
    r.resp_body_bytes = resp_body;
    r.started = p->started;
    r.outcome = outcome;
    log_request(c->w, &r);
}

static struct pending *newest(struct hconn *h)
{
    return &h->log[(h->log_first + h->log_len - 1) % HX_PIPELINE];
}

/* The oldest forwarded request was answered (or given up); a refused
 * request right after it is logged now too, so lines keep their order. */
static void log_oldest(struct conn *c, struct hconn *h, int status,
                       uint64_t resp_body, const char *outcome)
{
    if (h->log_len == 0)
        return;
    log_entry(c, &h->log[h->log_first], status, resp_body, outcome);
    h->log_first = (h->log_first + 1) % HX_PIPELINE;
    h->log_len--;
    while (h->log_len > 0 && h->log[h->log_first].refused) {
        struct pending *p = &h->log[h->log_first];

        log_entry(c, p, p->status, 0, p->outcome);
        h->log_first = (h->log_first + 1) % HX_PIPELINE;
        h->log_len--;
    }
}

/* The request now in h->req (refused, timed out): its line, now or after
 * the lines of the requests before it. */
static void log_current(struct conn *c, struct hconn *h, int status,
                        const char *outcome)
{
    struct pending one, *p = &one;

    if (h->log_len > 0 && h->log_len < HX_PIPELINE) {
        h->log_len++;
        p = newest(h);
    }
    memset(p, 0, sizeof *p);
    snprintf(p->method, sizeof p->method, "%s", h->req.method);
    memcpy(p->target, h->req.target, h->req.target_len);
    p->target_len = h->req.target_len;
    snprintf(p->version, sizeof p->version, "%s", h->req.version);
    snprintf(p->real, sizeof p->real, "%s",
             h->req.real[0] ? h->req.real : h->cl.addr);
    p->started = h->head_started ? h->head_started : now_ms();
    p->refused = 1;
    p->status = status;
    p->outcome = outcome;
    if (p == &one)
        log_entry(c, p, status, 0, outcome);
}

/* ------------------------------------------------------------------------
 * Ending
 * ---------------------------------------------------------------------- */

/* Our FIN to the client, then read and drop until it closes, so that
 * bytes it sent after our last answer do not make the kernel reset the
 * connection (and destroy that answer). A clean end with nothing left to
 * read closes at once. */
static void linger_start(struct conn *c, struct hconn *h)
{
    if (!h->closing && h->cin_off == h->cin_len &&
        (h->client_eof || !h->c_rd)) {
        conn_close(c, h->outcome, NULL);
        return;
    }
    h->lingering = 1;
    close_fd(&c->upstream.fd);
    shutdown(c->client.fd, SHUT_WR);
    timer_add(c, TIMER_LINGER, now_ms() + LINGER_MS);
}

static void linger_read(struct conn *c, struct hconn *h)
{
    char sink[4096];

    for (;;) {
        ssize_t n = recv(c->client.fd, sink, sizeof sink, 0);

        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c, h->outcome, NULL);
        return;
    }
}

/* Replace what din holds of the current response by an error response;
 * it is sent, then the connection ends. */
static void queue_error(struct conn *c, struct hconn *h, int status,
                        const char *outcome)
{
    size_t len;
    const char *text = hx_error_response(status, &len);

    h->outcome = outcome;
    h->closing = 1;
    h->client_stop = 1;
    if (h->resp_start < h->din_sent)
        h->resp_start = h->din_sent; /* cannot happen: nothing of it went */
    h->din_len = h->din_parsed = h->resp_start;
    if (h->din_cap - h->din_len < len) {
        memmove(h->din, h->din + h->din_sent, h->din_len - h->din_sent);
        h->din_len -= h->din_sent;
        h->din_sent = 0;
    }
    if (h->din_cap - h->din_len < len) { /* earlier answers fill it */
        char *p = realloc(h->din, h->din_cap + len);

        if (p == NULL) {
            h->din_len = h->din_sent; /* no room: just close */
            len = 0;
        } else {
            h->din = p;
            h->din_cap += len;
        }
    }
    memcpy(h->din + h->din_len, text, len);
    h->din_len += len;
    h->din_parsed = h->din_release = h->din_len;
    close_fd(&c->upstream.fd);
    c->connecting = 0;
}

/* A request refused: answered when nothing is pending, else the pending
 * responses finish first and the connection closes without one. */
static void refuse(struct conn *c, struct hconn *h, int status,
                   const char *outcome)
{
    log_current(c, h, status, outcome);
    if (h->resp.q_len == 0 && h->resp.fresh)
        queue_error(c, h, status, outcome);
    h->client_stop = 1;
    h->outcome = outcome;
}

/* The oldest awaited response will not come (502, 504). */
static void give_up(struct conn *c, struct hconn *h, int status,
                    const char *outcome)
{
    log_oldest(c, h, status, 0, outcome);
    queue_error(c, h, status, outcome);
}

/* ------------------------------------------------------------------------
 * Client to upstream
 * ---------------------------------------------------------------------- */

/* -1 when the connection was closed, else how many bytes moved. */
static long client_read(struct conn *c, struct hconn *h)
{
    ssize_t n;

    if (h->client_eof || h->closing || (h->client_stop && !h->tunnel) ||
        h->uout.len - h->uout_off >= UOUT_HIGH)
        return 0;
    if (h->cin_off == h->cin_len)
        h->cin_off = h->cin_len = 0;
    if (h->cin_len == CIN_CAP) {
        if (h->cin_off == 0)
            return 0;
        memmove(h->cin, h->cin + h->cin_off, h->cin_len - h->cin_off);
        h->cin_len -= h->cin_off;
        h->cin_off = 0;
    }
    if (!h->c_rd)
        return 0;
    do
        n = recv(c->client.fd, h->cin + h->cin_len, CIN_CAP - h->cin_len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        /* Short: the socket is drained; the next bytes bring an edge. */
        if ((size_t)n < CIN_CAP - h->cin_len && !h->c_hup)
            h->c_rd = 0;
        h->cin_len += (size_t)n;
        return n;
    }
    if (n == 0) {
        h->client_eof = 1;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        h->c_rd = 0;
        return 0;
    }
    conn_fail(c, "client_error", errno);
    return -1;
}

/* Requests out of cin into uout. -1 when closed, else progress. */
static long client_process(struct conn *c, struct hconn *h)
{
    long moved = 0;
    int again = 0;

    if (h->tunnel) {
        size_t n = h->cin_len - h->cin_off;

        if (n == 0)
            return 0;
        if (hx_buf_add(&h->uout, h->cin + h->cin_off, n) < 0) {
            conn_fail(c, "no_memory", ENOMEM);
            return -1;
        }
        h->cin_off = h->cin_len;
        return (long)n;
    }
    while (!h->client_stop && !h->wait_upgrade && !h->closing &&
           (h->cin_off < h->cin_len || again) && h->resp.q_len < HX_PIPELINE &&
           h->log_len < HX_PIPELINE && h->uout.len - h->uout_off < UOUT_HIGH) {
        size_t used = 0;
        int ev = hx_req_feed(&h->req, &h->cl, h->cin + h->cin_off,
                             h->cin_len - h->cin_off, &h->uout, &used);

        h->cin_off += used;
        moved += (long)used;
        again = 0;
        switch (ev) {
        case HX_MORE:
            if (h->head_started == 0 && hx_req_in_head(&h->req))
                h->head_started = now_ms();
            break;
        case HX_HEAD: {
            struct pending *p;

            h->log_len++;
            p = newest(h);
            memset(p, 0, sizeof *p);
            memcpy(p->method, h->req.method, sizeof p->method);
            memcpy(p->target, h->req.target, h->req.target_len);
            p->target_len = h->req.target_len;
            memcpy(p->version, h->req.version, sizeof p->version);
            memcpy(p->real, h->req.real, sizeof p->real);
            p->started = h->head_started ? h->head_started : now_ms();
            h->head_started = 0;
            if (c->tq != NULL && c->timer == TIMER_REQUEST)
                timer_remove(c); /* the next head gets its own */
            hx_resp_expect(&h->resp, h->req.is_head);
            h->req_flushed = 0;
            again = 1;
            moved++;
            if (!h->dialled) {
                h->dialled = 1;
                upstream_dial(c);
                if (c->dead)
                    return -1;
                if (h->closing)
                    return moved; /* could not dial: 502 queued */
            }
            break;
        }
        case HX_DONE:
            newest(h)->req_body = h->req.body_bytes;
            if (!h->req.keep_alive)
                h->client_stop = h->told_close = 1;
            if (h->req.upgrade)
                h->wait_upgrade = 1;
            hx_req_next(&h->req);
            moved++;
            break;
        case HX_REJECT:
            refuse(c, h, h->req.status, h->req.reason);
            return moved + 1;
        case HX_BODY_ERROR:
            newest(h)->refused = 1; /* logged in order by http_release */
            newest(h)->status = 0;
            newest(h)->outcome = h->req.reason;
            conn_close(c, h->req.reason, NULL);
            return -1;
        default:
            conn_fail(c, "no_memory", ENOMEM);
            return -1;
        }
    }
    return moved;
}

static long upstream_flush(struct conn *c, struct hconn *h)
{
    long moved = 0;

    /* (A tunnel's upstream may have closed its side only.) */
    if (!h->connected || h->closing || (h->upstream_eof && !h->tunnel))
        return 0;
    while (h->uout_off < h->uout.len) {
        ssize_t n = send(c->upstream.fd, h->uout.p + h->uout_off,
                         h->uout.len - h->uout_off, MSG_NOSIGNAL);

        if (n > 0) {
            size_t k = (size_t)n < h->uncounted ? (size_t)n : h->uncounted;

            h->uncounted -= k;
            h->uout_off += (size_t)n;
            c->up.bytes += (uint64_t)((size_t)n - k);
            moved += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return moved;
        if (h->tunnel) {
            conn_fail(c, "upstream_error", errno);
            return -1;
        }
        h->upstream_eof = 1; /* gone: answered as a close, below */
        return moved + 1;
    }
    h->uout.len = h->uout_off = 0;
    /* Every byte of the requests taken so far is upstream. */
    if (!h->req_flushed && h->resp.q_len > 0 && !hx_req_started(&h->req)) {
        h->req_flushed = 1;
        moved++;
    }
    if (h->tunnel && h->client_eof && h->cin_off == h->cin_len && !h->up_shut) {
        shutdown(c->upstream.fd, SHUT_WR);
        h->up_shut = 1;
    }
    return moved;
}

/* ------------------------------------------------------------------------
 * Upstream to client
 * ---------------------------------------------------------------------- */
static long upstream_read(struct conn *c, struct hconn *h)
{
    ssize_t n;

    if (!h->connected || h->upstream_eof || h->closing || h->upstream_last)
        return 0;
    if (h->din_sent == h->din_len) {
        h->din_sent = h->din_release = h->din_parsed = h->din_len = 0;
        h->resp_start = 0;
    }
    if (h->din_len == h->din_cap) {
        if (h->din_sent > 0) {
            size_t d = h->din_sent;

            memmove(h->din, h->din + d, h->din_len - d);
            h->din_len -= d;
            h->din_parsed -= d;
            h->din_release -= d;
            h->resp_start = h->resp_start > d ? h->resp_start - d : 0;
            h->din_sent = 0;
        } else if (h->din_cap > 0 && h->din_cap < DIN_MAX) {
            char *p = realloc(h->din, h->din_cap * 2);

            if (p == NULL) {
                conn_fail(c, "no_memory", ENOMEM);
                return -1;
            }
            h->din = p;
            h->din_cap *= 2;
        } else {
            return 0; /* a head longer than DIN_MAX: see process */
        }
    }
    if (!h->u_rd)
        return 0;
    do
        n = recv(c->upstream.fd, h->din + h->din_len, h->din_cap - h->din_len,
                 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        if ((size_t)n < h->din_cap - h->din_len && !h->u_hup)
            h->u_rd = 0;
        h->din_len += (size_t)n;
        return n;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        h->upstream_eof = 1; /* a reset is answered like a close */
        return 1;
    }
    h->u_rd = 0;
    return 0;
}

/* The oldest request was answered. */
static void response_done(struct conn *c, struct hconn *h)
{
    log_oldest(c, h, h->resp.status, h->resp.body_bytes, "ok");
    h->resp_started = 0;
    h->committed = 0;
    if (c->tq != NULL && c->timer == TIMER_RESPONSE)
        timer_remove(c); /* the next response gets its own */
    h->req_flushed = h->resp.q_len > 0 && h->uout.len == h->uout_off &&
        !hx_req_started(&h->req);
    if (!h->resp.keep_alive)
        h->upstream_last = 1;
    h->wait_upgrade = 0; /* a refused upgrade: go on parsing requests */
}

static long upstream_process(struct conn *c, struct hconn *h)
{
    long moved = 0;

    if (h->closing)
        return 0;
    if (h->tunnel) {
        moved = (long)(h->din_len - h->din_release);
        h->din_parsed = h->din_release = h->din_len;
        return moved;
    }
    while ((h->din_parsed < h->din_len || h->resp.lf_due) &&
           !h->upstream_last) {
        size_t used = 0;
        int ev;

        if (h->resp.fresh)
            h->resp_start = h->din_parsed;
        ev = hx_resp_feed(&h->resp, h->din + h->din_parsed,
                          h->din_len - h->din_parsed, &used);
        h->din_parsed += used;
        moved += (long)used;
        if (used > 0)
            h->resp_started = 1;
        switch (ev) {
        case HX_MORE:
            h->din_release = h->resp.in_head ? h->resp_start : h->din_parsed;
            if (h->resp.in_head && h->resp_start == h->din_sent &&
                h->din_len - h->resp_start >= DIN_MAX) {
                give_up(c, h, 502, "response_head_too_large");
                return moved + 1;
            }
            break;
        case HX_RHEAD: /* from here on the response is the client's */
            h->din_release = h->din_parsed;
            h->committed = 1;
            break;
        case HX_RINTERIM: /* the final response starts here */
            h->din_release = h->din_parsed;
            h->resp_start = h->din_parsed;
            h->committed = 0;
            break;
        case HX_RDONE:
            h->din_release = h->din_parsed;
            h->resp_start = h->din_parsed;
            h->committed = 0;
            response_done(c, h);
            moved++;
            break;
        case HX_RUPGRADE:
            log_oldest(c, h, 101, 0, "ok");
            h->tunnel = 1;
            h->wait_upgrade = 0;
            h->din_parsed = h->din_release = h->din_len;
            return moved + 1;
        default: /* HX_RERROR, an answer to nothing included */
            if (!h->committed && h->resp.q_len > 0) {
                give_up(c, h, 502, "bad_response");
            } else {
                conn_close(c, "bad_response", NULL);
                return -1;
            }
            return moved + 1;
        }
    }
    return moved;
}

static long client_flush(struct conn *c, struct hconn *h)
{
    long moved = 0;

    while (h->din_sent < h->din_release) {
        ssize_t n = send(c->client.fd, h->din + h->din_sent,
                         h->din_release - h->din_sent, MSG_NOSIGNAL);

        if (n > 0) {
            h->din_sent += (size_t)n;
            c->down.bytes += (uint64_t)n;
            moved += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return moved;
        conn_fail(c, "client_error", errno);
        return -1;
    }
    if (h->tunnel && h->upstream_eof && !h->client_shut) {
        shutdown(c->client.fd, SHUT_WR);
        h->client_shut = 1;
    }
    return moved;
}

/* ------------------------------------------------------------------------
 * When to end
 * ---------------------------------------------------------------------- */

/* 1 when the connection ended (or began its lingering close). */
static int check_end(struct conn *c, struct hconn *h)
{
    int flushed = h->din_sent == h->din_len;

    if (h->closing) {
        if (flushed) {
            linger_start(c, h);
            return 1;
        }
        return 0;
    }
    if (h->tunnel) {
        if (h->client_eof && h->upstream_eof && flushed &&
            h->uout_off == h->uout.len) {
            conn_close(c, h->outcome, NULL);
            return 1;
        }
        return 0;
    }
    /* The upstream closed, everything it sent was parsed. */
    if (h->upstream_eof && !h->eof_seen && h->din_parsed == h->din_len) {
        int ev = hx_resp_eof(&h->resp);

        h->eof_seen = 1;
        if (ev == HX_RDONE) {
            h->din_release = h->din_parsed;
            response_done(c, h);
        } else if (ev == HX_RERROR) {
            if (!h->committed) {
                give_up(c, h, 502, "upstream_closed");
                return 0;
            }
            conn_close(c, "upstream_closed", NULL);
            return 1;
        } else if (h->resp.q_len > 0) {
            give_up(c, h, 502, "upstream_closed");
            return 0;
        }
        h->upstream_last = 1;
    }
    /* The client closed its side: a partial head is dropped, the requests
     * before it are still answered; in the middle of a body the request
     * cannot end, so neither can the connection. */
    if (h->client_eof && h->cin_off == h->cin_len && !h->client_stop &&
        !h->wait_upgrade && hx_req_started(&h->req)) {
        if (!hx_req_in_head(&h->req)) {
            conn_close(c, "client_closed", NULL);
            return 1;
        }
        h->client_stop = 1;
    }
    if (!flushed || h->din_release != h->din_len)
        return 0;
    /* Nothing awaited and nothing more will come: done. */
    if (h->resp.q_len == 0 && h->resp.fresh &&
        (h->client_stop || h->upstream_last ||
         (h->client_eof && h->cin_off == h->cin_len))) {
        linger_start(c, h);
        return 1;
    }
    /* The upstream is done but requests are left unanswered. */
    if (h->upstream_last && h->resp.q_len > 0 && h->resp.fresh) {
        h->outcome = "upstream_closed";
        linger_start(c, h);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Timers
 * ---------------------------------------------------------------------- */
static void set_timer(struct conn *c, struct hconn *h, int activity)
{
    enum timer_kind want;
    int64_t at;
    int refresh = 0; /* restart on every byte */

    if (h->lingering || c->connecting)
        return;
    h->stall = 0;
    if (h->closing) {
        want = TIMER_LINGER; /* an answer the client does not read */
        at = now_ms() + LINGER_MS;
    } else if (!h->tunnel && h->resp.q_len > 0 && !h->resp_started &&
               h->req_flushed) {
        want = TIMER_RESPONSE;
        at = now_ms() + cfg.response_timeout_ms;
    } else if (!h->tunnel && h->head_started != 0 && !h->client_stop) {
        want = TIMER_REQUEST;
        at = h->head_started + cfg.request_timeout_ms;
    } else if (h->tunnel ||
               (h->resp.q_len == 0 && h->resp.fresh &&
                !hx_req_started(&h->req))) {
        if (cfg.idle_timeout_ms == 0) {
            timer_remove(c);
            return;
        }
        want = TIMER_IDLE; /* nothing in progress (or a tunnel) */
        at = now_ms() + cfg.idle_timeout_ms;
        refresh = activity;
    } else {
        /* A body or a response in progress: a peer silent for as long as
         * --response-timeout is taken for gone (same delay, same queue). */
        want = TIMER_RESPONSE;
        at = now_ms() + cfg.response_timeout_ms;
        refresh = activity || !h->stall_was;
        h->stall = 1;
    }
    h->stall_was = h->stall;
    if (c->tq != NULL && c->timer == want && !refresh)
        return;
    timer_add(c, want, at);
}

/* ------------------------------------------------------------------------
 * A turn: move what can be moved
 * ---------------------------------------------------------------------- */
static void http_run(struct conn *c)
{
    struct hconn *h = c->mode_data;
    long total = 0;
    int activity = 0;

    if (h->lingering) {
        linger_read(c, h);
        return;
    }
    h->in_run = 1;
    for (;;) {
        long a, b, d, e, f, g;

        if ((a = client_read(c, h)) < 0 || (b = client_process(c, h)) < 0 ||
            (d = upstream_flush(c, h)) < 0 || (e = upstream_read(c, h)) < 0 ||
            (f = upstream_process(c, h)) < 0 || (g = client_flush(c, h)) < 0)
            return; /* closed: h is gone */
        if (a + e > 0)
            activity = 1;
        if (check_end(c, h)) {
            if (!c->dead) {
                h->in_run = 0;
                linger_read(c, h);
            }
            return;
        }
        if (a + b + d + e + f + g == 0)
            break;
        total += a + b + d + e + f + g;
        if (total >= TURN_BUDGET) {
            conn_ready(c);
            break;
        }
    }
    h->in_run = 0;
    set_timer(c, h, activity);
}

/* ------------------------------------------------------------------------
 * The mode's entry points
 * ---------------------------------------------------------------------- */

/* <client>, <port>, <proto> from the PROXY header, or the socket. */
static int client_of(struct conn *c, struct hx_client *cl)
{
    struct sockaddr_storage src, dst;
    socklen_t len = sizeof dst;
    unsigned port = 0;
    pp_ssl_info ssl;
    int https = pp_ssl(&c->hdr, &ssl) && (ssl.client & PP_CLIENT_SSL);
    const pp_trust *fwd = cfg.forwarded.count > 0 ? &cfg.forwarded : NULL;

    if (pp_has_addresses(&c->hdr) &&
        (c->hdr.family == PP_AF_INET || c->hdr.family == PP_AF_INET6) &&
        pp_get_src(&c->hdr, &src, &len) == PP_OK &&
        pp_get_dst(&c->hdr, &dst, &len) == PP_OK) {
        port = c->hdr.dst.port;
        return hx_client_set(cl, (struct sockaddr *)&src, port, https, fwd);
    }
    len = sizeof dst;
    memset(&dst, 0, sizeof dst);
    if (getsockname(c->client.fd, (struct sockaddr *)&dst, &len) == 0) {
        if (dst.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&dst)->sin_port);
        else if (dst.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&dst)->sin6_port);
    }
    return hx_client_set(cl, (struct sockaddr *)&c->peer, port, https, fwd);
}

static void http_start(struct conn *c)
{
    struct hconn *h = calloc(1, sizeof *h);

    if (h == NULL || (h->cin = malloc(CIN_CAP)) == NULL ||
        (h->din = malloc(DIN_CAP)) == NULL) {
        if (h != NULL)
            free(h->cin);
        free(h);
        conn_fail(c, "no_memory", ENOMEM);
        return;
    }
    c->mode_data = h;
    h->din_cap = DIN_CAP;
    h->outcome = "ok";
    h->c_rd = 1;
    /* The client may have closed its side with its first bytes. */
    h->c_hup = (c->client_events & (EPOLLRDHUP | EPOLLHUP)) != 0;
    /* --send-proxy: the header goes first, ahead of the requests; its
     * bytes are not counted in bytes_up. */
    if (c->out_len > 0) {
        if (hx_buf_add(&h->uout, c->out, c->out_len) < 0) {
            conn_fail(c, "no_memory", ENOMEM);
            return;
        }
        h->uncounted = c->out_len;
        header_out_free(c);
    }
    hx_req_init(&h->req, cfg.max_request_head);
    hx_resp_init(&h->resp);
    if (client_of(c, &h->cl) < 0) {
        conn_close(c, "client_address", NULL);
        return;
    }
    /* The PROXY header's buffer is kept until the upstream has its own
     * header (--send-proxy); nothing here points into it. */
    http_run(c);
}

static void http_upstream_ready(struct conn *c, uint32_t events)
{
    struct hconn *h = c->mode_data;

    h->connected = 1;
    /* Readable only if this edge says so: bytes that come later bring an
     * edge of their own (the socket is registered edge-triggered before
     * the connect completes), so no recv is spent on an empty socket. */
    h->u_rd = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    h->u_hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    /* upstream_dial may find it connected at once, from inside http_run
     * (client_process): that turn goes on with it. */
    if (!h->in_run)
        http_run(c);
}

static void http_event(struct conn *c, struct endpoint *ep, uint32_t events)
{
    struct hconn *h = c->mode_data;

    /* Errors and hang-ups show in recv, so they count as readable; once
     * seen, a short read no longer means "drained" (the FIN is behind). */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        int hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

        if (ep == &c->client) {
            h->c_rd = 1;
            h->c_hup |= hup;
        } else {
            h->u_rd = 1;
            h->u_hup |= hup;
        }
    }
    http_run(c);
}

static void http_release(struct conn *c)
{
    struct hconn *h = c->mode_data;

    if (h == NULL)
        return;
    /* Requests left without an answer get their line too. */
    while (h->log_len > 0) {
        struct pending *p = &h->log[h->log_first];

        log_entry(c, p, p->refused ? p->status : 0, 0,
                  p->refused ? p->outcome : "no_response");
        h->log_first = (h->log_first + 1) % HX_PIPELINE;
        h->log_len--;
    }
    /* The upstream closes anyway (it did, said it would, or was sent a
     * last request), answered every request and has all our bytes: close
     * it with a reset, as HAProxy does. That spares both ends a FIN
     * exchange and the upstream a TIME_WAIT; no byte either way changes. */
    if (c->upstream.fd >= 0 && !h->tunnel && h->resp.q_len == 0 &&
        h->resp.fresh && h->uout_off == h->uout.len &&
        !hx_req_started(&h->req) &&
        (h->upstream_eof || h->upstream_last || h->told_close)) {
        struct linger lg = {1, 0};

        setsockopt(c->upstream.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    hx_req_free(&h->req);
    hx_buf_free(&h->uout);
    free(h->cin);
    free(h->din);
    free(h);
    c->mode_data = NULL;
}

static void http_timeout(struct conn *c, enum timer_kind kind)
{
    struct hconn *h = c->mode_data;

    timer_remove(c);
    switch (kind) {
    case TIMER_REQUEST:
        /* A 408 when nothing is pending; else the responses already owed
         * (one may be streaming) finish first, then the connection closes. */
        refuse(c, h, 408, "request_timeout");
        break;
    case TIMER_CONNECT:
        give_up(c, h, 504, "connect_timeout");
        break;
    case TIMER_RESPONSE:
        if (h->stall) {
            conn_close(c, "stalled", NULL);
            return;
        }
        give_up(c, h, 504, "response_timeout");
        break;
    case TIMER_IDLE:
        conn_close(c, "idle_timeout", NULL);
        return;
    default: /* TIMER_LINGER */
        conn_close(c, h->outcome, NULL);
        return;
    }
    http_run(c);
}

static void http_upstream_failed(struct conn *c, const char *outcome,
                                 const char *detail)
{
    struct hconn *h = c->mode_data;

    (void)detail;
    timer_remove(c);
    c->connecting = 0;
    give_up(c, h, 502, outcome);
    if (!h->in_run)
        http_run(c);
}

const struct mode mode_http = {
    "http",   http_start,   http_upstream_ready, http_event,
    http_run, http_release, http_timeout,        http_upstream_failed,
};
