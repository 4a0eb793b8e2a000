/*
 * loadgen - load generator and sink for tests/bench/proxy_bench.sh.
 *
 *   loadgen sink PORT
 *       Accept on 127.0.0.1:PORT, skip a PROXY header (v1 or v2) at the
 *       start of each connection, then serve one of two jobs, chosen by
 *       the first payload byte. "P" (a ping): once PING_LEN payload bytes
 *       are in, answer "pong\n", then read to the end and close. Anything
 *       else: read to the end, answer the byte count as text ("123\n")
 *       and close. epoll, one thread.
 *   loadgen ping PORT CONCURRENCY SECONDS
 *       Keep CONCURRENCY connections going for SECONDS: each connects,
 *       sends a PROXY v2 header (TCP4, 28 bytes) and a PING_LEN-byte ping
 *       in one write, reads "pong\n", and closes with a reset (SO_LINGER
 *       0, as a client that is done and keeps no TIME_WAIT). Prints
 *       "rate: N conns in S s = R conns/s (E errors) cpu U s".
 *   loadgen rate PORT CONCURRENCY SECONDS SIZE
 *       As ping, but sends SIZE bytes, half-closes, and reads the byte
 *       count to its end before the reset.
 *   loadgen bulk PORT BYTES
 *       One connection: PROXY v2 header, BYTES bytes, half-close, read the
 *       answer. Prints "bulk: B bytes in S s = T MB/s" and checks that the
 *       far end counted at least BYTES bytes.
 *   loadgen hold PORT N PHASE SECONDS
 *       Open N connections and keep them open for SECONDS: PHASE "header"
 *       sends nothing (the proxy waits for the PROXY header), "relay"
 *       sends the header and 64 bytes (the proxy relays to the sink, which
 *       waits for the end). Prints "held N" when all are open.
 *
 * Standalone (no pphdr): the header is built by hand, as a load balancer
 * would send it. Linux only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define SINK_BUF (256 * 1024)
#define MAX_CONC 4096
#define PING_LEN 64

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process so far, user + system. */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* PROXY v2, PROXY command, TCP over IPv4, 192.0.2.1:port -> 198.51.100.1:443. */
static size_t v2_header(uint8_t out[28], uint16_t src_port)
{
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static const uint8_t addrs[8] = {192, 0, 2, 1, 198, 51, 100, 1};

    memcpy(out, sig, 12);
    out[12] = 0x21;
    out[13] = 0x11;
    out[14] = 0;
    out[15] = 12;
    memcpy(out + 16, addrs, 8);
    out[24] = (uint8_t)(src_port >> 8);
    out[25] = (uint8_t)src_port;
    out[26] = 443 >> 8;
    out[27] = 443 & 0xFF;
    return 28;
}

static int epoll_set(int ep, int op, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(ep, op, fd, &ev);
}

/* ---------------------------------------------------------------- sink */

struct sink_conn {
    int fd;
    uint64_t bytes; /* payload bytes, after the PROXY header */
    size_t skip;    /* header bytes still to skip; SIZE_MAX: not known */
    uint8_t head[16];
    size_t head_len;
    int ping; /* -1 unknown, 0 count job, 1 ping job */
    int answered;
};

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static void sink_finish(struct sink_conn *c)
{
    char reply[32];
    int n =
        snprintf(reply, sizeof reply, "%llu\n", (unsigned long long)c->bytes);

    /* A fresh socket's send buffer takes these few bytes at once. */
    if (c->ping != 1 && send(c->fd, reply, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* the peer is gone: nothing to tell */
    }
    close(c->fd);
    free(c);
}

/* Payload bytes: the first one says which job. */
static void sink_payload(struct sink_conn *c, const uint8_t *p, size_t n)
{
    if (n > 0 && c->ping < 0)
        c->ping = p[0] == 'P';
    c->bytes += n;
}

/* Bytes as they come: skip a PROXY v2 header at the start (16 + its
 * length), count the rest. The proxies under test send v2. */
static void sink_take(struct sink_conn *c, const uint8_t *p, size_t n)
{
    while (n > 0 && c->skip == SIZE_MAX) {
        c->head[c->head_len++] = *p++;
        n--;
        if (memcmp(c->head, v2_sig, c->head_len < 12 ? c->head_len : 12) != 0) {
            sink_payload(c, c->head, c->head_len); /* no header */
            c->skip = 0;
        } else if (c->head_len == 16) {
            c->skip = ((size_t)c->head[14] << 8) | c->head[15];
        }
    }
    if (n > 0 && c->skip > 0) {
        size_t k = n < c->skip ? n : c->skip;

        c->skip -= k;
        p += k;
        n -= k;
    }
    sink_payload(c, p, n);
}

static void sink_read(struct sink_conn *c, char *buf)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, SINK_BUF, 0);

        if (n > 0) {
            sink_take(c, (const uint8_t *)buf, (size_t)n);
            if (c->ping == 1 && !c->answered && c->bytes >= PING_LEN) {
                c->answered = 1;
                if (send(c->fd, "pong\n", 5, MSG_NOSIGNAL) < 0) {
                    /* the peer is gone: the end of stream will tell */
                }
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        sink_finish(c); /* end of stream, or error */
        return;
    }
}

