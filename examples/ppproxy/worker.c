/*
 * worker.c - the workers: one thread each, with its own listening sockets
 * (SO_REUSEPORT) and epoll; the event loop, the timers, accepting, and the
 * connection's lifecycle:
 *
 *   accept_ready -> conn_new: trusted? (header_admit), under --max-conns?
 *   ST_HEADER: header_step on each readable event, until the header is in
 *              or TIMER_HEADER (--timeout) expires
 *   ST_MODE:   cfg.mode->start; the mode dials the upstream when it wants
 *              (upstream_dial: non-blocking connect, TIMER_CONNECT, then
 *              mode->upstream_ready, which sends the --send-proxy header
 *              c->out first), gets the events of both sockets, and ends
 *              with conn_close
 *   conn_close: one log line, descriptors closed, the struct freed after
 *              the current batch of events (which may still name it).
 *
 * Each socket is registered once, edge-triggered, for both directions.
 * When descriptors run out, accept uses a reserved descriptor to accept
 * and close (outcome "no_fd"), or pauses listening for LISTEN_PAUSE_MS, so
 * the CPU does not spin. On "stop" (main.c's eventfd) the listeners close
 * and open connections get GRACE_MS to finish (then outcome "shutdown").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ppproxy.h"

/* Client and upstream sockets once the header is in: both ways, edges. */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static long active_conns; /* all workers: atomic */

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */
int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

int socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

static void set_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int epoll_add(int epfd, struct endpoint *ep, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = ep;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, ep->fd, &ev);
}

static int epoll_mod(int epfd, struct endpoint *ep, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = ep;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, ep->fd, &ev);
}

/* ------------------------------------------------------------------------
 * The --max-conns budget, shared by all workers.
 * ---------------------------------------------------------------------- */
static int slot_take(void)
{
    if (__atomic_add_fetch(&active_conns, 1, __ATOMIC_RELAXED) <= cfg.max_conns)
        return 1;
    __atomic_sub_fetch(&active_conns, 1, __ATOMIC_RELAXED);
    return 0;
}

