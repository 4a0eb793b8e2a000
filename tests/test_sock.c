/* Socket and datagram helpers: pp_recv_step, pp_recv_header over real
 * sockets (AF_UNIX socketpair and loopback TCP), pp_dgram_parse and
 * pp_dgram_write. A sender thread plays the peer; it never asserts (cmocka
 * is not thread-safe) but records failures that the test checks after
 * joining it. Every wait is bounded. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common.h"
#include "pphdr.h"

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

#define WAIT_MS 10000 /* generous bound on every wait that should succeed */

/* ------------------------------------------------------------------------
 * Socket pairs
 * ---------------------------------------------------------------------- */
enum { KIND_UNIX, KIND_TCP, KIND_COUNT };
static const char *const kind_name[KIND_COUNT] = {"unix", "tcp"};

/* fds[0] receives (the "server" side), fds[1] sends (the peer). */
static void make_pair(int kind, int fds[2])
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    int ls, one = 1;

    if (kind == KIND_UNIX) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        return;
    }
    ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0; /* the kernel picks a free port */
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &salen), 0);
    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fds[1] >= 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&sa, sizeof sa), 0);
    fds[0] = accept(ls, NULL, NULL);
    assert_true(fds[0] >= 0);
    close(ls);
    /* Small writes leave as small segments. */
    assert_int_equal(
        setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000LL + (long long)t.tv_nsec / 1000000LL;
}

static void sleep_us(unsigned us)
{
    struct timespec t;

    t.tv_sec = (time_t)(us / 1000000u);
    t.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* Read until end of stream (poll first, so it works on non-blocking
 * sockets too). Returns the byte count, or -1 on error, timeout, or more
 * than cap bytes. */
static long read_to_eof(int fd, uint8_t *out, size_t cap)
{
    long long deadline = now_ms() + WAIT_MS;
    size_t got = 0;

    for (;;) {
        struct pollfd p;
        ssize_t n;
        long long left = deadline - now_ms();

        if (left <= 0)
            return -1;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) <= 0)
            return -1;
        n = recv(fd, out + got, cap - got, MSG_DONTWAIT);
        if (n == 0)
            return (long)got;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -1;
        }
        got += (size_t)n;
        if (got == cap) /* more than expected would not fit: an error */
            return -1;
    }
}

/* The rest of the stream must be exactly want[0..len) then EOF. */
static void expect_rest(int fd, const uint8_t *want, size_t len)
{
    static uint8_t got[16384];
    long n = read_to_eof(fd, got, sizeof got);

    assert_true(n >= 0);
    assert_int_equal((size_t)n, len);
    assert_memory_equal(got, want, len);
}

/* ------------------------------------------------------------------------
 * The peer: a thread that sends planned chunks with planned delays
 * ---------------------------------------------------------------------- */
#define MAX_CHUNKS 8192

typedef struct sender {
    int fd;
    uint8_t data[8192];
    size_t len;
    size_t chunk[MAX_CHUNKS];      /* chunk lengths, in order */
    unsigned delay_us[MAX_CHUNKS]; /* sleep before each chunk */
    size_t nchunks;
    int gate_fd;        /* -1, or wait for a byte here ... */
    size_t gate_before; /* ... before sending this chunk */
    int close_when_done;
    int failed; /* errno of a failed send, or -1 */
    pthread_t tid;
} sender;

static sender *sender_new(int fd, const uint8_t *a, size_t alen,
                          const uint8_t *b, size_t blen)
{
    sender *s = calloc(1, sizeof *s);

    assert_non_null(s);
    assert_true(alen + blen <= sizeof s->data);
    s->fd = fd;
    if (alen > 0)
        memcpy(s->data, a, alen);
    if (blen > 0)
        memcpy(s->data + alen, b, blen);
    s->len = alen + blen;
    s->gate_fd = -1;
    s->close_when_done = 1;
    return s;
}

static void plan_add(sender *s, size_t len, unsigned delay_us)
{
    assert_true(s->nchunks < MAX_CHUNKS);
    s->chunk[s->nchunks] = len;
    s->delay_us[s->nchunks] = delay_us;
    s->nchunks++;
}

/* Everything in one send. */
static void plan_whole(sender *s)
{
    plan_add(s, s->len, 0);
}

/* The first `dribble` bytes one at a time, then the rest at once. */
static void plan_dribble(sender *s, size_t dribble, unsigned delay_us)
{
    size_t i;

    for (i = 0; i < dribble; i++)
        plan_add(s, 1, delay_us);
    if (s->len > dribble)
        plan_add(s, s->len - dribble, delay_us);
}

static uint32_t prng_next(uint32_t *st)
{
    /* xorshift32: fixed seed, same plan on every run */
    uint32_t x = *st;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *st = x;
    return x;
}

/* Random split points (mostly small chunks, some large) and delays
 * (half of them none, others up to 1.5 ms). */
