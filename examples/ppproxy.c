/*
 * ppproxy - a TCP relay that terminates the PROXY protocol, built on pphdr.
 *
 * What it shows
 *   How a server behind a load balancer takes the PROXY protocol header
 *   (v1 text or v2 binary) off each connection without reading one byte
 *   past it, decides whether the peer may send one at all, and uses what
 *   it carries: the real client address for the log, and optionally a
 *   fresh header for the server behind (v1 or v2, the received TLVs passed
 *   through, CRC32C recomputed). Only the public API of pphdr.h is used:
 *     pp_trust_init/add/build, pp_trust_match_sockaddr   who may send one
 *     pp_recv_step          read exactly the header off a non-blocking socket
 *     pp_has_addresses, pp_get_src/dst, pp_header_from_sockaddr
 *     pp_authority, pp_alpn, pp_unique_id, pp_tlv_find   what it says
 *     pp_write_v1, pp_write_v2 (relay_tlvs, crc32c)      the header we send
 *     pp_status_name, pp_strerror                        why it failed
 *
 * Usage
 *   ppproxy --listen ADDR:PORT [--listen ADDR:PORT ...] --upstream HOST:PORT
 *           --trusted CIDR [--trusted CIDR ...]
 *           [--timeout MS] [--send-proxy none|v1|v2] [--max-conns N]
 *           [--workers N] [--log FILE|-] [--log-format text|json]
 *
 *   --listen ADDR:PORT   where to accept; ADDR is numeric: 127.0.0.1,
 *                        0.0.0.0, [::1], [::]. [::] is dual-stack: IPv4
 *                        clients arrive as ::ffff:a.b.c.d and match IPv4
 *                        --trusted entries. Repeatable; at least one.
 *   --upstream HOST:PORT the server to relay to (name or numeric address,
 *                        IPv6 in brackets), resolved once at start.
 *   --trusted CIDR       peers allowed to send a PROXY header, e.g.
 *                        10.0.0.0/8, 127.0.0.1, ::1/128. Repeatable; at
 *                        least one. Everybody else is closed at once.
 *   --timeout MS         time allowed to receive the whole header after
 *                        accept (default 50; 0 means 5000).
 *   --send-proxy MODE    header sent to the upstream: none (default), v1
 *                        or v2.
 *   --max-conns N        open connections at most, all workers together
 *                        (default 10000). Beyond it new connections are
 *                        accepted and closed at once (logged "max_conns"),
 *                        never queued.
 *   --workers N          threads, each with its own listening sockets
 *                        (SO_REUSEPORT) and epoll (default: online CPUs).
 *   --log FILE|-         one line per connection to FILE (appended), or
 *                        to standard output with - (default -).
 *   --log-format F       text (key=value, default) or json (one object
 *                        per line).
 *
 * Per connection
 *   1. accept(). A peer not in --trusted is closed at once: nothing read,
 *      the upstream never contacted; outcome "untrusted".
 *   2. A complete valid header (v1 or v2) must arrive within --timeout.
 *      pp_recv_step consumes exactly the header; the application bytes
 *      after it stay in the kernel. Missing, malformed, too slow, or the
 *      peer closing first: closed, outcome is pp_status_name() of the
 *      error ("not_proxy", "v1_address", "timeout", "closed", ...).
 *      LOCAL (v2) and UNKNOWN (v1) are accepted; the connection's own
 *      addresses then stand for client and destination.
 *   3. Non-blocking connect to the upstream, at most 3 s
 *      ("upstream_unreachable"). With --send-proxy, a header with the
 *      recovered client and destination goes first, in a single write; v2
 *      relays the received TLVs and recomputes CRC32C when the received
 *      header had one.
 *   4. Relay both ways until both are closed: zero-copy with splice(2)
 *      through one pipe per direction (256 KiB when the kernel allows,
 *      else its default 64 KiB; plain read/write through a 16 KiB buffer
 *      when no pipe can be had), so at most that much is in flight per
 *      direction; a half-close (FIN) is passed on with shutdown(SHUT_WR).
 *      Outcome "ok", or "client_error" / "upstream_error" when a side
 *      failed (reset).
 *   Each connection ends with one log line: time, client (recovered),
 *   dst, peer (the trusted sender), header version and command,
 *   authority / ALPN / unique-id when present, upstream, bytes_up (client
 *   to upstream), bytes_down, duration_ms, outcome, and detail (errno
 *   text) for failures.
 *
 * Signals: SIGTERM and SIGINT stop accepting; open connections get 5 s to
 * finish (then they are closed, outcome "shutdown") and ppproxy exits 0.
 * SIGPIPE is ignored. When descriptors run out, accept uses a reserved
 * descriptor to accept and close (outcome "no_fd"), or pauses listening
 * for 100 ms, so the CPU does not spin. The environment variable
 * PPPROXY_NO_SPLICE=1 forces the read/write relay (for tests).
 *
 * Linux only (epoll, splice, accept4, SO_REUSEPORT).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "pphdr.h"

/* ------------------------------------------------------------------------
 * Limits
 * ---------------------------------------------------------------------- */
