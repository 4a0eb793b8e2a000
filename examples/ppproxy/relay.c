/*
 * relay.c - the tcp mode: once the header is in, dial the upstream at once
 * (never wait for client bytes: in protocols where the server speaks
 * first, the client sends nothing until it hears it), then relay bytes
 * both ways until both directions are closed.
 *
 * Each direction is a flow, src -> dst. A flow starts by copying: recv
 * into the worker's buffer, send at once; only what dst does not take is
 * kept, in a buffer of the connection's own (the stash, freed once sent).
 * So a short connection costs no pipe and no buffer of its own, and an
 * idle one holds no memory but its struct. A flow that has carried more
 * than RELAY_BUF bytes and still reads full buffers moves to splice(2)
 * through a pipe of its own (zero-copy; 256 KiB when the kernel allows),
 * unless PPPROXY_NO_SPLICE=1. The PROXY header for the upstream goes in
 * the same send as the first client bytes already received.
 *
 * Edge-triggered: a flow remembers whether src may have bytes (src_ready)
 * and dst may take some (dst_ready), and makes no system call that could
 * only answer EAGAIN. A half-close (FIN) is passed on with
 * shutdown(SHUT_WR), after the bytes before it. An abort is passed on as
 * an abort: when one side fails (a reset), the other is closed with
 * SO_LINGER {1, 0}, which sends a reset and leaves no TIME_WAIT.
 * Outcome "ok", or "client_error" / "upstream_error" for the failed side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ppproxy.h"

enum pump { PUMP_WAIT, PUMP_MORE, PUMP_DONE, PUMP_ERR_SRC, PUMP_ERR_DST };

/* Events that say src may have bytes, an end, or an error to read. */
#define SRC_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

static void flow_free(struct flow *f)
{
    close_fd(&f->pipe_r);
    close_fd(&f->pipe_w);
    free(f->stash);
    f->stash = NULL;
}

static void flow_init(struct flow *f, int src, int dst)
{
    memset(f, 0, sizeof *f);
    f->src = src;
    f->dst = dst;
    f->pipe_r = f->pipe_w = -1;
}

static int would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* ------------------------------------------------------------------------
 * Copying, through the worker's buffer
 * ---------------------------------------------------------------------- */

/* n more bytes reached dst; the upstream's PROXY header is not counted. */
static void flow_count(struct flow *f, size_t n)
{
    size_t k = n < f->uncounted ? n : f->uncounted;

    f->uncounted -= k;
    f->bytes += (uint64_t)(n - k);
}

/* Send buf[0..len) to dst; keep what dst does not take in the stash. 0,
 * or -1 with f->err (dst failed, or no memory for the stash). */
static int flow_send(struct flow *f, const char *buf, size_t len)
{
    ssize_t n;

    do
        n = send(f->dst, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && !would_block(errno)) {
        f->err = errno;
        return -1;
    }
    if (n < 0)
        n = 0;
    flow_count(f, (size_t)n);
    if ((size_t)n == len)
        return 0;
    f->dst_ready = 0; /* its buffer is full: wait for EPOLLOUT */
    f->stash = malloc(len - (size_t)n);
    if (f->stash == NULL) {
        f->err = ENOMEM;
        return -1;
    }
    memcpy(f->stash, buf + n, len - (size_t)n);
    f->off = 0;
    f->pending = len - (size_t)n;
    return 0;
}

/* Send what the stash holds; free it once empty. */
static int flow_send_stash(struct flow *f)
{
    ssize_t n;

    do
        n = send(f->dst, f->stash + f->off, f->pending, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && !would_block(errno)) {
        f->err = errno;
        return -1;
    }
    if (n < 0 || (size_t)n < f->pending)
        f->dst_ready = 0;
    if (n > 0) {
        f->off += (size_t)n;
        f->pending -= (size_t)n;
        flow_count(f, (size_t)n);
    }
    if (f->pending == 0) {
        free(f->stash);
        f->stash = NULL;
    }
    return 0;
}

/* One recv into buf + at (after `at` bytes of prefix already there) and
 * one send of all of it. Bytes read, 0 at end of stream (or when src had
 * nothing: then only the prefix went), -1 on failure (f->err, and which
 * side in *side). */
static ssize_t flow_copy(struct flow *f, char *buf, size_t at, size_t cap,
                         enum pump *side)
{
    ssize_t n = 0;