static void plan_random(sender *s, uint32_t *st)
{
    size_t off = 0;

    while (off < s->len) {
        uint32_t r = prng_next(st);
        size_t max = (r & 3u) == 0 ? 300 : 9;
        size_t len = 1 + (size_t)(prng_next(st) % max);
        unsigned delay =
            (prng_next(st) & 1u) ? 0u : (unsigned)(prng_next(st) % 1500u);

        if (len > s->len - off)
            len = s->len - off;
        plan_add(s, len, delay);
        off += len;
    }
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, SEND_FLAGS);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int wait_gate(int fd)
{
    struct pollfd p;
    uint8_t b;

    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, WAIT_MS) != 1 || read(fd, &b, 1) != 1)
        return -1;
    return 0;
}

static void *sender_main(void *arg)
{
    sender *s = arg;
    size_t i, off = 0;

    for (i = 0; i < s->nchunks && s->failed == 0; i++) {
        if (s->gate_fd >= 0 && i == s->gate_before && wait_gate(s->gate_fd))
            s->failed = -1;
        if (s->delay_us[i] > 0)
            sleep_us(s->delay_us[i]);
        if (s->failed == 0)
            s->failed = send_all(s->fd, s->data + off, s->chunk[i]);
        off += s->chunk[i];
    }
    if (s->close_when_done)
        close(s->fd);
    return NULL;
}

static void sender_start(sender *s)
{
    size_t i, total = 0;

    for (i = 0; i < s->nchunks; i++)
        total += s->chunk[i];
    assert_int_equal(total, s->len);
    assert_int_equal(pthread_create(&s->tid, NULL, sender_main, s), 0);
}

/* Join the peer, check it sent everything, free it; closes its socket if
 * the thread did not. */
static void sender_finish(sender *s)
{
    int failed;

    assert_int_equal(pthread_join(s->tid, NULL), 0);
    failed = s->failed;
    if (!s->close_when_done)
        close(s->fd);
    free(s);
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------------------
 * Header cases (bytes written by hand, not by the library's writer)
 * ---------------------------------------------------------------------- */

typedef struct hcase {
    const char *name;
    uint8_t bytes[4096];
    size_t len;
    uint8_t version, command, family, transport;
    uint16_t sport, dport;
} hcase;

enum { NCASES = 9 };
static hcase cases[NCASES];

/* Application bytes that follow every header. They start with what looks
 * like another PROXY header (a chained proxy's): it is application data. */
static uint8_t app[600];
static size_t app_len;

static void set_v1(hcase *c, const char *name, const char *text, uint8_t family,
                   uint16_t sport, uint16_t dport)
{
    c->name = name;
    c->len = strlen(text);
    memcpy(c->bytes, text, c->len);
    c->version = 1;
    c->command = PP_CMD_PROXY;
    c->family = family;
    c->transport =
        family == PP_AF_UNSPEC ? PP_TRANSPORT_UNSPEC : PP_TRANSPORT_STREAM;
    c->sport = sport;
    c->dport = dport;
}

static void set_v2(hcase *c, const char *name, uint8_t ver_cmd, uint8_t fam,
                   const uint8_t *body, size_t body_len, uint16_t sport,
                   uint16_t dport)
{
    c->name = name;
    c->len = build_v2(c->bytes, ver_cmd, fam, body, body_len);
    c->version = 2;
    c->command = (uint8_t)(ver_cmd & 0x0Fu);
    c->family = (uint8_t)(fam >> 4);
    c->transport = (uint8_t)(fam & 0x0Fu);
    c->sport = sport;
    c->dport = dport;
}

static int setup_cases(void **state)
{
    static const uint8_t inet[12] = {10, 0, 0,    1,    10,   0,
                                     0,  2, 0x04, 0xD2, 0x00, 0x50};
    static const uint8_t short_local[5] = {1, 2, 3, 4, 5};
    uint8_t body[4000];
    size_t n, i;

    (void)state;
    set_v1(&cases[0], "v1 tcp4",
           "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", PP_AF_INET, 56324,
           443);
    set_v1(&cases[1], "v1 tcp6",
           "PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 1 65535\r\n", PP_AF_INET6, 1,
           65535);
    set_v1(&cases[2], "v1 unknown (15 bytes)", "PROXY UNKNOWN\r\n",
           PP_AF_UNSPEC, 0, 0);
    set_v1(&cases[3], "v1 longest addresses",
           "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
           PP_AF_INET6, 65535, 65535);
    set_v2(&cases[4], "v2 inet", 0x21, 0x11, inet, sizeof inet, 1234, 80);
    set_v2(&cases[5], "v2 local unspec (16 bytes)", 0x20, 0x00, NULL, 0, 0, 0);

    /* INET6 2001:db8::1 port 443 -> 2001:db8::2 port 8443, ALPN "h2",
     * AUTHORITY "example.com" */
    memset(body, 0, 36);
    body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = 0xb8;
    body[15] = 1;
    body[16] = 0x20, body[17] = 0x01, body[18] = 0x0d, body[19] = 0xb8;
    body[31] = 2;
    body[32] = 0x01, body[33] = 0xBB, body[34] = 0x20, body[35] = 0xFB;
    n = 36;
    memcpy(body + n, "\x01\x00\x02h2", 5);
    n += 5;
    memcpy(body + n,
           "\x02\x00\x0b"
           "example.com",
           14);
    n += 14;
    set_v2(&cases[6], "v2 inet6 + tlvs", 0x21, 0x21, body, n, 443, 8443);

    /* A header far longer than the first peek: a 3000-byte NOOP TLV. */
    memcpy(body, inet, sizeof inet);
    n = sizeof inet;
    body[n++] = PP_TLV_NOOP;
    body[n++] = 3000 >> 8;
    body[n++] = 3000 & 0xFF;
    for (i = 0; i < 3000; i++)
        body[n++] = (uint8_t)(i * 7u);
    set_v2(&cases[7], "v2 with 3000-byte tlv", 0x21, 0x11, body, n, 1234, 80);

    /* LOCAL with a length below the family block: skipped unexamined. */
    set_v2(&cases[8], "v2 local, short body", 0x20, 0x11, short_local,
           sizeof short_local, 0, 0);

    /* Application data: a v2 signature, a v1 line, then every byte value. */
    app_len = 0;
    memcpy(app, v2_sig, sizeof v2_sig);
    app_len += sizeof v2_sig;
    memcpy(app + app_len, "\x21\x11\x00\x0cPROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n",
           36);
    app_len += 36;
    for (i = 0; i < 256; i++)
        app[app_len++] = (uint8_t)(255 - i);
    return 0;
}

static uint8_t hbuf[PP_V2_MAX_LEN]; /* the header buffer of every test */

static void check_result(const pp_header *h, int rc, const hcase *c)
{
    if (rc != (int)c->len)
        print_error("case '%s': got %d (%s), want %zu\n", c->name, rc,
                    pp_status_name(rc), c->len);
    assert_int_equal(rc, (int)c->len);
    assert_int_equal(h->length, c->len);
    assert_int_equal(h->version, c->version);
    assert_int_equal(h->command, c->command);
    assert_int_equal(h->family, c->family);
    assert_int_equal(h->transport, c->transport);
    assert_int_equal(h->src.port, c->sport);
    assert_int_equal(h->dst.port, c->dport);
    assert_memory_equal(hbuf, c->bytes, c->len);
}

/* Drive pp_recv_step on a non-blocking socket as an event loop would.
 * Checks that the loop never spins: each wake-up that poll() reports as
 * readable makes progress (*have grows) unless the step finishes, so the
 * number of steps is bounded by the number of chunks sent. */
static int event_loop(int fd, pp_header *h, size_t max_steps, size_t *agains)
{
    size_t have = 0, steps;
    int rc = PP_AGAIN, woke = 0;

    *agains = 0;
    for (steps = 0; steps < max_steps; steps++) {
        struct pollfd p;
        size_t before = have;

        rc = pp_recv_step(fd, h, hbuf, sizeof hbuf, &have);
        if (rc != PP_AGAIN)
            break;
        ++*agains;
        if (woke)
            assert_true(have > before);
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        woke = 1;
    }
    assert_true(steps < max_steps);
    if (rc > 0)
        assert_int_equal(have, (size_t)rc);
    return rc;
}

/* ------------------------------------------------------------------------
 * Stream tests
 * ---------------------------------------------------------------------- */

/* Header and application data in one send: the header is consumed, the
 * application data is all still in the socket, byte for byte. */
static void test_whole_then_data(void **state)
{
    int kind;
    size_t i;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (i = 0; i < NCASES; i++) {
            int fds[2], rc;
            size_t have;
            pp_header h;
            sender *s;

            make_pair(kind, fds);
            s = sender_new(fds[1], cases[i].bytes, cases[i].len, app, app_len);
            plan_whole(s);
            sender_start(s);
            pp_header_init(&h);
            rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, WAIT_MS);
            check_result(&h, rc, &cases[i]);
            /* A further step on the finished header reads nothing. */
            have = cases[i].len;
            assert_int_equal(pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have),
                             rc);
            assert_int_equal(have, cases[i].len);
            expect_rest(fds[0], app, app_len);
            sender_finish(s);
            close(fds[0]);
        }
    }
}