#define DEFAULT_TIMEOUT_MS 50
#define ZERO_TIMEOUT_MS 5000    /* what --timeout 0 means */
#define CONNECT_TIMEOUT_MS 3000 /* upstream connect */
#define GRACE_MS 5000           /* after SIGTERM/SIGINT */
#define DEFAULT_MAX_CONNS 10000
#define MAX_LISTEN 16
#define MAX_WORKERS 256
#define ACCEPT_BATCH 64         /* accepts per listener wake-up */
#define EVENT_BATCH 256
#define PUMP_BUDGET (1024 * 1024) /* bytes per direction per turn */
#define PIPE_SIZE (256 * 1024) /* asked for; the kernel may give less */
#define RELAY_BUF 16384         /* per direction without splice */
#define HBUF_CAP PP_V2_MAX_LEN  /* the longest header pp_recv_step takes */
#define TEXT_MAX 256            /* logged TLV text, longer is cut */
#define ADDR_TEXT 128
#define LOG_LINE 8192           /* fits every field escaped */
#define LISTEN_PAUSE_MS 100

/* ------------------------------------------------------------------------
 * Configuration: filled by parse_args, read-only once workers run.
 * ---------------------------------------------------------------------- */
enum send_mode { SEND_NONE, SEND_V1, SEND_V2 };

struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    const char *text;
};

static struct config {
    struct listen_addr listen[MAX_LISTEN];
    size_t nlisten;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    const char *upstream_text;
    pp_trust trust;
    int timeout_ms;
    enum send_mode send;
    long max_conns;
    int workers;
    const char *log_path;
    int log_json;
    int no_splice;
} cfg;

static int log_fd = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static long active_conns;

/* ------------------------------------------------------------------------
 * Connections and workers
 * ---------------------------------------------------------------------- */
enum ep_kind { EP_LISTENER, EP_WAKE, EP_CLIENT, EP_UPSTREAM };

/* What epoll hands back: which descriptor of which connection. */
struct endpoint {
    enum ep_kind kind;
    int fd;
    struct conn *conn;
};

/* One direction of the relay: bytes go src -> pipe (or buf) -> dst. */
struct flow {
    int src, dst;
    int pipe_r, pipe_w;   /* -1 when relaying through buf */
    size_t room;          /* capacity of the pipe or buf */
    char *buf;
    size_t off;           /* buf: first byte not yet written */
    size_t pending;       /* bytes read from src, not yet written to dst */
    uint64_t bytes;       /* written to dst */
    int src_eof;
    int dst_shut;
    int err;              /* errno of the failure */
};

/* Everything the log line says about one connection. */
struct text {
    char s[TEXT_MAX];
    size_t len;
    int present;
};

struct loginfo {
    int64_t started;          /* monotonic ms at accept */
    char peer[ADDR_TEXT];     /* the trusted sender, as accepted */
    char client[ADDR_TEXT];   /* recovered client; "" until known */
    char dst[ADDR_TEXT];      /* recovered destination; "" until known */
    int version;              /* 0 until a header was parsed */
    const char *command;
    struct text authority, alpn, unique_id;
    int upstream_used;
    uint64_t bytes_up, bytes_down;
};

enum conn_state { ST_HEADER, ST_CONNECTING, ST_RELAY };

struct tqueue;

struct conn {
    struct worker *w;
    struct conn *prev, *next;     /* worker's list of open connections */
    struct conn *tprev, *tnext;   /* timer queue */
    struct tqueue *tq;            /* the queue it is in, or NULL */
    struct conn *ready_next;      /* relay turn left unfinished */
    int in_ready;
    int64_t deadline;
    enum conn_state state;
    int dead;
    struct endpoint client, upstream;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    pp_header hdr;
    uint8_t *hbuf;                /* header bytes; freed once relayed */
    size_t have;
    struct flow up, down;         /* client->upstream, upstream->client */
    struct loginfo info;
};

/* Connections waiting for the same fixed delay are queued in deadline
 * order, so the head is always the next to expire. */
struct tqueue {
    struct conn *head, *tail;
};