static void slot_release(void)
{
    __atomic_sub_fetch(&active_conns, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Timer queues
 * ---------------------------------------------------------------------- */
void timer_add(struct conn *c, enum timer_kind kind, int64_t deadline)
{
    struct tqueue *q = &c->w->timers[kind];

    timer_remove(c);
    c->timer = kind;
    c->deadline = deadline;
    c->tq = q;
    c->tnext = NULL;
    c->tprev = q->tail;
    if (q->tail != NULL)
        q->tail->tnext = c;
    else
        q->head = c;
    q->tail = c;
}

void timer_remove(struct conn *c)
{
    struct tqueue *q = c->tq;

    if (q == NULL)
        return;
    if (c->tprev != NULL)
        c->tprev->tnext = c->tnext;
    else
        q->head = c->tnext;
    if (c->tnext != NULL)
        c->tnext->tprev = c->tprev;
    else
        q->tail = c->tprev;
    c->tq = NULL;
    c->tprev = c->tnext = NULL;
}

/* What a queue's head does when its deadline passes. */
static void timer_expire(struct conn *c)
{
    switch (c->timer) {
    case TIMER_HEADER:
        conn_close(c, pp_status_name(PP_ERR_TIMEOUT), NULL);
        break;
    case TIMER_CONNECT:
        if (cfg.mode->timeout != NULL)
            cfg.mode->timeout(c, c->timer);
        else
            conn_close(c, "upstream_unreachable", "connect timed out");
        break;
    default: /* the mode's own */
        if (cfg.mode->timeout != NULL)
            cfg.mode->timeout(c, c->timer);
        else if (c->timer == TIMER_IDLE)
            conn_close(c, "idle_timeout", NULL);
        else
            timer_remove(c);
        break;
    }
}

/* ------------------------------------------------------------------------
 * Closing
 * ---------------------------------------------------------------------- */

/* Log, release everything but the struct itself (freed after the current
 * event batch, which may still name it). */
void conn_close(struct conn *c, const char *outcome, const char *detail)
{
    struct worker *w = c->w;

    if (c->dead)
        return;
    c->dead = 1;
    c->info.bytes_up = c->up.bytes;
    c->info.bytes_down = c->down.bytes;
    /* The mode first: its own lines (http: requests) come before the
     * connection's. */
    if (c->state == ST_MODE)
        cfg.mode->release(c);
    log_conn(w, &c->info, outcome, detail);

    timer_remove(c);
    close_fd(&c->client.fd);
    close_fd(&c->upstream.fd);
    free(c->hbuf);
    c->hbuf = NULL;
    header_out_free(c);
    free(c->info.tlv);
    c->info.tlv = NULL;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->nconns--;
    slot_release();

    c->next = w->graveyard;
    w->graveyard = c;
}

void conn_fail(struct conn *c, const char *outcome, int err)
{
    conn_close(c, outcome, err ? strerror(err) : NULL);
}

/* Ask for a mode->resume turn after the current batch of events. */
void conn_ready(struct conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->ready_next = c->w->ready;
    c->w->ready = c;
}

/* ------------------------------------------------------------------------
 * Upstream
 * ---------------------------------------------------------------------- */
/* The upstream cannot be reached: the mode may answer the client. */
static void upstream_failed(struct conn *c, const char *outcome, int err)
{
    if (cfg.mode->upstream_failed != NULL)
        cfg.mode->upstream_failed(c, outcome, err ? strerror(err) : NULL);
    else
        conn_fail(c, outcome, err);
}

/* The first edge after a non-blocking connect: writable (connected) or
 * error/hang-up (refused, unreachable). */
static void upstream_connected(struct conn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        int err = socket_error(c->upstream.fd);

        upstream_failed(c, "upstream_unreachable", err ? err : ECONNREFUSED);
        return;
    }
    if (!(events & EPOLLOUT))
        return; /* not connected yet: wait for the next event */
    timer_remove(c);
    c->connecting = 0;
    cfg.mode->upstream_ready(c, events);
}

/* Non-blocking connect to --upstream, at most --connect-timeout. */
void upstream_dial(struct conn *c)
{
    struct pollfd p;
    int fd = socket(cfg.upstream.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    c->info.upstream_used = 1;
    if (fd < 0) {
        conn_fail(c, "upstream_socket", errno);
        return;
    }
    c->upstream.fd = fd;
    set_nodelay(fd);
    c->connecting = 1;
    if (connect(fd, (struct sockaddr *)&cfg.upstream, cfg.upstream_len) < 0 &&
        errno != EINPROGRESS) {
        upstream_failed(c, "upstream_unreachable", errno);
        return;
    }
    if (epoll_add(c->w->epfd, &c->upstream, CONN_EVENTS) < 0) {
        conn_fail(c, "epoll", errno);
        return;
    }
    /* Connected or not, the first writable edge tells. */
    timer_add(c, TIMER_CONNECT, now_ms() + cfg.connect_timeout_ms);
    /* A near upstream (loopback, same host) is often connected by the time
     * connect() returns: look once, without waiting, and go on at once. */
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (poll(&p, 1, 0) == 1 && p.revents == POLLOUT)
        upstream_connected(c, EPOLLOUT);
}

/* ------------------------------------------------------------------------
 * Header phase, then the mode
 * ---------------------------------------------------------------------- */
static void header_event(struct conn *c, uint32_t events)
{
    int rc, tries = 0;

    c->client_events |= events;
    /* Edge-triggered: after the peer's FIN no new edge comes, so read on
     * until the header is complete or the end shows. */
    do
        rc = header_step(c);
    while (rc == 0 && (c->client_events & (EPOLLRDHUP | EPOLLHUP)) &&
           ++tries < 8);
    if (rc <= 0)
        return;
    timer_remove(c);
    c->state = ST_MODE;
    cfg.mode->start(c);
    /* The header's views (TLVs) point into this buffer: kept until now. */
    free(c->hbuf);
    c->hbuf = NULL;
}

/* ------------------------------------------------------------------------
 * Accepting
 * ---------------------------------------------------------------------- */
static void conn_new(struct worker *w, int fd, const struct sockaddr *peer,
                     socklen_t peer_len)
{
    struct conn *c;

    if (!header_admit(peer)) {
        close(fd); /* nothing read, nobody contacted */
        log_rejected(w, peer, "untrusted");
        return;
    }
    if (!slot_take()) {
        close(fd);
        log_rejected(w, peer, "max_conns");
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || header_init(c) < 0) {
        free(c);
        close(fd);
        slot_release();
        log_rejected(w, peer, "no_memory");
        return;
    }
    c->w = w;
    c->client.kind = EP_CLIENT;
    c->client.fd = fd;
    c->client.conn = c;
    c->upstream.kind = EP_UPSTREAM;
    c->upstream.fd = -1;
    c->upstream.conn = c;
    c->peer_len = peer_len < sizeof c->peer ? peer_len : sizeof c->peer;
    memcpy(&c->peer, peer, c->peer_len);
    c->info.started = now_ms();
    format_sockaddr(c->info.peer, sizeof c->info.peer, peer);
    c->state = ST_HEADER;

    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;

    /* TCP_NODELAY comes from the listener: accepted sockets inherit it. */
    timer_add(c, TIMER_HEADER, c->info.started + cfg.timeout_ms);
    header_event(c, 0); /* the header is often there already */
    /* Registered once, after that first try: the registration reports
     * what is there now, so no edge is lost. The header phase acts on
     * readable edges only. */
    if (!c->dead && epoll_add(w->epfd, &c->client, CONN_EVENTS) < 0)
        conn_fail(c, "epoll", errno);
}

static void listeners_pause(struct worker *w, int64_t until)
{
    size_t i;

    for (i = 0; i < w->nlisten; i++)
        epoll_mod(w->epfd, &w->listeners[i], 0);
    w->paused = 1;
    w->resume_at = until;
}

static void listeners_resume(struct worker *w)
{
    size_t i;

    for (i = 0; i < w->nlisten; i++)
        epoll_mod(w->epfd, &w->listeners[i], EPOLLIN);
    w->paused = 0;
}

/* Out of descriptors: free the reserve to accept one connection and close
 * it, so the backlog shrinks instead of waking us again and again. Without
 * a reserve, stop listening for a while. */
static void shed_connection(struct worker *w, struct endpoint *l)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd;

    if (w->reserve_fd >= 0) {
        close_fd(&w->reserve_fd);
        fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            log_rejected(w, (struct sockaddr *)&peer, "no_fd");
        }
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (w->reserve_fd < 0)
        listeners_pause(w, now_ms() + LISTEN_PAUSE_MS);
}

static void accept_ready(struct worker *w, struct endpoint *l)
{
    int i;

    for (i = 0; i < ACCEPT_BATCH && !w->paused && !w->stopping; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            conn_new(w, fd, (struct sockaddr *)&peer, len);
        } else if (errno == EMFILE || errno == ENFILE) {
            shed_connection(w, l);
            return;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            return; /* EAGAIN: backlog empty; others: try next wake-up */
        }
    }
}

