/*
 * relay.c - the tcp mode: once the header is in, dial the upstream at once
 * (never wait for client bytes: in protocols where the server speaks
 * first, the client sends nothing until it hears it), then relay bytes
 * both ways until both directions are closed.
 *
 * Each direction is a flow: src -> pipe -> dst with splice(2) (zero-copy;
 * 256 KiB pipe when the kernel allows, else its default 64 KiB), or
 * src -> buffer -> dst with recv/send through RELAY_BUF bytes when no pipe
 * can be had (or PPPROXY_NO_SPLICE=1). At most that much is in flight per
 * direction. A half-close (FIN) is passed on with shutdown(SHUT_WR).
 * Outcome "ok", or "client_error" / "upstream_error" when a side failed.
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

static void flow_free(struct flow *f)
{
    close_fd(&f->pipe_r);
    close_fd(&f->pipe_w);
    free(f->buf);
    f->buf = NULL;
}

static void flow_init(struct flow *f, int src, int dst)
{
    memset(f, 0, sizeof *f);
    f->src = src;
    f->dst = dst;
    f->pipe_r = f->pipe_w = -1;
}

static int flow_use_buffer(struct flow *f)
{
    close_fd(&f->pipe_r);
    close_fd(&f->pipe_w);
    f->buf = malloc(RELAY_BUF);
    f->room = RELAY_BUF;
    return f->buf != NULL ? 0 : -1;
}

/* A pipe when possible, else the buffer. A bigger pipe than the default
 * 64 KiB means fewer, larger splices; its pages exist only while full. */
static int flow_setup(struct flow *f)
{
    int p[2];
    int size;

    if (!cfg.no_splice && pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
        f->pipe_r = p[0];
        f->pipe_w = p[1];
        size = fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
        if (size <= 0) /* not allowed (user's pipe quota): the default */
            size = fcntl(p[1], F_GETPIPE_SZ);
        f->room = size > 0 ? (size_t)size : 4096;
        return 0;
    }
    return flow_use_buffer(f);
}

/* src -> pipe, up to its free room, or into the (empty) buffer. > 0
 * bytes, 0 at end of stream, -1 with errno. */
static ssize_t flow_in(struct flow *f)
{
    ssize_t n;

    if (f->buf != NULL) {
        f->off = 0;
        return recv(f->src, f->buf, f->room, 0);
    }
    n = splice(f->src, NULL, f->pipe_w, NULL, f->room - f->pending,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    /* Should splice not apply to these descriptors, relay by copying. */
    if (n < 0 && errno == EINVAL && f->pending == 0 && f->bytes == 0) {
        if (flow_use_buffer(f) < 0) {
            errno = ENOMEM;
            return -1;
        }
        return flow_in(f);
    }
    return n;
}

/* pipe/buf -> dst. > 0 bytes written, -1 with errno. */
static ssize_t flow_out(struct flow *f)
{
    ssize_t n;

    if (f->buf != NULL) {
        n = send(f->dst, f->buf + f->off, f->pending, MSG_NOSIGNAL);
        if (n > 0)
            f->off += (size_t)n;
        return n;
    }
    n = splice(f->pipe_r, NULL, f->dst, NULL, f->pending,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) { /* cannot happen with bytes in the pipe */
        errno = EIO;
        return -1;
    }
    return n;
}

static int would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* Move what can be moved now: fill the pipe (or buffer) from src, then
 * drain it to dst, again and again. A splice into a pipe that holds data
 * fails with EAGAIN both when src is empty and when the pipe is full, so
 * that answer only means "src is empty" once the pipe was drained: with
 * edge-triggered epoll every PUMP_WAIT is then sure to get a new event
 * (src readable, or dst writable). */
static enum pump flow_pump(struct flow *f)
{
    size_t moved = 0;

    while (moved < PUMP_BUDGET) {
        ssize_t n;

        if (!f->src_eof && f->pending < f->room &&
            (f->buf == NULL || f->pending == 0)) {
            n = flow_in(f);
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
            n = flow_out(f);
            if (n > 0) {
                f->pending -= (size_t)n;
                f->bytes += (uint64_t)n;
                moved += (size_t)n;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (would_block(errno))
                return PUMP_WAIT;
            f->err = errno;
            return PUMP_ERR_DST;
        }
        if (f->src_eof) {
            if (!f->dst_shut) {
                shutdown(f->dst, SHUT_WR); /* fails only if dst is gone */
                f->dst_shut = 1;
            }
            return PUMP_DONE;
        }
    }
    return PUMP_MORE;
}

/* Fail the connection when a pump failed; which side is whose fault. */
static int pump_failed(struct conn *c, enum pump r, const struct flow *f,
                       const char *src_side, const char *dst_side)
{
    if (r == PUMP_ERR_SRC)
        conn_fail(c, src_side, f->err);
    else if (r == PUMP_ERR_DST)
        conn_fail(c, dst_side, f->err);
    else
        return 0;
    return 1;
}

static void relay(struct conn *c)
{
    enum pump up = flow_pump(&c->up);
    enum pump down;

    if (pump_failed(c, up, &c->up, "client_error", "upstream_error"))
        return;
    down = flow_pump(&c->down);
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
    upstream_dial(c);
}

/* Connected (and our header sent): relay. Events seen while connecting
 * were edges we did not act on, so pump once now. */
static void tcp_upstream_ready(struct conn *c)
{
    c->up.dst = c->upstream.fd;
    c->down.src = c->upstream.fd;
    if (flow_setup(&c->up) < 0 || flow_setup(&c->down) < 0) {
        conn_fail(c, "no_memory", ENOMEM);
        return;
    }
    relay(c);
}

static void tcp_event(struct conn *c, struct endpoint *ep, uint32_t events)
{
    const char *outcome = ep == &c->client ? "client_error" : "upstream_error";

    if (c->connecting)
        return; /* tcp_upstream_ready looks at the client */
    if (events & EPOLLERR) {
        int err = socket_error(ep->fd);

        if (err != 0) {
            conn_fail(c, outcome, err);
            return;
        }
    }
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