struct worker {
    int id;
    pthread_t thread;
    int epfd;
    struct endpoint wake;         /* eventfd: main thread says "stop" */
    struct endpoint listeners[MAX_LISTEN];
    size_t nlisten;
    int reserve_fd;               /* spare descriptor for EMFILE */
    int paused;
    int64_t resume_at;
    struct conn *conns;
    size_t nconns;
    struct tqueue header_q, connect_q;
    struct conn *ready;
    struct conn *graveyard;       /* closed, freed after the event batch */
    int stopping;
    int64_t grace_deadline;
    uint8_t *scratch;             /* outgoing header */
};

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */
static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int socket_error(int fd)
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

static void format_sockaddr(char *out, size_t cap, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        /* A dual-stack socket's IPv4 peer is shown as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
            snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in6->sin6_port));
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            snprintf(out, cap, "[%s]:%u", ip,
                     (unsigned)ntohs(in6->sin6_port));
        }
    } else {
        snprintf(out, cap, "unix");
    }
}

/* ------------------------------------------------------------------------
 * Logging: one line per connection, written whole under a lock.
 * ---------------------------------------------------------------------- */
struct line {
    char *p;
    size_t len, cap;  /* cap keeps room for the final newline */
    int json;
    int fields;
};

static void line_putc(struct line *l, char c)
{
    if (l->len < l->cap)
        l->p[l->len++] = c;
}

static void line_puts(struct line *l, const char *s)
{
    while (*s != '\0')
        line_putc(l, *s++);
}

/* Bytes from the wire, made safe: JSON escapes, or C-like escapes inside
 * double quotes for text. Bytes >= 0x80 are escaped too, so a line is
 * always ASCII (and valid JSON). */
static void line_escaped(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    line_putc(l, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            line_putc(l, '\\');
            line_putc(l, (char)c);
        } else if (c >= 0x20 && c < 0x7f) {
            line_putc(l, (char)c);
        } else {
            line_puts(l, l->json ? "\\u00" : "\\x");
            line_putc(l, hex[c >> 4]);
            line_putc(l, hex[c & 15]);
        }
    }
    line_putc(l, '"');
}

static void line_key(struct line *l, const char *key)
{
    if (l->json) {
        line_puts(l, l->fields++ ? ",\"" : "{\"");
        line_puts(l, key);
        line_puts(l, "\":");
    } else {
        if (l->fields++)
            line_putc(l, ' ');
        line_puts(l, key);
        line_putc(l, '=');
    }
}

/* A value that needs no escaping (addresses, names): bare in text. */
static void line_word(struct line *l, const char *key, const char *val)
{
    line_key(l, key);
    if (l->json)
        line_escaped(l, val, strlen(val));
    else
        line_puts(l, val);
}

static void line_text(struct line *l, const char *key, const struct text *t)
{
    if (!t->present)
        return;
    line_key(l, key);
    line_escaped(l, t->s, t->len);
}

static void line_num(struct line *l, const char *key, uint64_t v)
{
    char num[24];

    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    line_key(l, key);
    line_puts(l, num);
}

static void line_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char stamp[40];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), ".%03ldZ",
             ts.tv_nsec / 1000000);
    line_word(l, "time", stamp);
}