/* ------------------------------------------------------------------------
 * Worker loop
 * ---------------------------------------------------------------------- */
static void begin_shutdown(struct worker *w)
{
    size_t i;
    uint64_t v;

    if (read(w->wake.fd, &v, sizeof v) < 0) {
        /* nothing to do: the flag below is what matters */
    }
    if (w->stopping)
        return;
    for (i = 0; i < w->nlisten; i++)
        close_fd(&w->listeners[i].fd);
    w->stopping = 1;
    w->grace_deadline = now_ms() + GRACE_MS;
}

/* An event for the mode. A mode without timers of its own (tcp) gets
 * --idle-timeout here: every event restarts it. */
static void mode_event(struct conn *c, struct endpoint *ep, uint32_t events)
{
    if (cfg.mode->timeout == NULL && cfg.idle_timeout_ms > 0 && !c->connecting)
        timer_add(c, TIMER_IDLE, now_ms() + cfg.idle_timeout_ms);
    cfg.mode->event(c, ep, events);
}

static void dispatch(struct worker *w, struct endpoint *ep, uint32_t events)
{
    struct conn *c = ep->conn;

    switch (ep->kind) {
    case EP_LISTENER:
        accept_ready(w, ep);
        break;
    case EP_WAKE:
        begin_shutdown(w);
        break;
    case EP_CLIENT:
    case EP_UPSTREAM:
        if (c->dead)
            break;
        if (c->state == ST_HEADER) {
            /* Only the client is registered; EPOLLOUT alone says nothing. */
            if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                header_event(c, events);
        } else if (ep == &c->upstream && c->connecting)
            upstream_connected(c, events);
        else
            mode_event(c, ep, events);
        break;
    }
}

static void expire_timers(struct worker *w, int64_t now)
{
    int k;

    for (k = 0; k < TIMER_KINDS; k++)
        while (w->timers[k].head != NULL && w->timers[k].head->deadline <= now)
            timer_expire(w->timers[k].head);
    if (w->paused && !w->stopping && now >= w->resume_at)
        listeners_resume(w);
    if (w->stopping && now >= w->grace_deadline)
        while (w->conns != NULL)
            conn_close(w->conns, "shutdown", NULL);
}