static void run_sink(int port) __attribute__((noreturn));
static void run_sink(int port)
{
    struct sockaddr_in sa = loopback(port);
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0);
    char *buf = malloc(SINK_BUF);
    struct epoll_event evs[MAX_EVENTS];

    if (lfd < 0 || ep < 0 || buf == NULL)
        die("sink setup");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, 4096) < 0)
        die("sink bind");
    if (epoll_set(ep, EPOLL_CTL_ADD, lfd, EPOLLIN, 0) < 0)
        die("epoll_ctl");
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        int i;

        for (i = 0; i < n; i++) {
            if (evs[i].data.u64 == 0) {
                int fd;

                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct sink_conn *c = calloc(1, sizeof *c);

                    if (c == NULL)
                        die("calloc");
                    c->fd = fd;
                    c->skip = SIZE_MAX;
                    c->ping = -1;
                    epoll_set(ep, EPOLL_CTL_ADD, fd, EPOLLIN,
                              (uint64_t)(uintptr_t)c);
                }
            } else {
                sink_read((struct sink_conn *)(uintptr_t)evs[i].data.u64, buf);
            }
        }
    }
}

/* ---------------------------------------------------------------- rate */

struct client {
    int fd;
    int connected;
    uint16_t id;
    char answer[24]; /* the sink's byte count, as text */
    size_t answer_len;
};

static const char payload_bytes[65536];
static int ping_job; /* ping: no half-close, the answer is "pong\n" */

static void client_start(int ep, struct client *c, const struct sockaddr_in *sa)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    c->connected = 0;
    c->answer_len = 0;
    if (c->fd < 0)
        die("socket");
    if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    if (epoll_set(ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, (uint64_t)(uintptr_t)c) <
        0)
        die("epoll_ctl");
}

/* Connected: header and payload in one write, then half-close (not for a
 * ping: the client waits for the answer with its side open). */