    if (f->src_ready && !f->src_eof) {
        do
            n = recv(f->src, buf + at, cap - at, 0);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            f->src_eof = 1;
        } else if (n < 0 && would_block(errno)) {
            f->src_ready = 0;
            n = 0;
        } else if (n < 0) {
            f->err = errno;
            *side = PUMP_ERR_SRC;
            return -1;
        } else if ((size_t)n < cap - at && !f->src_hup) {
            /* Drained: the next bytes bring a new edge. After a hang-up
             * no edge comes, so read on until the end. */
            f->src_ready = 0;
        }
    }
    if (at + (size_t)n > 0 && flow_send(f, buf, at + (size_t)n) < 0) {
        *side = PUMP_ERR_DST;
        return -1;
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Splicing, through a pipe
 * ---------------------------------------------------------------------- */

/* A pipe for a flow that carries bulk. A bigger pipe than the default
 * 64 KiB means fewer, larger splices; its pages exist only while full. 0,
 * or -1 when no pipe can be had (the flow keeps copying). */
static int flow_pipe_open(struct flow *f)
{
    int p[2];
    int size;

    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    f->pipe_r = p[0];
    f->pipe_w = p[1];
    size = fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
    if (size <= 0) /* not allowed (user's pipe quota): the default */
        size = fcntl(p[1], F_GETPIPE_SZ);
    f->room = size > 0 ? (size_t)size : 4096;
    f->pending = 0;
    return 0;
}

/* Move what can be moved now: fill the pipe from src, then drain it to
 * dst, again and again. A splice into a pipe that holds data fails with
 * EAGAIN both when src is empty and when the pipe is full, so that answer
 * only means "src is empty" once the pipe was drained: every PUMP_WAIT is
 * then sure to get a new edge (src readable, or dst writable). */
static enum pump flow_pump_splice(struct flow *f)
{
    size_t moved = 0;

    while (moved < PUMP_BUDGET) {
        ssize_t n;

        if (!f->src_eof && f->pending < f->room) {
            n = splice(f->src, NULL, f->pipe_w, NULL, f->room - f->pending,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->pending += (size_t)n;
                continue;
            }
            if (n == 0) {
                f->src_eof = 1;
            } else if (errno == EINTR) {
                continue;
            } else if (!would_block(errno)) {
                f->err = errno;
                return PUMP_ERR_SRC;
            } else if (f->pending == 0) {
                return PUMP_WAIT;
            }
        }
        if (f->pending > 0) {
            n = splice(f->pipe_r, NULL, f->dst, NULL, f->pending,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->pending -= (size_t)n;
                f->bytes += (uint64_t)n;
                moved += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && would_block(errno))
                return PUMP_WAIT;
            f->err = n == 0 ? EIO : errno; /* 0: cannot be, bytes wait */
            return PUMP_ERR_DST;
        }
        if (f->src_eof)
            return PUMP_DONE;
    }
    return PUMP_MORE;
}

/* ------------------------------------------------------------------------
 * One direction
 * ---------------------------------------------------------------------- */

/* Move what can be moved now, at most PUMP_BUDGET bytes. */
static enum pump flow_pump(struct flow *f, char *buf)
{
    size_t moved = 0;
    enum pump r = PUMP_WAIT;

    while (f->pipe_r < 0 && r == PUMP_WAIT) {
        ssize_t n;

        if (f->stash != NULL) {
            if (!f->dst_ready)
                return PUMP_WAIT;
            if (flow_send_stash(f) < 0)
                return PUMP_ERR_DST;
            continue;
        }
        if (f->src_eof)
            break;
        if (!f->src_ready || !f->dst_ready)
            return PUMP_WAIT;
        if (moved >= PUMP_BUDGET)
            return PUMP_MORE;
        n = flow_copy(f, buf, 0, RELAY_BUF, &r);
        if (n < 0)
            return r;
        moved += (size_t)n;
        /* Bulk: a full buffer after more than one buffer's worth. */
        if ((size_t)n == RELAY_BUF && f->bytes > RELAY_BUF &&
            f->stash == NULL && !cfg.no_splice && !f->no_splice &&
            flow_pipe_open(f) < 0)
            f->no_splice = 1;
    }
    if (f->pipe_r >= 0) {
        r = flow_pump_splice(f);
        /* Should splice not apply to these descriptors, copy instead. */
        if (r == PUMP_ERR_SRC && f->err == EINVAL && f->pending == 0) {
            close_fd(&f->pipe_r);
            close_fd(&f->pipe_w);
            f->no_splice = 1;
            f->src_ready = f->dst_ready = 1;
            return PUMP_MORE;
        }
        if (r != PUMP_DONE)
            return r;
    }
    if (!f->dst_shut) {
        shutdown(f->dst, SHUT_WR); /* fails only if dst is gone */
        f->dst_shut = 1;
    }
    return PUMP_DONE;
}

/* ------------------------------------------------------------------------
 * The connection: both directions
 * ---------------------------------------------------------------------- */

/* One side failed: close the other with a reset too (SO_LINGER {1, 0}),
 * as the failed side did, instead of a FIN that would look like a clean
 * end and leave a TIME_WAIT. */
static void relay_abort(struct conn *c, int failed_fd, const char *outcome,
                        int err)
{
    struct linger lg = {1, 0};
    int other = failed_fd == c->client.fd ? c->upstream.fd : c->client.fd;

    if (other >= 0)
        setsockopt(other, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    conn_fail(c, outcome, err);
}

/* Fail the connection when a pump failed; which side is whose fault. */
static int pump_failed(struct conn *c, enum pump r, const struct flow *f,
                       const char *src_side, const char *dst_side)
{
    if (r == PUMP_ERR_SRC)
        relay_abort(c, f->src, src_side, f->err);
    else if (r == PUMP_ERR_DST)
        relay_abort(c, f->dst, dst_side, f->err);
    else
        return 0;
    return 1;
}

static void relay(struct conn *c)
{
    char *buf = c->w->relay_buf;
    enum pump up = flow_pump(&c->up, buf);
    enum pump down;

    if (pump_failed(c, up, &c->up, "client_error", "upstream_error"))
        return;
    down = flow_pump(&c->down, buf);
    if (pump_failed(c, down, &c->down, "upstream_error", "client_error"))
        return;
    if (up == PUMP_DONE && down == PUMP_DONE)
        conn_close(c, "ok", NULL);
    else if (up == PUMP_MORE || down == PUMP_MORE)
        conn_ready(c); /* budget used up: continue after other work */
}

static void tcp_start(struct conn *c)
{
    flow_init(&c->up, c->client.fd, -1);
    flow_init(&c->down, -1, c->client.fd);
    /* Bytes after the header may be queued already; the client socket is
     * fresh, so it takes bytes. */
    c->up.src_ready = 1;
    c->up.src_hup = (c->client_events & (EPOLLRDHUP | EPOLLHUP)) != 0;
    c->down.dst_ready = 1;
    upstream_dial(c);
}

/* Connected: the PROXY header for the upstream (if any) goes in one send
 * with the client bytes already here, then the relay runs. */
static void tcp_upstream_ready(struct conn *c, uint32_t events)
{
    enum pump side = PUMP_WAIT;

    c->up.dst = c->upstream.fd;
    c->down.src = c->upstream.fd;
    c->up.dst_ready = 1;
    c->down.src_ready = (events & SRC_EVENTS) != 0;
    c->down.src_hup = (events & (EPOLLRDHUP | EPOLLHUP)) != 0;
    if (c->out_len > 0) {
        memcpy(c->w->relay_buf, c->out, c->out_len);
        c->up.uncounted = c->out_len;
        if (flow_copy(&c->up, c->w->relay_buf, c->out_len,
                      c->out_len + RELAY_BUF, &side) < 0) {
            pump_failed(c, side, &c->up, "client_error", "upstream_write");
            return;
        }
        header_out_free(c);
    }
    relay(c);
}

/* Note what the edge says, then move bytes. A reset (EPOLLERR) ends the
 * connection at once, passed on as a reset. */
static void tcp_event(struct conn *c, struct endpoint *ep, uint32_t events)
{
    int client = ep == &c->client;
    struct flow *in = client ? &c->up : &c->down;  /* ep is its src */
    struct flow *out = client ? &c->down : &c->up; /* ep is its dst */

    if (events & SRC_EVENTS)
        in->src_ready = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        in->src_hup = 1;
    if (events & EPOLLOUT)
        out->dst_ready = 1;
    if (events & EPOLLERR) {
        int err = socket_error(ep->fd);

        if (err != 0) {
            relay_abort(c, ep->fd, client ? "client_error" : "upstream_error",
                        err);
            return;
        }
    }
    if (!c->connecting)
        relay(c);
}

static void tcp_release(struct conn *c)
{
    flow_free(&c->up);
    flow_free(&c->down);
}

const struct mode mode_tcp = {
    "tcp", tcp_start, tcp_upstream_ready, tcp_event, relay, tcp_release,
    NULL,  NULL,
};
