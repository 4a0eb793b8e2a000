/* ppproxy's HTTP module (examples/ppproxy/http.c) on its own: request
 * heads rewritten byte for byte (the five added lines, forwarding fields
 * removed, chains from --forwarded-from hops), bodies and trailers framed
 * so that pipelined requests start exactly where the previous one ends,
 * every rejection of issue 12 with its status, and response framing
 * (interim, 101, 204, 304, HEAD, chunked, close-delimited). Every request
 * case is fed whole, split at every byte, and byte by byte: the output
 * and the events must be the same. */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static pp_trust fwd_table;
static pp_trust_entry fwd_storage[8];

static void client4(struct hx_client *c, const char *ip, unsigned port,
                    int https, const pp_trust *fwd)
{
    struct sockaddr_in in;

    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
    assert_int_equal(hx_client_set(c, (struct sockaddr *)&in, port, https, fwd),
                     0);
}

static void client6(struct hx_client *c, const char *ip, unsigned port,
                    int https, const pp_trust *fwd)
{
    struct sockaddr_in6 in6;

    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
    assert_int_equal(
        hx_client_set(c, (struct sockaddr *)&in6, port, https, fwd), 0);
}

/* What one run over a client stream gave. */
struct result {
    struct hx_buf out;
    int last_event; /* HX_DONE (last request), HX_MORE, HX_REJECT, ... */
    int status;
    size_t consumed; /* input bytes taken */
    int requests;    /* complete requests */
    int upgrade;     /* the last request asked for websocket */
    uint64_t body;   /* body bytes of all requests */
};

/* Feed the stream in pieces: split > 0 cuts once there, split == 0 whole,
 * split < 0 byte by byte. Stops after a request that is the last
 * (Connection: close, HTTP/1.0) or an upgrade, or on an error. */
static void run(const struct hx_client *cl, const char *in, size_t len,
                long split, size_t max_head, struct result *res)
{
    struct hx_req r;
    size_t at = 0;

    memset(res, 0, sizeof *res);
    hx_req_init(&r, max_head);
    res->last_event = HX_MORE;
    while (at < len) {
        size_t piece = len - at, used = 0;
        int ev;

        if (split < 0)
            piece = 1;
        else if (split > 0 && at < (size_t)split)
            piece = (size_t)split - at;
        ev = hx_req_feed(&r, cl, in + at, piece, &res->out, &used);
        assert_true(used <= piece);
        at += used;
        res->last_event = ev;
        if (ev == HX_MORE || ev == HX_HEAD)
            continue;
        if (ev == HX_DONE) {
            res->requests++;
            res->body += r.body_bytes;
            res->upgrade = r.upgrade;
            if (!r.keep_alive || r.upgrade)
                break;
            hx_req_next(&r);
            res->last_event = HX_MORE;
            continue;
        }
        res->status = r.status;
        break;
    }
    /* A request complete at the very end (no body): its HX_DONE comes on
     * the next call, with no input. */
    if (res->last_event == HX_HEAD) {
        size_t used = 0;
        int ev = hx_req_feed(&r, cl, in + at, 0, &res->out, &used);

        assert_int_equal(ev, HX_DONE);
        res->requests++;
        res->body += r.body_bytes;
        res->upgrade = r.upgrade;
        res->last_event = ev;
    }
    res->consumed = at;
    hx_req_free(&r);
}

static void result_free(struct result *res)
{
    hx_buf_free(&res->out);
}

static void same(const struct result *a, const struct result *b, long split)
{
    if (a->out.len != b->out.len ||
        (a->out.len > 0 && memcmp(a->out.p, b->out.p, a->out.len) != 0))
        fail_msg("split %ld: output differs:\n%.*s\n---\n%.*s", split,
                 (int)b->out.len, b->out.p, (int)a->out.len, a->out.p);
    assert_int_equal(a->last_event, b->last_event);
    assert_int_equal(a->status, b->status);
    if (a->last_event != HX_REJECT)
        assert_int_equal(a->consumed, b->consumed);
    assert_int_equal(a->requests, b->requests);
    assert_int_equal(a->body, b->body);
}