/* v1 and v2 headers one byte at a time with 1 ms pauses. */
static void test_dribble(void **state)
{
    static const size_t which[] = {0, 6};
    int kind;
    size_t i;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (i = 0; i < sizeof which / sizeof which[0]; i++) {
            const hcase *c = &cases[which[i]];
            int fds[2], rc;
            pp_header h;
            sender *s;

            make_pair(kind, fds);
            s = sender_new(fds[1], c->bytes, c->len, app, app_len);
            plan_dribble(s, c->len, 1000);
            sender_start(s);
            pp_header_init(&h);
            /* Unix: wait forever (the peer will send); TCP: a deadline. */
            rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf,
                                kind == KIND_UNIX ? -1 : WAIT_MS);
            check_result(&h, rc, c);
            expect_rest(fds[0], app, app_len);
            sender_finish(s);
            close(fds[0]);
        }
    }
}

/* A non-blocking event loop: the peer sends half a header and stops; the
 * step consumes it and says PP_AGAIN; poll() must then NOT report the
 * socket readable (the bytes were consumed: no busy loop). Then the rest. */
static void test_event_loop_no_spin(void **state)
{
    static const size_t which[] = {0, 4, 7};
    int kind;
    size_t i;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (i = 0; i < sizeof which / sizeof which[0]; i++) {
            const hcase *c = &cases[which[i]];
            size_t half = c->len / 2, have = 0, steps, agains = 0;
            int fds[2], gate[2], rc = PP_AGAIN;
            struct pollfd p;
            pp_header h;
            sender *s;

            make_pair(kind, fds);
            set_nonblock(fds[0]);
            assert_int_equal(pipe(gate), 0);
            s = sender_new(fds[1], c->bytes, c->len, app, app_len);
            plan_add(s, half, 0);
            plan_add(s, s->len - half, 0);
            s->gate_fd = gate[0];
            s->gate_before = 1;
            pp_header_init(&h);

            /* Nothing sent yet: PP_AGAIN at once, nothing taken. */
            assert_int_equal(pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have),
                             PP_AGAIN);
            assert_int_equal(have, 0);

            sender_start(s);
            for (steps = 0; steps < 100 && have < half; steps++) {
                p.fd = fds[0];
                p.events = POLLIN;
                p.revents = 0;
                assert_int_equal(poll(&p, 1, WAIT_MS), 1);
                rc = pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have);
                assert_int_equal(rc, PP_AGAIN);
                agains++;
            }
            assert_int_equal(have, half);
            assert_memory_equal(hbuf, c->bytes, half);
            /* The half header is consumed: the socket is not readable. */
            p.fd = fds[0];
            p.events = POLLIN;
            p.revents = 0;
            assert_int_equal(poll(&p, 1, 50), 0);

            assert_int_equal(write(gate[1], "g", 1), 1);
            for (steps = 0; steps < 100 && rc == PP_AGAIN; steps++) {
                p.fd = fds[0];
                p.events = POLLIN;
                p.revents = 0;
                assert_int_equal(poll(&p, 1, WAIT_MS), 1);
                rc = pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have);
                if (rc == PP_AGAIN)
                    agains++;
            }
            check_result(&h, rc, c);
            assert_int_equal(have, c->len);
            assert_true(agains >= 1);
            expect_rest(fds[0], app, app_len);
            sender_finish(s);
            close(fds[0]);
            close(gate[0]);
            close(gate[1]);
        }
    }
}