static void client_send(int ep, struct client *c, size_t size)
{
    uint8_t msg[28 + sizeof payload_bytes];
    size_t len = v2_header(msg, (uint16_t)(1024 + c->id));

    memcpy(msg + len, payload_bytes, size);
    if (ping_job)
        msg[len] = 'P';
    len += size;
    if (send(c->fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
        fprintf(stderr, "short send\n");
        exit(1);
    }
    if (!ping_job)
        shutdown(c->fd, SHUT_WR);
    c->connected = 1;
    epoll_set(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, (uint64_t)(uintptr_t)c);
}

/* 1 when the answer ended (the connection is done), 0 to wait. */
static int client_read(struct client *c)
{
    for (;;) {
        char *at = c->answer + c->answer_len;
        size_t room = sizeof c->answer - 1 - c->answer_len;
        char spill[64];
        ssize_t n =
            recv(c->fd, room ? at : spill, room ? room : sizeof spill, 0);

        if (n > 0) {
            if (room)
                c->answer_len += (size_t)n;
            if (ping_job && c->answer_len >= 5)
                return 1;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        c->answer[c->answer_len] = '\0';
        return 1;
    }
}

/* The far end must have counted the payload (plus any header the proxy
 * put in front of it). */
static int client_answer_ok(const struct client *c, size_t size)
{
    if (ping_job)
        return c->answer_len == 5 && memcmp(c->answer, "pong\n", 5) == 0;
    return c->answer_len > 0 && strtoull(c->answer, NULL, 10) >= size;
}

static void client_close(struct client *c)
{
    struct linger lg = {1, 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
}

static int run_rate(int port, int conc, double seconds, size_t size)
{
    struct sockaddr_in sa = loopback(port);
    static struct client clients[MAX_CONC];
    struct epoll_event evs[MAX_EVENTS];
    int ep = epoll_create1(0);
    unsigned long done = 0, errors = 0;
    double start = now_s(), end = start + seconds;
    int i, active = conc;

    if (ep < 0 || conc < 1 || conc > MAX_CONC || size > sizeof payload_bytes)
        die("rate arguments");
    for (i = 0; i < conc; i++) {
        clients[i].id = (uint16_t)i;
        client_start(ep, &clients[i], &sa);
    }
    while (active > 0) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
        int stop = now_s() >= end;

        for (i = 0; i < n; i++) {
            struct client *c = (struct client *)(uintptr_t)evs[i].data.u64;

            if (!c->connected) {
                if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                    errors++;
                    client_close(c);
                    if (!stop)
                        client_start(ep, c, &sa);
                    else
                        active--;
                    continue;
                }
                client_send(ep, c, size);
                continue;
            }
            if (!client_read(c))
                continue;
            client_close(c);
            if (client_answer_ok(c, size))
                done++;
            else
                errors++;
            if (stop)
                active--;
            else
                client_start(ep, c, &sa);
        }
    }
    seconds = now_s() - start;
    printf("rate: %lu conns in %.2f s = %.0f conns/s (%lu errors) cpu %.3f s\n",
           done, seconds, (double)done / seconds, errors, cpu_s());
    return errors == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- bulk */

static int run_bulk(int port, unsigned long long bytes)
{
    struct sockaddr_in sa = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    static char block[1 << 20];
    uint8_t hdr[28];
    unsigned long long left = bytes, counted;
    char reply[64];
    size_t got = 0;
    double t0, took;

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bulk connect");
    if (send(fd, hdr, v2_header(hdr, 4242), 0) != 28)
        die("bulk header");
    t0 = now_s();
    while (left > 0) {
        size_t chunk = left < sizeof block ? (size_t)left : sizeof block;
        ssize_t n = send(fd, block, chunk, 0);

        if (n <= 0)
            die("bulk send");
        left -= (unsigned long long)n;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, reply + got, sizeof reply - 1 - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    took = now_s() - t0;
    reply[got] = '\0';
    close(fd);
    counted = strtoull(reply, NULL, 10);
    printf("bulk: %llu bytes in %.2f s = %.0f MB/s (far end counted %llu)\n",
           bytes, took, (double)bytes / took / 1e6, counted);
    return counted >= bytes ? 0 : 1;
}

/* ---------------------------------------------------------------- hold */

static int run_hold(int port, int n, const char *phase, double seconds)
{
    struct sockaddr_in sa = loopback(port);
    int relay = strcmp(phase, "relay") == 0;
    uint8_t msg[28 + 64];
    int i;

    if (n < 1 || (!relay && strcmp(phase, "header") != 0))
        die("hold arguments");
    memset(msg, 0, sizeof msg);
    for (i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("hold connect");
        v2_header(msg, (uint16_t)(1024 + i % 60000));
        if (relay && send(fd, msg, sizeof msg, 0) != (ssize_t)sizeof msg)
            die("hold send");
    }
    printf("held %d\n", n);
    fflush(stdout);
    usleep((useconds_t)(seconds * 1e6));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "sink") == 0)
        run_sink(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "rate") == 0)
        return run_rate(atoi(argv[2]), atoi(argv[3]), atof(argv[4]),
                        (size_t)atoi(argv[5]));
    if (argc == 5 && strcmp(argv[1], "ping") == 0) {
        ping_job = 1;
        return run_rate(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), PING_LEN);
    }
    if (argc == 6 && strcmp(argv[1], "hold") == 0)
        return run_hold(atoi(argv[2]), atoi(argv[3]), argv[4], atof(argv[5]));
    if (argc == 4 && strcmp(argv[1], "bulk") == 0)
        return run_bulk(atoi(argv[2]), strtoull(argv[3], NULL, 10));
    fprintf(stderr,
            "usage: loadgen sink PORT | ping PORT CONC SECONDS | "
            "rate PORT CONC SECONDS SIZE | bulk PORT BYTES | "
            "hold PORT N header|relay SECONDS\n");
    return 2;
}
