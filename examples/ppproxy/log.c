/*
 * log.c - one line per connection (and, in http mode, one per request),
 * text (key=value) or JSON.
 *
 * A line is built in the worker's log buffer without stdio (bytes from the
 * wire escaped, so every line is ASCII and valid JSON; the time stamp's
 * date and second are formatted once a second). The lines of one turn of
 * the event loop go out together, with one write(2) under a lock, so
 * lines from different workers never interleave and a busy worker makes
 * one system call for many connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppproxy.h"

static int log_fd = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* "-" is standard output; a file is appended to. */
void log_open(const char *path)
{
    if (strcmp(path, "-") == 0)
        return;
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "ppproxy: --log %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* Decimal digits of v at out; returns the end. */
static char *put_uint(char *out, unsigned v)
{
    char tmp[12];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *out++ = tmp[--n];
    return out;
}

/* "a.b.c.d" from 4 bytes; returns the end. */
static char *put_ip4(char *out, const uint8_t *a)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (i > 0)
            *out++ = '.';
        out = put_uint(out, a[i]);
    }
    return out;
}

/* "a.b.c.d:port", "[v6]:port" or "unix"; cap is at least ADDR_TEXT. No
 * stdio: this runs for every connection. */
void format_sockaddr(char *out, size_t cap, const struct sockaddr *sa)
{
    char *at = out;
    unsigned port = 0;

    if (cap < ADDR_TEXT) {
        out[0] = '\0';
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        at = put_ip4(at, (const uint8_t *)&in->sin_addr);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        /* A dual-stack socket's IPv4 peer is shown as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            at = put_ip4(at, &in6->sin6_addr.s6_addr[12]);
        } else {
            *at++ = '[';
            inet_ntop(AF_INET6, &in6->sin6_addr, at, INET6_ADDRSTRLEN);
            at += strlen(at);
            *at++ = ']';
        }
        port = ntohs(in6->sin6_port);
    } else {
        memcpy(out, "unix", 5);
        return;
    }
    *at++ = ':';
    at = put_uint(at, port);
    *at = '\0';
}

struct line {
    char *p;
    size_t len, cap; /* cap keeps room for the final newline */
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

static void line_text(struct line *l, const char *key, const struct loginfo *li,
                      int which)
{
    const struct text *t = li->tlv != NULL ? &li->tlv[which] : NULL;

    if (t == NULL || !t->present)
        return;
    line_key(l, key);
    line_escaped(l, t->s, t->len);
}

static void line_num(struct line *l, const char *key, uint64_t v)
{
    char num[24];
    size_t at = sizeof num;

    num[--at] = '\0';
    do {
        num[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    line_key(l, key);
    line_puts(l, num + at);
}

/* 2026-12-07T01:02:03.456Z; the part up to the second is made once a
 * second per worker. */
static void line_time(struct line *l, struct worker *w)
{
    struct timespec ts;
    char stamp[32];
    long ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != w->log_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        strftime(w->log_stamp, sizeof w->log_stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        w->log_sec = ts.tv_sec;
    }
    ms = ts.tv_nsec / 1000000;
    memcpy(stamp, w->log_stamp, 19);
    stamp[19] = '.';
    stamp[20] = (char)('0' + ms / 100);
    stamp[21] = (char)('0' + ms / 10 % 10);
    stamp[22] = (char)('0' + ms % 10);
    stamp[23] = 'Z';
    stamp[24] = '\0';
    line_word(l, "time", stamp);
}

/* Write this turn's lines, if any. */
void log_flush(struct worker *w)
{
    const char *p = w->log;
    size_t n = w->log_len;

    if (n == 0)
        return;
    pthread_mutex_lock(&log_lock);
    while (n > 0) {
        ssize_t k = write(log_fd, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        p += k;
        n -= (size_t)k;
    }
    pthread_mutex_unlock(&log_lock);
    w->log_len = 0;
}

/* Start a line in the worker's log buffer (flushed first when a whole
 * line might not fit), with its time field. */
static void line_begin(struct worker *w, struct line *l)
{
    if (LOG_BUF - w->log_len < LOG_LINE)
        log_flush(w);
    l->p = w->log + w->log_len;
    l->len = 0;
    l->cap = LOG_LINE - 2; /* room kept for the closing brace and newline */
    l->json = cfg.log_json;
    l->fields = 0;
    line_time(l, w);
}

/* End the line (closing brace in JSON, newline) and keep it in the buffer. */
static void line_end(struct worker *w, struct line *l)
{
    if (l->json) {
        l->cap++;
        line_putc(l, '}');
    }
    l->p[l->len++] = '\n';
    w->log_len += l->len;
}

void log_conn(struct worker *w, const struct loginfo *li, const char *outcome,
              const char *detail)
{
    struct line l;

    line_begin(w, &l);
    line_word(&l, "client", li->client[0] ? li->client : "-");
    if (li->dst[0])
        line_word(&l, "dst", li->dst);
    line_word(&l, "peer", li->peer);
    if (li->version) {
        line_num(&l, "version", (uint64_t)li->version);
        line_word(&l, "command", li->command);
    }
    line_text(&l, "authority", li, TLV_AUTHORITY);
    line_text(&l, "alpn", li, TLV_ALPN);
    line_text(&l, "unique_id", li, TLV_UNIQUE_ID);
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
    line_end(w, &l);
}

/* A connection turned away before it got a struct conn. */
void log_rejected(struct worker *w, const struct sockaddr *peer,
                  const char *outcome)
{
    struct loginfo li;

    memset(&li, 0, sizeof li);
    li.started = now_ms();
    format_sockaddr(li.peer, sizeof li.peer, peer);
    log_conn(w, &li, outcome, NULL);
}

/* http mode: one line per request. */
void log_request(struct worker *w, const struct reqlog *r)
{
    struct line l;

    line_begin(w, &l);
    line_word(&l, "client", r->client[0] ? r->client : "-");
    line_word(&l, "peer", r->peer);
    line_key(&l, "method");
    line_escaped(&l, r->method, strlen(r->method));
    line_key(&l, "target");
    line_escaped(&l, r->target, r->target_len);
    line_key(&l, "version");
    line_escaped(&l, r->version, strlen(r->version));
    line_num(&l, "status", (uint64_t)r->status);
    line_num(&l, "req_body_bytes", r->req_body_bytes);
    line_num(&l, "resp_body_bytes", r->resp_body_bytes);
    line_num(&l, "duration_ms", (uint64_t)(now_ms() - r->started));
    line_word(&l, "outcome", r->outcome);
    line_end(w, &l);
}