/* A peer that sends nothing: PP_ERR_TIMEOUT after about the timeout. Also
 * with half a header sent, and with a zero timeout. The peer closes once
 * the call returned (or after WAIT_MS): a call that blocked past its
 * deadline then fails with PP_ERR_CLOSED instead of hanging the test. */
static void test_timeout(void **state)
{
    static const int timeouts[] = {0, 50, 150};
    int kind;
    size_t t;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (t = 0; t < sizeof timeouts / sizeof timeouts[0]; t++) {
            int partial;

            for (partial = 0; partial < 2; partial++) {
                int fds[2], gate[2], rc;
                long long t0, el;
                pp_header h;
                sender *s;

                make_pair(kind, fds);
                assert_int_equal(pipe(gate), 0);
                s = sender_new(fds[1], (const uint8_t *)"PROXY TCP4 1.2",
                               partial ? 14 : 0, NULL, 0);
                if (partial)
                    plan_add(s, 14, 0);
                plan_add(s, 0, 0); /* gated: then close */
                s->gate_fd = gate[0];
                s->gate_before = s->nchunks - 1;
                sender_start(s);
                pp_header_init(&h);
                t0 = now_ms();
                rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, timeouts[t]);
                el = now_ms() - t0;
                assert_int_equal(write(gate[1], "g", 1), 1);
                sender_finish(s);
                assert_int_equal(rc, PP_ERR_TIMEOUT);
                /* Loose: at least ~the timeout, well below the bound. */
                assert_true(el >= timeouts[t] - 5);
                assert_true(el < timeouts[t] + 5000);
                close(fds[0]);
                close(gate[0]);
                close(gate[1]);
            }
        }
    }
}

/* A zero timeout with the whole header already queued still succeeds:
 * the first step runs before any deadline check. */
static void test_zero_timeout_ready(void **state)
{
    int fds[2], rc;
    pp_header h;

    (void)state;
    make_pair(KIND_UNIX, fds);
    assert_int_equal(send(fds[1], cases[0].bytes, cases[0].len, SEND_FLAGS),
                     (ssize_t)cases[0].len);
    assert_int_equal(send(fds[1], app, app_len, SEND_FLAGS), (ssize_t)app_len);
    close(fds[1]);
    pp_header_init(&h);
    rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, 0);
    check_result(&h, rc, &cases[0]);
    expect_rest(fds[0], app, app_len);
    close(fds[0]);
}

/* The peer closes before the header ends (or before sending anything). */
static void test_closed_mid_header(void **state)
{
    static const size_t which[] = {0, 2, 4, 7};
    int kind;
    size_t i;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (i = 0; i < sizeof which / sizeof which[0]; i++) {
            const hcase *c = &cases[which[i]];
            size_t cut;

            for (cut = 0; cut < c->len; cut += c->len / 3 + 1) {
                int fds[2], rc;
                pp_header h;
                sender *s;

                make_pair(kind, fds);
                s = sender_new(fds[1], c->bytes, cut, NULL, 0);
                if (cut > 0)
                    plan_dribble(s, cut < 4 ? cut : 4, 500);
                sender_start(s);
                pp_header_init(&h);
                rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, WAIT_MS);
                assert_int_equal(rc, PP_ERR_CLOSED);
                sender_finish(s);
                close(fds[0]);
            }
        }
    }
}