/* Run whole, then at every split and byte by byte: all the same. */
static void run_all(const struct hx_client *cl, const char *in, size_t max_head,
                    struct result *whole)
{
    size_t len = strlen(in);
    long s;

    run(cl, in, len, 0, max_head, whole);
    for (s = -1; s < (long)len; s++) {
        struct result part;

        if (s == 0)
            continue;
        run(cl, in, len, s, max_head, &part);
        same(whole, &part, s);
        result_free(&part);
    }
}

static void expect_output(const struct result *res, const char *want)
{
    size_t n = strlen(want);

    if (res->out.len != n || memcmp(res->out.p, want, n) != 0)
        fail_msg("output:\n%.*s\n--- expected:\n%s", (int)res->out.len,
                 res->out.p, want);
}

#define ADDED4                                                                 \
    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"                   \
    "X-Forwarded-Proto: http\r\nX-Forwarded-Port: 8443\r\n"                    \
    "Forwarded: for=192.0.2.7;proto=http\r\n"

/* ---- rewriting ---------------------------------------------------------- */

static void test_simple_get(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(&cl,
            "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n"
            "User-Agent:  x  \r\n\r\n",
            65536, &res);
    expect_output(&res,
                  "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n"
                  "User-Agent:  x  \r\n" ADDED4 "\r\n");
    assert_int_equal(res.last_event, HX_DONE);
    assert_int_equal(res.requests, 1);
    result_free(&res);
}

static void test_spoofed_removed(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(&cl,
            "GET / HTTP/1.1\r\nx-forwarded-for: 6.6.6.6\r\nHost: a\r\n"
            "X-REAL-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-Port: 1\r\n"
            "X-Forwarded-For: 7.7.7.7, 8.8.8.8\r\nX-Other: 1\r\n\r\n",
            65536, &res);
    expect_output(&res,
                  "GET / HTTP/1.1\r\nHost: a\r\nX-Other: 1\r\n" ADDED4 "\r\n");
    result_free(&res);
}

static void test_ipv6_https(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client6(&cl, "2001:db8:0:0:0:0:0:17", 443, 1, NULL);
    run_all(&cl, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 65536, &res);
    expect_output(&res,
                  "GET / HTTP/1.1\r\nHost: a\r\n"
                  "X-Forwarded-For: 2001:db8::17\r\n"
                  "X-Real-IP: 2001:db8::17\r\n"
                  "X-Forwarded-Proto: https\r\n"
                  "X-Forwarded-Port: 443\r\n"
                  "Forwarded: for=\"[2001:db8::17]\";proto=https\r\n"
                  "\r\n");
    result_free(&res);
}

static void test_mapped(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client6(&cl, "::ffff:192.0.2.7", 8443, 0, NULL);
    run_all(&cl, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 65536, &res);
    expect_output(&res, "GET / HTTP/1.1\r\nHost: a\r\n" ADDED4 "\r\n");
    result_free(&res);
}