static void log_write(const char *p, size_t n)
{
    pthread_mutex_lock(&log_lock);
    while (n > 0) {
        ssize_t w = write(log_fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
}

static void log_conn(const struct loginfo *li, const char *outcome,
                     const char *detail)
{
    char buf[LOG_LINE];
    struct line l;

    l.p = buf;
    l.len = 0;
    l.cap = sizeof buf - 2;
    l.json = cfg.log_json;
    l.fields = 0;

    line_time(&l);
    line_word(&l, "client", li->client[0] ? li->client : "-");
    if (li->dst[0])
        line_word(&l, "dst", li->dst);
    line_word(&l, "peer", li->peer);
    if (li->version) {
        line_num(&l, "version", (uint64_t)li->version);
        line_word(&l, "command", li->command);
    }
    line_text(&l, "authority", &li->authority);
    line_text(&l, "alpn", &li->alpn);
    line_text(&l, "unique_id", &li->unique_id);
    if (li->upstream_used)
        line_word(&l, "upstream", cfg.upstream_text);
    line_num(&l, "bytes_up", li->bytes_up);
    line_num(&l, "bytes_down", li->bytes_down);
    line_num(&l, "duration_ms", (uint64_t)(now_ms() - li->started));
    line_word(&l, "outcome", outcome);
    if (detail != NULL) {
        line_key(&l, "detail");
        line_escaped(&l, detail, strlen(detail));
    }
    if (l.json) {
        l.cap++;
        line_putc(&l, '}');
    }
    buf[l.len++] = '\n';
    log_write(buf, l.len);
}

/* A connection turned away before it got a struct conn. */
static void log_rejected(const struct sockaddr *peer, const char *outcome)
{
    struct loginfo li;

    memset(&li, 0, sizeof li);
    li.started = now_ms();
    format_sockaddr(li.peer, sizeof li.peer, peer);
    log_conn(&li, outcome, NULL);
}

/* ------------------------------------------------------------------------
 * The --max-conns budget, shared by all workers.
 * ---------------------------------------------------------------------- */
static int slot_take(void)
{
    int ok;

    pthread_mutex_lock(&slot_lock);
    ok = active_conns < cfg.max_conns;
    if (ok)
        active_conns++;
    pthread_mutex_unlock(&slot_lock);
    return ok;
}

static void slot_release(void)
{
    pthread_mutex_lock(&slot_lock);
    active_conns--;
    pthread_mutex_unlock(&slot_lock);
}

/* ------------------------------------------------------------------------
 * Timer queues
 * ---------------------------------------------------------------------- */
static void timer_add(struct tqueue *q, struct conn *c, int64_t deadline)
{
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

static void timer_remove(struct conn *c)
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

/* ------------------------------------------------------------------------
 * Closing
 * ---------------------------------------------------------------------- */
static void flow_free(struct flow *f)
{
    close_fd(&f->pipe_r);
    close_fd(&f->pipe_w);
    free(f->buf);
    f->buf = NULL;
}

/* Log, release everything but the struct itself (freed after the current
 * event batch, which may still name it). */
static void conn_close(struct conn *c, const char *outcome, const char *detail)
{
    struct worker *w = c->w;

    if (c->dead)
        return;
    c->dead = 1;
    c->info.bytes_up = c->up.bytes;
    c->info.bytes_down = c->down.bytes;
    log_conn(&c->info, outcome, detail);

    timer_remove(c);
    close_fd(&c->client.fd);
    close_fd(&c->upstream.fd);
    flow_free(&c->up);
    flow_free(&c->down);
    free(c->hbuf);
    c->hbuf = NULL;

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

static void conn_fail(struct conn *c, const char *outcome, int err)
{
    conn_close(c, outcome, err ? strerror(err) : NULL);
}

/* ------------------------------------------------------------------------
 * Relay
 * ---------------------------------------------------------------------- */
enum pump { PUMP_WAIT, PUMP_MORE, PUMP_DONE, PUMP_ERR_SRC, PUMP_ERR_DST };

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

static void ready_push(struct conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->ready_next = c->w->ready;
    c->w->ready = c;
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
        ready_push(c); /* budget used up: continue after other work */
}

static void relay_start(struct conn *c)
{
    flow_init(&c->up, c->client.fd, c->upstream.fd);
    flow_init(&c->down, c->upstream.fd, c->client.fd);
    if (flow_setup(&c->up) < 0 || flow_setup(&c->down) < 0) {
        conn_fail(c, "no_memory", ENOMEM);
        return;
    }
    c->state = ST_RELAY;
    /* Events seen while connecting were edges we did not act on. */
    relay(c);
}

static void relay_event(struct conn *c, int fd, uint32_t events,
                        const char *outcome)
{
    if (events & EPOLLERR) {
        int err = socket_error(fd);

        if (err != 0) {
            conn_fail(c, outcome, err);
            return;
        }
    }
    relay(c);
}

/* ------------------------------------------------------------------------
 * Upstream
 * ---------------------------------------------------------------------- */

/* The header for the upstream, into out: the received addresses, or the
 * connection's own for LOCAL / UNKNOWN, with the received TLVs. */
static int build_upstream_header(struct conn *c, uint8_t *out, size_t cap)
{
    pp_header own;
    const pp_header *h = &c->hdr;
    pp_v2_opts opts;
    pp_tlv crc;

    if (!pp_has_addresses(&c->hdr)) {
        struct sockaddr_storage local;
        socklen_t len = sizeof local;

        if (getsockname(c->client.fd, (struct sockaddr *)&local, &len) < 0 ||
            pp_header_from_sockaddr(&own, (struct sockaddr *)&c->peer,
                                    (struct sockaddr *)&local) != PP_OK)
            return PP_ERR_ARG;
        own.tlvs = c->hdr.tlvs;
        own.tlvs_len = c->hdr.tlvs_len;
        h = &own;
    }
    if (cfg.send == SEND_V1)
        return pp_write_v1(out, cap, h);
    memset(&opts, 0, sizeof opts);
    opts.relay_tlvs = 1;
    opts.crc32c = pp_tlv_find(&c->hdr, PP_TLV_CRC32C, &crc);
    return pp_write_v2(out, cap, h, &opts);
}

static int send_upstream_header(struct conn *c)
{
    int len = build_upstream_header(c, c->w->scratch, HBUF_CAP);
    ssize_t n;

    if (len < 0 || (size_t)len > HBUF_CAP) {
        conn_close(c, "header_encode", len < 0 ? pp_strerror(len) : NULL);
        return -1;
    }
    do
        n = send(c->upstream.fd, c->w->scratch, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        /* A partial header would corrupt the stream: give up instead. */
        conn_close(c, "upstream_write",
                   n < 0 ? strerror(errno) : "header not sent in one write");
        return -1;
    }
    return 0;
}

/* The first edge after a non-blocking connect: writable (connected) or
 * error/hang-up (refused, unreachable). */
static void upstream_connected(struct conn *c, uint32_t events)
{
    int err = socket_error(c->upstream.fd);

    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        conn_fail(c, "upstream_unreachable", err ? err : ECONNREFUSED);
        return;
    }
    if (!(events & EPOLLOUT))
        return; /* not connected yet: wait for the next event */
    timer_remove(c);
    if (cfg.send != SEND_NONE && send_upstream_header(c) < 0)
        return;
    /* The header (and the TLVs pointing into hbuf) is no longer needed. */
    free(c->hbuf);
    c->hbuf = NULL;
    relay_start(c);
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

#define RELAY_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static void connect_upstream(struct conn *c)
{
    int fd = socket(cfg.upstream.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    c->info.upstream_used = 1;
    if (fd < 0) {
        conn_fail(c, "upstream_socket", errno);
        return;
    }
    c->upstream.fd = fd;
    set_nodelay(fd);
    c->state = ST_CONNECTING;
    if (connect(fd, (struct sockaddr *)&cfg.upstream, cfg.upstream_len) < 0 &&
        errno != EINPROGRESS) {
        conn_fail(c, "upstream_unreachable", errno);
        return;
    }
    if (epoll_add(c->w->epfd, &c->upstream, RELAY_EVENTS) < 0) {
        conn_fail(c, "epoll", errno);
        return;
    }
    /* Connected or not, the first writable edge tells. */
    timer_add(&c->w->connect_q, c, now_ms() + CONNECT_TIMEOUT_MS);
}

/* ------------------------------------------------------------------------
 * Header
 * ---------------------------------------------------------------------- */
static void text_set(struct text *t, int found, const pp_bytes *b)
{
    t->present = found;
    if (!found)
        return;
    t->len = b->len < sizeof t->s ? b->len : sizeof t->s;
    memcpy(t->s, b->ptr, t->len);
}

static void format_header_addr(char *out, size_t cap, const pp_header *h,
                               int which)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const pp_addr *a = which ? &h->dst : &h->src;

    if (h->family == PP_AF_UNIX) {
        /* Shown with unprintable bytes as '?', cut at 64 bytes. */
        size_t n = a->path_len < 64 ? a->path_len : 64;
        size_t i, at = (size_t)snprintf(out, cap, "unix:");

        for (i = 0; i < n && at + 1 < cap; i++, at++) {
            char ch = a->path[i];

            out[at] = (ch > 0x20 && ch < 0x7f) ? ch : '?';
        }
        out[at] = '\0';
        return;
    }
    if ((which ? pp_get_dst(h, &ss, &len) : pp_get_src(h, &ss, &len)) == PP_OK)
        format_sockaddr(out, cap, (struct sockaddr *)&ss);
    else
        snprintf(out, cap, "?");
}

static const char *command_name(const pp_header *h)
{
    if (h->version == 1)
        return h->family == PP_AF_UNSPEC ? "UNKNOWN" : "PROXY";
    return h->command == PP_CMD_LOCAL ? "LOCAL" : "PROXY";
}

/* Copy what the log needs out of the header buffer. */
static void describe_header(struct conn *c)
{
    struct loginfo *li = &c->info;
    pp_bytes b;

    li->version = c->hdr.version;
    li->command = command_name(&c->hdr);
    if (pp_has_addresses(&c->hdr)) {
        format_header_addr(li->client, sizeof li->client, &c->hdr, 0);
        format_header_addr(li->dst, sizeof li->dst, &c->hdr, 1);
    } else {
        struct sockaddr_storage local;
        socklen_t len = sizeof local;

        format_sockaddr(li->client, sizeof li->client,
                        (struct sockaddr *)&c->peer);
        if (getsockname(c->client.fd, (struct sockaddr *)&local, &len) == 0)
            format_sockaddr(li->dst, sizeof li->dst,
                            (struct sockaddr *)&local);
    }
    text_set(&li->authority, pp_authority(&c->hdr, &b), &b);
    text_set(&li->alpn, pp_alpn(&c->hdr, &b), &b);
    text_set(&li->unique_id, pp_unique_id(&c->hdr, &b), &b);
}

static void header_ready(struct conn *c)
{
    int rc = pp_recv_step(c->client.fd, &c->hdr, c->hbuf, HBUF_CAP,
                          &c->have);

    if (rc == PP_AGAIN)
        return;
    if (rc < 0) {
        conn_close(c, pp_status_name(rc),
                   rc == PP_ERR_IO ? strerror(errno) : NULL);
        return;
    }
    timer_remove(c);
    describe_header(c);
    /* From now on the client is relayed: edge-triggered, both ways. */
    if (epoll_mod(c->w->epfd, &c->client, RELAY_EVENTS) < 0) {
        conn_fail(c, "epoll", errno);
        return;
    }
    connect_upstream(c);
}

/* ------------------------------------------------------------------------
 * Accepting
 * ---------------------------------------------------------------------- */
static void conn_new(struct worker *w, int fd, const struct sockaddr *peer,
                     socklen_t peer_len)
{
    struct conn *c;

    if (!pp_trust_match_sockaddr(&cfg.trust, peer)) {
        close(fd); /* nothing read, nobody contacted */
        log_rejected(peer, "untrusted");
        return;
    }
    if (!slot_take()) {
        close(fd);
        log_rejected(peer, "max_conns");
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->hbuf = malloc(HBUF_CAP)) == NULL) {
        free(c);
        close(fd);
        slot_release();
        log_rejected(peer, "no_memory");
        return;
    }
    c->w = w;
    c->client.kind = EP_CLIENT;
    c->client.fd = fd;
    c->client.conn = c;
    c->upstream.kind = EP_UPSTREAM;
    c->upstream.fd = -1;
    c->upstream.conn = c;
    c->up.pipe_r = c->up.pipe_w = c->down.pipe_r = c->down.pipe_w = -1;
    memcpy(&c->peer, peer, peer_len);
    c->peer_len = peer_len;
    c->info.started = now_ms();
    format_sockaddr(c->info.peer, sizeof c->info.peer, peer);
    c->state = ST_HEADER;

    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;

    set_nodelay(fd);
    if (epoll_add(w->epfd, &c->client, EPOLLIN) < 0) {
        conn_fail(c, "epoll", errno);
        return;
    }
    timer_add(&w->header_q, c, c->info.started + cfg.timeout_ms);
    header_ready(c); /* the header is often there already */
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
            log_rejected((struct sockaddr *)&peer, "no_fd");
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
        if (c->dead)
            break;
        if (c->state == ST_HEADER)
            header_ready(c);
        else if (c->state == ST_RELAY)
            relay_event(c, c->client.fd, events, "client_error");
        break; /* while connecting: relay_start looks at the client */
    case EP_UPSTREAM:
        if (c->dead)
            break;
        if (c->state == ST_CONNECTING)
            upstream_connected(c, events);
        else if (c->state == ST_RELAY)
            relay_event(c, c->upstream.fd, events, "upstream_error");
        break;
    }
}

static void expire_timers(struct worker *w, int64_t now)
{
    while (w->header_q.head != NULL && w->header_q.head->deadline <= now)
        conn_close(w->header_q.head, pp_status_name(PP_ERR_TIMEOUT), NULL);
    while (w->connect_q.head != NULL && w->connect_q.head->deadline <= now)
        conn_close(w->connect_q.head, "upstream_unreachable",
                   "connect timed out");
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

    if (w->ready != NULL)
        return 0;
    if (w->header_q.head != NULL)
        t = earliest(t, w->header_q.head->deadline);
    if (w->connect_q.head != NULL)
        t = earliest(t, w->connect_q.head->deadline);
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
            relay(c);
    }
}

static void bury_dead(struct worker *w)
{
    while (w->graveyard != NULL) {
        struct conn *c = w->graveyard;

        w->graveyard = c->next;
        free(c);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event events[EVENT_BATCH];

    while (!w->stopping || w->nconns > 0) {
        int n = epoll_wait(w->epfd, events, EVENT_BATCH,
                           next_timeout(w, now_ms()));
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
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Start-up
 * ---------------------------------------------------------------------- */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("ppproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("ppproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'ppproxy --help'.\n", stderr);
    exit(2);
}

static void usage(void)
{
    printf(
"Usage: ppproxy --listen ADDR:PORT [--listen ADDR:PORT ...]\n"
"               --upstream HOST:PORT --trusted CIDR [--trusted CIDR ...]\n"
"               [--timeout MS] [--send-proxy none|v1|v2] [--max-conns N]\n"
"               [--workers N] [--log FILE|-] [--log-format text|json]\n"
"\n"
"Accept TCP connections that start with a PROXY protocol header (v1 or v2)\n"
"from trusted peers, and relay them to the upstream.\n"
"\n"
"  --listen ADDR:PORT   address to accept on (required, repeatable); ADDR is\n"
"                       numeric: 127.0.0.1, 0.0.0.0, [::1], [::] ([::] also\n"
"                       accepts IPv4)\n"
"  --upstream HOST:PORT server to relay to (required); IPv6 in brackets\n"
"  --trusted CIDR       peer allowed to send a header (required, repeatable),\n"
"                       e.g. 10.0.0.0/8, 192.0.2.7, ::1/128; other peers are\n"
"                       closed at once\n"
"  --timeout MS         time to receive the whole header (default %d;\n"
"                       0 means %d)\n"
"  --send-proxy MODE    header sent to the upstream: none, v1 or v2\n"
"                       (default none); v2 passes the received TLVs on\n"
"  --max-conns N        open connections at most (default %d); beyond it\n"
"                       new connections are accepted and closed at once\n"
"  --workers N          worker threads (default: number of CPUs, here %ld)\n"
"  --log FILE|-         connection log, appended to FILE, or standard output\n"
"                       with - (default -)\n"
"  --log-format F       text (key=value) or json, one line per connection\n"
"                       (default text)\n"
"  --help               show this help and exit\n"
"\n"
"Fixed: upstream connect timeout %d ms; %d s grace for open connections\n"
"after SIGTERM or SIGINT, then exit 0.\n",
        DEFAULT_TIMEOUT_MS, ZERO_TIMEOUT_MS, DEFAULT_MAX_CONNS,
        sysconf(_SC_NPROCESSORS_ONLN), CONNECT_TIMEOUT_MS, GRACE_MS / 1000);
}

static long parse_number(const char *opt, const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min ||
        v > max)
        usage_error("%s '%s': expected a number from %ld to %ld", opt, s,
                    min, max);
    return v;
}

/* "ADDR:PORT" or "[ADDR]:PORT" -> host text (brackets removed) and port
 * text, both pointing into buf. */
static int split_host_port(const char *text, char *buf, size_t cap,
                           char **host, char **port)
{
    char *colon;

    if (strlen(text) >= cap)
        return -1;
    strcpy(buf, text);
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        *close = '\0';
        *host = buf + 1;
        *port = close + 2;
        return 0;
    }
    colon = strrchr(buf, ':');
    if (colon == NULL || strchr(buf, ':') != colon)
        return -1;
    *colon = '\0';
    *host = buf;
    *port = colon + 1;
    return 0;
}

static void add_listen(const char *text)
{
    char buf[256];
    char *host, *port;
    struct listen_addr *la;
    long p;

    if (cfg.nlisten == MAX_LISTEN)
        usage_error("at most %d --listen addresses", MAX_LISTEN);
    la = &cfg.listen[cfg.nlisten];
    if (split_host_port(text, buf, sizeof buf, &host, &port) < 0)
        usage_error("--listen '%s': expected ADDR:PORT or [ADDR]:PORT", text);
    p = parse_number("--listen port", port, 1, 65535);
    memset(la, 0, sizeof *la);
    if (text[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&la->ss;

        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            usage_error("--listen '%s': bad IPv6 address", text);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
        la->len = sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&la->ss;

        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            usage_error("--listen '%s': bad IPv4 address (IPv6 goes in "
                        "brackets)", text);
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)p);
        la->len = sizeof *in;
    }
    la->text = text;
    cfg.nlisten++;
}

static void set_upstream(const char *text)
{
    char buf[512];
    char *host, *port;
    struct addrinfo hints, *res;
    int rc;

    if (split_host_port(text, buf, sizeof buf, &host, &port) < 0)
        usage_error("--upstream '%s': expected HOST:PORT or [ADDR]:PORT",
                    text);
    parse_number("--upstream port", port, 1, 65535);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        usage_error("--upstream '%s': %s", text, gai_strerror(rc));
    memcpy(&cfg.upstream, res->ai_addr, res->ai_addrlen);
    cfg.upstream_len = res->ai_addrlen;
    cfg.upstream_text = text;
    freeaddrinfo(res);
}

static void build_trust(const char **cidrs, size_t n)
{
    pp_trust_entry *storage = calloc(n, sizeof *storage);
    size_t i;

    if (storage == NULL)
        die("out of memory");
    pp_trust_init(&cfg.trust, storage, n);
    for (i = 0; i < n; i++) {
        int host_bits = 0;
        int rc = pp_trust_add(&cfg.trust, cidrs[i], strlen(cidrs[i]),
                              &host_bits);

        if (rc != PP_OK)
            usage_error("--trusted '%s': %s", cidrs[i], pp_strerror(rc));
        if (host_bits)
            fprintf(stderr, "ppproxy: warning: --trusted '%s' has host bits "
                            "set below its prefix; they are ignored\n",
                    cidrs[i]);
    }
    pp_trust_build(&cfg.trust);
}

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'},
        {"trusted", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"send-proxy", required_argument, NULL, 's'},
        {"max-conns", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"log", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char **cidrs = calloc((size_t)argc + 1, sizeof *cidrs);
    size_t ncidrs = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int opt;

    if (cidrs == NULL)
        die("out of memory");
    cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
    cfg.max_conns = DEFAULT_MAX_CONNS;
    cfg.workers = (int)(cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus);
    cfg.log_path = "-";

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': add_listen(optarg); break;
        case 'u': set_upstream(optarg); break;
        case 't': cidrs[ncidrs++] = optarg; break;
        case 'T':
            cfg.timeout_ms = (int)parse_number("--timeout", optarg, 0,
                                               3600000);
            if (cfg.timeout_ms == 0)
                cfg.timeout_ms = ZERO_TIMEOUT_MS;
            break;
        case 's':
            if (strcmp(optarg, "none") == 0)
                cfg.send = SEND_NONE;
            else if (strcmp(optarg, "v1") == 0)
                cfg.send = SEND_V1;
            else if (strcmp(optarg, "v2") == 0)
                cfg.send = SEND_V2;
            else
                usage_error("--send-proxy '%s': expected none, v1 or v2",
                            optarg);
            break;
        case 'm':
            cfg.max_conns = parse_number("--max-conns", optarg, 1, 10000000);
            break;
        case 'w':
            cfg.workers = (int)parse_number("--workers", optarg, 1,
                                            MAX_WORKERS);
            break;
        case 'L': cfg.log_path = optarg; break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                cfg.log_json = 0;
            else if (strcmp(optarg, "json") == 0)
                cfg.log_json = 1;
            else
                usage_error("--log-format '%s': expected text or json",
                            optarg);
            break;
        case 'h': usage(); exit(0);
        default: usage_error("bad option");
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (cfg.nlisten == 0)
        usage_error("--listen is required");
    if (cfg.upstream_text == NULL)
        usage_error("--upstream is required");
    if (ncidrs == 0)
        usage_error("--trusted is required (the peers that may send a "
                    "PROXY header)");
    build_trust(cidrs, ncidrs);
    free(cidrs);
}

static int open_listener(const struct listen_addr *la)
{
    int one = 1, zero = 0;
    int fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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

static void worker_init(struct worker *w, int id)
{
    size_t i;

    memset(w, 0, sizeof *w);
    w->id = id;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake.kind = EP_WAKE;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    w->scratch = malloc(HBUF_CAP);
    if (w->epfd < 0 || w->wake.fd < 0 || w->reserve_fd < 0 ||
        w->scratch == NULL)
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

static void worker_destroy(struct worker *w)
{
    size_t i;

    for (i = 0; i < w->nlisten; i++)
        close_fd(&w->listeners[i].fd);
    close_fd(&w->wake.fd);
    close_fd(&w->reserve_fd);
    close_fd(&w->epfd);
    free(w->scratch);
}

/* Each connection may hold 6 descriptors (2 sockets, 2 pipes). */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void open_log(void)
{
    if (strcmp(cfg.log_path, "-") == 0)
        return;
    log_fd = open(cfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0644);
    if (log_fd < 0)
        die("--log %s: %s", cfg.log_path, strerror(errno));
}

int main(int argc, char **argv)
{
    static struct worker workers[MAX_WORKERS];
    sigset_t stop;
    int sig, i;
    const char *no_splice = getenv("PPPROXY_NO_SPLICE");

    parse_args(argc, argv);
    cfg.no_splice = no_splice != NULL && strcmp(no_splice, "1") == 0;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    open_log();

    /* Workers inherit a mask that blocks the stop signals; only this
     * thread takes them, with sigwait. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    for (i = 0; i < cfg.workers; i++)
        worker_init(&workers[i], i);
    for (i = 0; i < cfg.workers; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main,
                           &workers[i]) != 0)
            die("pthread_create failed");
    fprintf(stderr, "ppproxy: %d workers, upstream %s, send-proxy %s\n",
            cfg.workers, cfg.upstream_text,
            cfg.send == SEND_V1 ? "v1" : cfg.send == SEND_V2 ? "v2" : "none");

    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "ppproxy: signal %d, draining (at most %d s)\n", sig,
            GRACE_MS / 1000);
    for (i = 0; i < cfg.workers; i++) {
        uint64_t one = 1;

        if (write(workers[i].wake.fd, &one, sizeof one) < 0)
            die("eventfd: %s", strerror(errno));
    }
    for (i = 0; i < cfg.workers; i++) {
        pthread_join(workers[i].thread, NULL);
        worker_destroy(&workers[i]);
    }
    free(cfg.trust.entries);
    fprintf(stderr, "ppproxy: stopped\n");
    return 0;
}