static int64_t earliest(int64_t a, int64_t b)
{
    return (a < 0 || (b >= 0 && b < a)) ? b : a;
}

/* epoll_wait timeout in ms: until the next deadline, -1 if none. */
static int next_timeout(const struct worker *w, int64_t now)
{
    int64_t t = -1;
    int k;

    if (w->ready != NULL)
        return 0;
    for (k = 0; k < TIMER_KINDS; k++)
        if (w->timers[k].head != NULL)
            t = earliest(t, w->timers[k].head->deadline);
    if (w->paused)
        t = earliest(t, w->resume_at);
    if (w->stopping)
        t = earliest(t, w->grace_deadline);
    if (t < 0)
        return -1;
    return t <= now ? 0 : (int)(t - now);
}

static void run_ready(struct worker *w)
{
    struct conn *list = w->ready;

    w->ready = NULL;
    while (list != NULL) {
        struct conn *c = list;

        list = c->ready_next;
        c->in_ready = 0;
        if (!c->dead)
            cfg.mode->resume(c);
    }
}

static void bury_dead(struct worker *w)
{
    struct conn **at = &w->ready;

    if (w->graveyard == NULL)
        return;
    /* A connection closed after it asked for a turn (a timer, say) is
     * still on the ready list: take it off before its struct goes. */
    while (*at != NULL) {
        if ((*at)->dead) {
            (*at)->in_ready = 0;
            *at = (*at)->ready_next;
        } else {
            at = &(*at)->ready_next;
        }
    }
    while (w->graveyard != NULL) {
        struct conn *c = w->graveyard;

        w->graveyard = c->next;
        free(c);
    }
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event events[EVENT_BATCH];

    while (!w->stopping || w->nconns > 0) {
        int n =
            epoll_wait(w->epfd, events, EVENT_BATCH, next_timeout(w, now_ms()));
        int i;

        if (n < 0 && errno != EINTR) {
            perror("ppproxy: epoll_wait");
            exit(1);
        }
        for (i = 0; i < n; i++)
            dispatch(w, events[i].data.ptr, events[i].events);
        run_ready(w);
        expire_timers(w, now_ms());
        bury_dead(w);
        log_flush(w); /* this turn's log lines, in one write */
    }
    log_flush(w);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Setting up and tearing down
 * ---------------------------------------------------------------------- */
static int open_listener(const struct listen_addr *la)
{
    int one = 1, zero = 0;
    int fd =
        socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    set_nodelay(fd); /* inherited by every accepted socket */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("SO_REUSEPORT: %s", strerror(errno));
    if (la->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
        die("IPV6_V6ONLY: %s", strerror(errno));
    if (bind(fd, (const struct sockaddr *)&la->ss, la->len) < 0)
        die("--listen %s: %s", la->text, strerror(errno));
    if (listen(fd, SOMAXCONN) < 0)
        die("listen %s: %s", la->text, strerror(errno));
    return fd;
}

void worker_init(struct worker *w, int id)
{
    size_t i;

    memset(w, 0, sizeof *w);
    w->id = id;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake.kind = EP_WAKE;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    w->hscratch = malloc(cfg.max_header);
    w->scratch = malloc(OUT_CAP);
    w->relay_buf = malloc(OUT_CAP + RELAY_BUF);
    w->log = malloc(LOG_BUF);
    w->log_sec = -1;
    if (w->epfd < 0 || w->wake.fd < 0 || w->reserve_fd < 0 ||
        w->hscratch == NULL || w->scratch == NULL || w->relay_buf == NULL ||
        w->log == NULL)
        die("worker setup: %s", strerror(errno));
    if (epoll_add(w->epfd, &w->wake, EPOLLIN) < 0)
        die("epoll_ctl: %s", strerror(errno));
    for (i = 0; i < cfg.nlisten; i++) {
        struct endpoint *l = &w->listeners[i];

        l->kind = EP_LISTENER;
        l->fd = open_listener(&cfg.listen[i]);
        if (epoll_add(w->epfd, l, EPOLLIN) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    w->nlisten = cfg.nlisten;
}

void worker_destroy(struct worker *w)
{
    size_t i;

    for (i = 0; i < w->nlisten; i++)
        close_fd(&w->listeners[i].fd);
    close_fd(&w->wake.fd);
    close_fd(&w->reserve_fd);
    close_fd(&w->epfd);
    free(w->hscratch);
    free(w->scratch);
    free(w->relay_buf);
    free(w->log);
}