/* Not a PROXY header, or a broken one: reported at once, and no byte is
 * taken when it all came in one send (the first peek, up to 107 bytes,
 * sees the error before anything is consumed). */
static void test_not_proxy(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        int want;
    } rows[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, PP_ERR_NOT_PROXY},
        {"POST / HTTP/1.1\r\n\r\n", 19, PP_ERR_NOT_PROXY},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, PP_ERR_NOT_PROXY},
        {"\r\n\r\nX", 5, PP_ERR_NOT_PROXY},
        {"PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\nxyz", 37, PP_ERR_V1_ADDRESS},
        {"PROXY TCP4 1.2.3.4 1.2.3.5 1 080\r\nxyz", 37, PP_ERR_V1_PORT},
        {"PROXY  TCP4\r\n", 13, PP_ERR_V1_SYNTAX},
    };
    int kind;
    size_t i;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            int fds[2], rc;
            pp_header h;
            sender *s;

            make_pair(kind, fds);
            s = sender_new(fds[1], (const uint8_t *)rows[i].bytes, rows[i].len,
                           NULL, 0);
            plan_whole(s);
            sender_start(s);
            pp_header_init(&h);
            /* Wait until all of it is queued, so one step sees it all. */
            {
                uint8_t tmp[64];
                long long deadline = now_ms() + WAIT_MS;

                while (recv(fds[0], tmp, sizeof tmp, MSG_PEEK | MSG_DONTWAIT) <
                           (ssize_t)rows[i].len &&
                       now_ms() < deadline)
                    sleep_us(1000);
            }
            rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, WAIT_MS);
            assert_int_equal(rc, rows[i].want);
            /* Sticky: the next step says the same. */
            {
                size_t have = 0;

                assert_int_equal(
                    pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have),
                    rows[i].want);
            }
            expect_rest(fds[0], (const uint8_t *)rows[i].bytes, rows[i].len);
            sender_finish(s);
            close(fds[0]);
        }
    }
}

/* Random segmentation (fixed seed) of every case followed by application
 * data, with random delays; alternately read by pp_recv_header on a
 * blocking socket and by a non-blocking event loop. */
static void test_random_segmentation(void **state)
{
    uint32_t seed = 0x9E3779B9u;
    int kind, round;
    size_t i;

    (void)state;
    for (round = 0; round < 3; round++) {
        for (kind = 0; kind < KIND_COUNT; kind++) {
            for (i = 0; i < NCASES; i++) {
                const hcase *c = &cases[i];
                int fds[2], rc;
                pp_header h;
                sender *s;

                make_pair(kind, fds);
                s = sender_new(fds[1], c->bytes, c->len, app, app_len);
                plan_random(s, &seed);
                pp_header_init(&h);
                if ((round + (int)i) % 2 == 0) {
                    sender_start(s);
                    rc = pp_recv_header(fds[0], &h, hbuf, sizeof hbuf, WAIT_MS);
                } else {
                    size_t agains;

                    set_nonblock(fds[0]);
                    sender_start(s);
                    rc = event_loop(fds[0], &h, s->nchunks + 3, &agains);
                }
                if (rc != (int)c->len)
                    print_error("%s, round %d, %s\n", kind_name[kind], round,
                                c->name);
                check_result(&h, rc, c);
                expect_rest(fds[0], app, app_len);
                sender_finish(s);
                close(fds[0]);
            }
        }
    }
}

/* Buffers and limits: cap below what the settings require is PP_ERR_ARG
 * before any I/O; a cap that matches max_len or v1-only works; a header
 * longer than max_len is PP_ERR_TOO_LONG. */