static void test_pipelined_bodies(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(&cl,
            "\r\n\r\nPOST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
            "GET /POST /2 HTTP/1.1\r\nHost: a\r\n"
            "Transfer-Encoding: gzip, chunked\r\n\r\n"
            "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
            "X-Forwarded-For: 6.6.6.6\r\nX-Sum: 1\r\nforwarded: x\r\n\r\n"
            "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n"
            "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            "GET /5 HTTP/1.1\r\nHost: a\r\n\r\n",
            65536, &res);
    expect_output(
        &res,
        "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n" ADDED4
        "\r\nGET /"
        "POST /2 HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: gzip, chunked\r\n" ADDED4 "\r\n"
        "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
        "X-Sum: 1\r\n\r\n"
        "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED4
        "\r\n0\r\n\r\n"
        "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" ADDED4 "\r\n");
    assert_int_equal(res.requests, 4);
    assert_int_equal(res.body, 5 + 3 + 16);
    assert_int_equal(res.last_event, HX_DONE);
    /* GET /5 was not taken */
    assert_int_equal(
        res.consumed,
        strlen(
            "\r\n\r\nPOST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
            "GET /POST /2 HTTP/1.1\r\nHost: a\r\n"
            "Transfer-Encoding: gzip, chunked\r\n\r\n"
            "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
            "X-Forwarded-For: 6.6.6.6\r\nX-Sum: 1\r\nforwarded: x\r\n\r\n"
            "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n"
            "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    result_free(&res);
}

static void test_http10(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    /* keep-alive asked: goes on; without: the last one */
    run_all(&cl,
            "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            "GET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n",
            65536, &res);
    expect_output(&res,
                  "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n" ADDED4
                  "\r\nGET /2 HTTP/1.0\r\n" ADDED4 "\r\n");
    assert_int_equal(res.requests, 2);
    result_free(&res);
}

/* Connection lists with tabs and empty elements (RFC 9110 5.6.1). */
static void test_connection_lists(void **state)
{
    static const char *const closing[] = {"Keep-Alive,\tclose", "close\t",
                                          "keep-alive,,close",
                                          "keep-alive, , close", "CLOSE"};
    struct hx_client cl;
    struct result res;
    size_t i;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    for (i = 0; i < COUNT(closing); i++) {
        char in[256];

        snprintf(in, sizeof in,
                 "GET / HTTP/1.1\r\nHost: a\r\nConnection: %s\r\n\r\n"
                 "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
                 closing[i]);
        run_all(&cl, in, 65536, &res);
        if (res.requests != 1)
            fail_msg("'%s': %d requests", closing[i], res.requests);
        result_free(&res);
    }
    /* HTTP/1.0 with keep-alive among other options goes on */
    run_all(&cl,
            "GET / HTTP/1.0\r\nConnection: x,\tKeep-Alive\r\n\r\n"
            "GET /2 HTTP/1.0\r\n\r\n",
            65536, &res);
    assert_int_equal(res.requests, 2);
    result_free(&res);
}

static void test_h2c_stripped(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(
        &cl,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
        "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        65536, &res);
    expect_output(&res,
                  "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
                  "HTTP2-Settings\r\n" ADDED4
                  "\r\nGET /2 HTTP/1.1\r\nHost: a\r\n" ADDED4 "\r\n");
    assert_int_equal(res.requests, 2);
    assert_int_equal(res.upgrade, 0);
    result_free(&res);
}

static void test_websocket(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(&cl,
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"
            "\x81\x05hello",
            65536, &res);
    expect_output(&res,
                  "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" ADDED4
                  "\r\n");
    assert_int_equal(res.upgrade, 1);
    assert_int_equal(res.requests, 1);
    result_free(&res);
}

static void test_forwarded_from(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    pp_trust_init(&fwd_table, fwd_storage, COUNT(fwd_storage));
    assert_int_equal(pp_trust_add(&fwd_table, "10.0.0.0/8", 10, NULL), PP_OK);
    assert_int_equal(pp_trust_add(&fwd_table, "2001:db8::/32", 13, NULL),
                     PP_OK);
    pp_trust_build(&fwd_table);

    /* a trusted edge: chains extended, <real> past trusted hops */
    client4(&cl, "10.1.1.1", 80, 0, &fwd_table);
    run_all(&cl,
            "GET / HTTP/1.1\r\nHost: a\r\n"
            "X-Forwarded-For: 6.6.6.6 ,, 203.0.113.9\r\n"
            "Forwarded: for=6.6.6.6\r\n"
            "X-Forwarded-For:\t10.2.2.2\r\n"
            "Forwarded: for=203.0.113.9;proto=https, for=10.2.2.2\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Proto:  https \r\n"
            "X-Forwarded-Port: 443\r\n\r\n",
            65536, &res);
    expect_output(
        &res,
        "GET / HTTP/1.1\r\nHost: a\r\n"
        "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.2.2.2, 10.1.1.1\r\n"
        "X-Real-IP: 203.0.113.9\r\n"
        "X-Forwarded-Proto: https\r\n"
        "X-Forwarded-Port: 443\r\n"
        "Forwarded: for=6.6.6.6, for=203.0.113.9;proto=https, "
        "for=10.2.2.2, for=10.1.1.1;proto=http\r\n\r\n");
    result_free(&res);

    /* the element right of the trusted hops is not an address */
    run_all(&cl,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, "
            "unknown\r\n\r\n",
            65536, &res);
    expect_output(&res,
                  "GET / HTTP/1.1\r\nHost: a\r\n"
                  "X-Forwarded-For: 1.2.3.4, unknown, 10.1.1.1\r\n"
                  "X-Real-IP: 10.1.1.1\r\n"
                  "X-Forwarded-Proto: http\r\n"
                  "X-Forwarded-Port: 80\r\n"
                  "Forwarded: for=10.1.1.1;proto=http\r\n\r\n");
    result_free(&res);

    /* an IPv6 trusted hop, nothing incoming */
    client6(&cl, "2001:db8::1", 80, 1, &fwd_table);
    run_all(&cl, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 65536, &res);
    expect_output(&res,
                  "GET / HTTP/1.1\r\nHost: a\r\n"
                  "X-Forwarded-For: 2001:db8::1\r\n"
                  "X-Real-IP: 2001:db8::1\r\n"
                  "X-Forwarded-Proto: https\r\n"
                  "X-Forwarded-Port: 80\r\n"
                  "Forwarded: for=\"[2001:db8::1]\";proto=https\r\n\r\n");
    result_free(&res);

    /* not in the table: everything incoming is dropped */
    client4(&cl, "192.0.2.7", 8443, 0, &fwd_table);
    run_all(&cl,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.9.9.9\r\n"
            "X-Forwarded-Proto: https\r\n\r\n",
            65536, &res);
    expect_output(&res, "GET / HTTP/1.1\r\nHost: a\r\n" ADDED4 "\r\n");
    result_free(&res);
}

/* ---- rejections --------------------------------------------------------- */

struct reject_case {
    const char *in;
    int status;
};

static const struct reject_case rejects[] = {
    /* framing */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 3\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: "
     "3\r\n\r\nabc",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: "
     "4\r\n\r\nabc",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
     "99999999999999999999\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
     "identity\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
     "chunked\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
    {"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n",
     501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: "
     "chunked\r\n\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", 400},
    /* line endings, bytes */
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
    {"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    /* names */
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
    /* Host */
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
    /* Connection naming a forwarding field */
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-real-ip\r\n\r\n",
     400},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close,Forwarded\r\n\r\n", 400},
    /* request line */
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"GET /\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
    {"QUERY / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
};

static void test_rejections(void **state)
{
    struct hx_client cl;
    size_t i;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    for (i = 0; i < COUNT(rejects); i++) {
        struct result res;

        run_all(&cl, rejects[i].in, 65536, &res);
        if (res.last_event != HX_REJECT || res.status != rejects[i].status)
            fail_msg("case %zu: event %d status %d, expected %d: %s", i,
                     res.last_event, res.status, rejects[i].status,
                     rejects[i].in);
        assert_int_equal(res.out.len, 0); /* nothing went out */
        result_free(&res);
    }
}

static void test_nul_in_head(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run(&cl, in, sizeof in - 1, 0, 65536, &res);
    assert_int_equal(res.last_event, HX_REJECT);
    assert_int_equal(res.status, 400);
    assert_int_equal(res.out.len, 0);
    result_free(&res);
}

/* A rejection after good requests: those went out, nothing after. */
static void test_reject_after_pipelined(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(
        &cl,
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /3 HTTP/1.1\r\n\r\n",
        65536, &res);
    expect_output(&res, "GET /1 HTTP/1.1\r\nHost: a\r\n" ADDED4 "\r\n");
    assert_int_equal(res.last_event, HX_REJECT);
    assert_int_equal(res.status, 400);
    result_free(&res);
}

static void test_limits(void **state)
{
    struct hx_client cl;
    struct result res;
    char big[300];

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    /* request line longer than the limit: 414 */
    snprintf(big, sizeof big, "GET /%0100d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    run_all(&cl, big, 64, &res);
    assert_int_equal(res.status, 414);
    result_free(&res);
    /* the head longer than the limit: 431 */
    run_all(&cl,
            "GET / HTTP/1.1\r\nHost: a\r\nX: "
            "0123456789012345678901234567890123456789\r\n\r\n",
            64, &res);
    assert_int_equal(res.status, 431);
    result_free(&res);
    /* exactly the limit: fine */
    run_all(
        &cl,
        "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456789012345678\r\n\r\n",
        64, &res);
    assert_int_equal(res.last_event, HX_DONE);
    result_free(&res);
}

static void test_bad_chunk(void **state)
{
    struct hx_client cl;
    struct result res;

    (void)state;
    client4(&cl, "192.0.2.7", 8443, 0, NULL);
    run_all(&cl,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\nzz\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            65536, &res);
    assert_int_equal(res.last_event, HX_BODY_ERROR);
    /* the head and the good chunk went out, not the bad size line */
    expect_output(
        &res,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED4
        "\r\n3\r\nabc\r\n");
    result_free(&res);
    /* chunk data not followed by CRLF, bare LF, no size, bad size */
    {
        static const char *const bad[] = {"5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n",
                                          "5\nhello\r\n0\r\n\r\n",
                                          "5\r\nhello\n0\r\n\r\n",
                                          "\r\n",
                                          ";x\r\n",
                                          "-1\r\n",
                                          "5\r\nhello\r\n0\n\r\n"};
        size_t i;

        for (i = 0; i < COUNT(bad); i++) {
            char in[256];

            snprintf(in, sizeof in, "%s%s",
                     "POST / HTTP/1.1\r\nHost: a\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     bad[i]);
            run_all(&cl, in, 65536, &res);
            if (res.last_event != HX_BODY_ERROR)
                fail_msg("chunk case %zu: event %d", i, res.last_event);
            result_free(&res);
        }
    }
    /* extensions and upper-case hex pass unchanged */
    run_all(&cl,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "A ; a=b\r\n0123456789\r\n00\r\n\r\n",
            65536, &res);
    expect_output(
        &res,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED4
        "\r\nA ; a=b\r\n0123456789\r\n00\r\n\r\n");
    assert_int_equal(res.body, 10);
    result_free(&res);
    /* an obs-folded trailer */
    run_all(&cl,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\nX: a\r\n b\r\n\r\n",
            65536, &res);
    assert_int_equal(res.last_event, HX_BODY_ERROR);
    result_free(&res);
}

static void test_error_response(void **state)
{
    size_t len;
    const char *p;

    (void)state;
    p = hx_error_response(431, &len);
    assert_int_equal(len, strlen(p));
    assert_string_equal(p,
                        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n");
    p = hx_error_response(505, &len);
    assert_string_equal(p,
                        "HTTP/1.1 505 HTTP Version Not Supported\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n");
    p = hx_error_response(504, &len);
    assert_string_equal(p,
                        "HTTP/1.1 504 Gateway Timeout\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

/* ---- responses ---------------------------------------------------------- */

/* Feed a response stream (split as in run()), recording the events. */
static void resp_run(struct hx_resp *s, const char *in, size_t len, long split,
                     int *events, size_t *nev, size_t *consumed)
{
    size_t at = 0;

    *nev = 0;
    while (at < len) {
        size_t piece = len - at, used = 0;
        int ev;

        if (split < 0)
            piece = 1;
        else if (split > 0 && at < (size_t)split)
            piece = (size_t)split - at;
        ev = hx_resp_feed(s, in + at, piece, &used);
        at += used;
        if (ev == HX_MORE)
            continue;
        if (ev == HX_RHEAD || ev == HX_RINTERIM)
            continue;
        events[(*nev)++] = ev;
        if (ev != HX_RDONE)
            break;
    }
    *consumed = at;
}

static void check_responses(const unsigned char *heads, size_t nheads,
                            const char *in, size_t want_done, int want_last,
                            size_t want_consumed)
{
    size_t len = strlen(in);
    long split;

    for (split = -1; split < (long)len; split++) {
        struct hx_resp s;
        int events[16] = {0};
        size_t nev, consumed, i;

        hx_resp_init(&s);
        for (i = 0; i < nheads; i++)
            assert_int_equal(hx_resp_expect(&s, heads[i]), 0);
        resp_run(&s, in, len, split, events, &nev, &consumed);
        if (want_last == HX_RDONE && nev == want_done - 1 && consumed == len &&
            hx_resp_eof(&s) == HX_RDONE)
            events[nev++] = HX_RDONE; /* close-delimited */
        for (i = 0; i < want_done; i++)
            if (i >= nev || events[i] != HX_RDONE)
                fail_msg("split %ld: response %zu not done", split, i);
        if (want_last != HX_RDONE) {
            assert_true(nev == want_done + 1 && nev > 0);
            assert_int_equal(events[want_done], want_last);
        } else {
            assert_int_equal(nev, want_done);
        }
        assert_int_equal(consumed, want_consumed);
    }
}

static void test_responses(void **state)
{
    static const unsigned char get3[] = {0, 1, 0, 0};
    const char *in = "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" /* HEAD */
                     "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nab\r\n0\r\nX: y\r\n\r\n";

    (void)state;
    check_responses(get3, 4, in, 4, HX_RDONE, strlen(in));
}

static void test_response_304_close_delimited(void **state)
{
    static const unsigned char get2[] = {0, 0};
    const char *in = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
                     "HTTP/1.0 200 OK\r\n\r\nall of it until the end";

    (void)state;
    check_responses(get2, 2, in, 2, HX_RDONE, strlen(in));
}

static void test_response_upgrade(void **state)
{
    static const unsigned char get1[] = {0};
    const char *in =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n\r\n\x81\x02hi";

    (void)state;
    check_responses(get1, 1, in, 0, HX_RUPGRADE, strlen(in) - 4);
}

static void test_response_errors(void **state)
{
    static const unsigned char get1[] = {0, 0};

    (void)state;
    check_responses(get1, 1, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0,
                    HX_RERROR, 33);
    /* an answer to nothing */
    check_responses(
        get1, 1,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n", 1,
        HX_RERROR, 38);
    {
        struct hx_resp s;
        size_t used;

        hx_resp_init(&s);
        hx_resp_expect(&s, 0);
        assert_int_equal(hx_resp_feed(&s, "HTTP/1.1 200 OK\r\nCont", 21, &used),
                         HX_MORE);
        assert_int_equal(hx_resp_eof(&s), HX_RERROR);
        hx_resp_init(&s);
        hx_resp_expect(&s, 0);
        assert_int_equal(hx_resp_eof(&s), HX_MORE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_spoofed_removed),
        cmocka_unit_test(test_ipv6_https),
        cmocka_unit_test(test_mapped),
        cmocka_unit_test(test_pipelined_bodies),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_connection_lists),
        cmocka_unit_test(test_h2c_stripped),
        cmocka_unit_test(test_websocket),
        cmocka_unit_test(test_forwarded_from),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_nul_in_head),
        cmocka_unit_test(test_reject_after_pipelined),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_chunk),
        cmocka_unit_test(test_error_response),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_response_304_close_delimited),
        cmocka_unit_test(test_response_upgrade),
        cmocka_unit_test(test_response_errors),
    };

    hx_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
