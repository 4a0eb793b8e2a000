/*
 * log.c - one line per connection (and, in http mode, one per request),
 * text (key=value) or JSON.
 *
 * A line is built in a stack buffer (bytes from the wire escaped, so every
 * line is ASCII and valid JSON) and written whole with one write(2) under
 * a lock, so lines from different workers never interleave.
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

void format_sockaddr(char *out, size_t cap, const struct sockaddr *sa)
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
            snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
        }
    } else {
        snprintf(out, cap, "unix");
    }
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

void log_conn(const struct loginfo *li, const char *outcome, const char *detail)
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
void log_rejected(const struct sockaddr *peer, const char *outcome)
{
    struct loginfo li;

    memset(&li, 0, sizeof li);
    li.started = now_ms();
    format_sockaddr(li.peer, sizeof li.peer, peer);
    log_conn(&li, outcome, NULL);
}

/* http mode: one line per request. */
void log_request(const struct reqlog *r)
{
    char buf[LOG_LINE];
    struct line l;

    l.p = buf;
    l.len = 0;
    l.cap = sizeof buf - 2;
    l.json = cfg.log_json;
    l.fields = 0;

    line_time(&l);
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
    if (l.json) {
        l.cap++;
        line_putc(&l, '}');
    }
    buf[l.len++] = '\n';
    log_write(buf, l.len);
}