static void test_buffer_limits(void **state)
{
    int fds[2], rc;
    size_t have = 0;
    pp_header h;
    uint8_t small[128];

    (void)state;
    make_pair(KIND_UNIX, fds);
    assert_int_equal(send(fds[1], cases[4].bytes, cases[4].len, SEND_FLAGS),
                     (ssize_t)cases[4].len);
    assert_int_equal(send(fds[1], app, app_len, SEND_FLAGS), (ssize_t)app_len);

    pp_header_init(&h);
    assert_int_equal(pp_recv_step(fds[0], &h, hbuf, PP_V2_MAX_LEN - 1, &have),
                     PP_ERR_ARG);
    h.flags = PP_F_NO_V2;
    assert_int_equal(pp_recv_step(fds[0], &h, small, PP_V1_MAX_LEN - 1, &have),
                     PP_ERR_ARG);
    h.flags = 0;
    h.max_len = 100;
    assert_int_equal(pp_recv_step(fds[0], &h, small, 99, &have), PP_ERR_ARG);
    have = 101;
    assert_int_equal(pp_recv_step(fds[0], &h, small, 100, &have), PP_ERR_ARG);
    have = 0;
    assert_int_equal(pp_recv_step(fds[0], NULL, small, 100, &have), PP_ERR_ARG);
    assert_int_equal(pp_recv_step(fds[0], &h, NULL, 100, &have), PP_ERR_ARG);
    assert_int_equal(pp_recv_step(fds[0], &h, small, 100, NULL), PP_ERR_ARG);
    assert_int_equal(pp_recv_step(-1, &h, small, 100, &have), PP_ERR_ARG);
    assert_int_equal(have, 0);

    /* max_len 100, cap 100: the 28-byte v2 header fits. */
    rc = pp_recv_step(fds[0], &h, small, 100, &have);
    assert_int_equal(rc, (int)cases[4].len);
    assert_int_equal(have, cases[4].len);
    assert_memory_equal(small, cases[4].bytes, cases[4].len);
    close(fds[1]);
    expect_rest(fds[0], app, app_len);
    close(fds[0]);

    /* max_len 20 (room for v2's fixed part only): a 28-byte header is too
     * long; max_len 10 (not even that): too long as well. */
    {
        static const size_t limits[] = {20, 10};
        size_t k;

        for (k = 0; k < 2; k++) {
            make_pair(KIND_UNIX, fds);
            assert_int_equal(
                send(fds[1], cases[4].bytes, cases[4].len, SEND_FLAGS),
                (ssize_t)cases[4].len);
            pp_header_init(&h);
            h.max_len = limits[k];
            have = 0;
            assert_int_equal(
                pp_recv_header(fds[0], &h, small, limits[k], WAIT_MS),
                PP_ERR_TOO_LONG);
            close(fds[0]);
            close(fds[1]);
        }
    }

    /* v1 only: a 107-byte buffer is enough for any v1 line. */
    make_pair(KIND_UNIX, fds);
    assert_int_equal(send(fds[1], cases[3].bytes, cases[3].len, SEND_FLAGS),
                     (ssize_t)cases[3].len);
    assert_int_equal(send(fds[1], app, app_len, SEND_FLAGS), (ssize_t)app_len);
    close(fds[1]);
    pp_header_init(&h);
    h.flags = PP_F_NO_V2;
    have = 0;
    rc = pp_recv_step(fds[0], &h, small, PP_V1_MAX_LEN, &have);
    assert_int_equal(rc, (int)cases[3].len);
    assert_memory_equal(small, cases[3].bytes, cases[3].len);
    expect_rest(fds[0], app, app_len);
    close(fds[0]);
}

/* pp_recv_step never blocks, even on a blocking socket: with nothing
 * queued it says PP_AGAIN at once. (The peer sends only after a second: a
 * step that blocked would return late, and with a length.) */
static void test_step_never_blocks(void **state)
{
    int kind;

    (void)state;
    for (kind = 0; kind < KIND_COUNT; kind++) {
        int fds[2], rc;
        size_t have = 0;
        long long t0, el;
        pp_header h;
        sender *s;

        make_pair(kind, fds);
        s = sender_new(fds[1], cases[0].bytes, cases[0].len, app, app_len);
        plan_add(s, s->len, 1000000);
        sender_start(s);
        pp_header_init(&h);
        t0 = now_ms();
        rc = pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have);
        el = now_ms() - t0;
        assert_int_equal(rc, PP_AGAIN);
        assert_int_equal(have, 0);
        assert_true(el < 500);
        sender_finish(s);
        close(fds[0]);
    }
}

/* A header that is all queued is taken in one step, however many peeks
 * that needs (the 3031-byte header is longer than the first peek). */
static void test_step_takes_all_queued(void **state)
{
    static const size_t which[] = {0, 3, 6, 7};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof which / sizeof which[0]; i++) {
        const hcase *c = &cases[which[i]];
        int fds[2], rc;
        size_t have = 0;
        pp_header h;

        make_pair(KIND_UNIX, fds);
        assert_int_equal(send(fds[1], c->bytes, c->len, SEND_FLAGS),
                         (ssize_t)c->len);
        assert_int_equal(send(fds[1], app, app_len, SEND_FLAGS),
                         (ssize_t)app_len);
        close(fds[1]);
        pp_header_init(&h);
        rc = pp_recv_step(fds[0], &h, hbuf, sizeof hbuf, &have);
        check_result(&h, rc, c);
        assert_int_equal(have, c->len);
        expect_rest(fds[0], app, app_len);
        close(fds[0]);
    }
}

/* recv errors come back as PP_ERR_IO with errno kept. */
static void test_io_error(void **state)
{
    int p[2];
    size_t have = 0;
    pp_header h;

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "PROXY", 5), 5);
    pp_header_init(&h);
    errno = 0;
    assert_int_equal(pp_recv_step(p[0], &h, hbuf, sizeof hbuf, &have),
                     PP_ERR_IO);
    assert_int_equal(errno, ENOTSOCK);
    assert_int_equal(pp_recv_header(p[0], &h, hbuf, sizeof hbuf, WAIT_MS),
                     PP_ERR_IO);
    assert_int_equal(errno, ENOTSOCK);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------------
 * Datagrams
 * ---------------------------------------------------------------------- */

/* INET DGRAM 10.1.2.3:5353 -> 10.9.8.7:53 */
static const uint8_t dg_inet_body[12] = {10, 1, 2,    3,    10,   9,
                                         8,  7, 0x14, 0xE9, 0x00, 0x35};

static void test_dgram_parse(void **state)
{
    uint8_t dg[128];
    const uint8_t *pl = NULL;
    size_t pll = 99, n;
    pp_header h;
    int rc;

    (void)state;
    n = build_v2(dg, 0x21, 0x12, dg_inet_body, sizeof dg_inet_body);
    memcpy(dg + n, "query", 5);

    /* hdr holds junk and flags that would refuse v2: all reset. */
    memset(&h, 0xA5, sizeof h);
    h.max_len = 0;
    h.flags = PP_F_NO_V2;
    rc = pp_dgram_parse(&h, dg, n + 5, &pl, &pll);
    assert_int_equal(rc, 28);
    assert_ptr_equal(pl, dg + 28);
    assert_int_equal(pll, 5);
    assert_int_equal(h.version, 2);
    assert_int_equal(h.command, PP_CMD_PROXY);
    assert_int_equal(h.family, PP_AF_INET);
    assert_int_equal(h.transport, PP_TRANSPORT_DGRAM);
    assert_memory_equal(h.src.ip, dg_inet_body, 4);
    assert_memory_equal(h.dst.ip, dg_inet_body + 4, 4);
    assert_int_equal(h.src.port, 5353);
    assert_int_equal(h.dst.port, 53);
    assert_null(h.tlvs);

    /* Header only: empty payload pointing at the end. */
    rc = pp_dgram_parse(&h, dg, n, &pl, &pll);
    assert_int_equal(rc, 28);
    assert_ptr_equal(pl, dg + 28);
    assert_int_equal(pll, 0);

    /* max_len is kept. */
    pp_header_init(&h);
    h.max_len = 20;
    assert_int_equal(pp_dgram_parse(&h, dg, n + 5, &pl, &pll), PP_ERR_TOO_LONG);
    assert_null(pl);
    assert_int_equal(pll, 0);
    assert_int_equal(h.max_len, 20);

    /* Arguments. */
    assert_int_equal(pp_dgram_parse(NULL, dg, n, &pl, &pll), PP_ERR_ARG);
    assert_int_equal(pp_dgram_parse(&h, NULL, 3, &pl, &pll), PP_ERR_ARG);
    assert_int_equal(pp_dgram_parse(&h, dg, n, NULL, &pll), PP_ERR_ARG);
    assert_int_equal(pp_dgram_parse(&h, dg, n, &pl, NULL), PP_ERR_ARG);
}

/* Table: what a datagram starting with these bytes gives. */
static void test_dgram_refused(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        int want;
    } rows[] = {
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\npayload", 39,
         PP_ERR_VERSION_DISABLED},
        {"PROXY UNKNOWN\r\n", 15, PP_ERR_VERSION_DISABLED},
        {"PROXY", 5, PP_ERR_VERSION_DISABLED},
        {"PROX", 4, PP_ERR_TRUNCATED},
        {"", 0, PP_ERR_TRUNCATED},
        {"\r\n", 2, PP_ERR_TRUNCATED},
        {"hello", 5, PP_ERR_NOT_PROXY},
        {"\x16\x03\x01", 3, PP_ERR_NOT_PROXY},
        {"\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x00", 16, PP_ERR_V2_VERSION},
        {"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04"
         "abcd",
         20, PP_ERR_V2_ADDR_LEN},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const uint8_t *pl = (const uint8_t *)"x";
        size_t pll = 7;
        pp_header h;

        pp_header_init(&h);
        if (pp_dgram_parse(&h, rows[i].bytes, rows[i].len, &pl, &pll) !=
            rows[i].want)
            print_error("row %zu\n", i);
        assert_int_equal(
            pp_dgram_parse(&h, rows[i].bytes, rows[i].len, &pl, &pll),
            rows[i].want);
        assert_null(pl);
        assert_int_equal(pll, 0);
    }
}

/* Every proper prefix of a header (with TLVs) is a truncated datagram. */
static void test_dgram_truncated(void **state)
{
    size_t cut;

    (void)state;
    for (cut = 0; cut < cases[6].len; cut++) {
        const uint8_t *pl;
        size_t pll;
        pp_header h;

        pp_header_init(&h);
        assert_int_equal(pp_dgram_parse(&h, cases[6].bytes, cut, &pl, &pll),
                         PP_ERR_TRUNCATED);
    }
}

static void fill_inet_dgram(pp_header *h)
{
    pp_header_init(h);
    h->command = PP_CMD_PROXY;
    h->family = PP_AF_INET;
    h->transport = PP_TRANSPORT_DGRAM;
    memcpy(h->src.ip, dg_inet_body, 4);
    memcpy(h->dst.ip, dg_inet_body + 4, 4);
    h->src.port = 5353;
    h->dst.port = 53;
}

/* Write then parse back; the bytes are checked against a datagram built by
 * hand. */
static void test_dgram_write_roundtrip(void **state)
{
    static const char payload[] = "\0\1binary\xff payload";
    uint8_t want[128], out[128];
    const uint8_t *pl;
    size_t pll, wn;
    pp_header h, back;
    int rc;

    (void)state;
    wn = build_v2(want, 0x21, 0x12, dg_inet_body, sizeof dg_inet_body);
    memcpy(want + wn, payload, sizeof payload);
    wn += sizeof payload;

    fill_inet_dgram(&h);
    rc = pp_dgram_write(out, sizeof out, &h, NULL, payload, sizeof payload);
    assert_int_equal(rc, (int)wn);
    assert_memory_equal(out, want, wn);

    pp_header_init(&back);
    assert_int_equal(pp_dgram_parse(&back, out, (size_t)rc, &pl, &pll), 28);
    assert_ptr_equal(pl, out + 28);
    assert_int_equal(pll, sizeof payload);
    assert_memory_equal(pl, payload, sizeof payload);
    assert_int_equal(back.transport, PP_TRANSPORT_DGRAM);
    assert_int_equal(back.src.port, 5353);
    assert_int_equal(back.dst.port, 53);

    /* Empty payload: the header alone. */
    assert_int_equal(pp_dgram_write(out, sizeof out, &h, NULL, NULL, 0), 28);
    assert_memory_equal(out, want, 28);
}

static void test_dgram_write_tlvs(void **state)
{
    pp_tlv t[1];
    pp_v2_opts o;
    uint8_t out[256];
    const uint8_t *pl;
    size_t pll;
    pp_header h, back;
    pp_bytes auth;
    int rc;

    (void)state;
    fill_inet_dgram(&h);
    t[0].type = PP_TLV_AUTHORITY;
    t[0].len = 11;
    t[0].value = (const uint8_t *)"example.com";
    memset(&o, 0, sizeof o);
    o.tlvs = t;
    o.tlv_count = 1;
    o.crc32c = 1;
    rc = pp_dgram_write(out, sizeof out, &h, &o, "abc", 3);
    /* 16 + 12 + CRC32C (7) + AUTHORITY (3 + 11), then 3 payload bytes */
    assert_int_equal(rc, 16 + 12 + 7 + 14 + 3);
    pp_header_init(&back);
    assert_int_equal(pp_dgram_parse(&back, out, (size_t)rc, &pl, &pll), rc - 3);
    assert_int_equal(pll, 3);
    assert_memory_equal(pl, "abc", 3);
    assert_int_equal(pp_authority(&back, &auth), 1);
    assert_int_equal(auth.len, 11);
    assert_memory_equal(auth.ptr, "example.com", 11);
}

/* Too small a buffer: the length needed comes back and nothing is
 * written, for every cap below it. */
static void test_dgram_write_no_room(void **state)
{
    uint8_t out[64], canary[64];
    size_t cap;
    pp_header h;

    (void)state;
    fill_inet_dgram(&h);
    memset(canary, 0xC3, sizeof canary);
    for (cap = 0; cap < 28 + 10; cap++) {
        memset(out, 0xC3, sizeof out);
        assert_int_equal(pp_dgram_write(out, cap, &h, NULL, "0123456789", 10),
                         28 + 10);
        assert_memory_equal(out, canary, sizeof out);
    }
    assert_int_equal(pp_dgram_write(NULL, 0, &h, NULL, "0123456789", 10),
                     28 + 10);
    assert_int_equal(pp_dgram_write(out, 38, &h, NULL, "0123456789", 10), 38);
}

/* The payload may already sit at the start of out: the header is
 * prepended in place. */
static void test_dgram_write_in_place(void **state)
{
    uint8_t out[128];
    const uint8_t *pl;
    size_t pll;
    pp_header h, back;
    int rc;

    (void)state;
    fill_inet_dgram(&h);
    memcpy(out, "in-place payload", 16);
    rc = pp_dgram_write(out, sizeof out, &h, NULL, out, 16);
    assert_int_equal(rc, 28 + 16);
    pp_header_init(&back);
    assert_int_equal(pp_dgram_parse(&back, out, (size_t)rc, &pl, &pll), 28);
    assert_int_equal(pll, 16);
    assert_memory_equal(pl, "in-place payload", 16);
}

static void test_dgram_write_args(void **state)
{
    uint8_t out[64];
    pp_header h;

    (void)state;
    fill_inet_dgram(&h);
    assert_int_equal(pp_dgram_write(out, sizeof out, &h, NULL, NULL, 3),
                     PP_ERR_ARG);
    assert_int_equal(pp_dgram_write(NULL, 10, &h, NULL, "a", 1), PP_ERR_ARG);
    assert_int_equal(pp_dgram_write(out, sizeof out, NULL, NULL, "a", 1),
                     PP_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_never_blocks),
        cmocka_unit_test(test_step_takes_all_queued),
        cmocka_unit_test(test_whole_then_data),
        cmocka_unit_test(test_dribble),
        cmocka_unit_test(test_event_loop_no_spin),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_zero_timeout_ready),
        cmocka_unit_test(test_closed_mid_header),
        cmocka_unit_test(test_not_proxy),
        cmocka_unit_test(test_random_segmentation),
        cmocka_unit_test(test_buffer_limits),
        cmocka_unit_test(test_io_error),
        cmocka_unit_test(test_dgram_parse),
        cmocka_unit_test(test_dgram_refused),
        cmocka_unit_test(test_dgram_truncated),
        cmocka_unit_test(test_dgram_write_roundtrip),
        cmocka_unit_test(test_dgram_write_tlvs),
        cmocka_unit_test(test_dgram_write_no_room),
        cmocka_unit_test(test_dgram_write_in_place),
        cmocka_unit_test(test_dgram_write_args),
    };

    return cmocka_run_group_tests(tests, setup_cases, NULL);
}
