/*
 * http_fuzzer: ppproxy's HTTP module (examples/ppproxy/http.c), fed
 * whole and in pieces.
 *
 * The same bytes go through hx_req_feed as a client's stream and through
 * hx_resp_feed as an upstream's, once whole and once cut into pieces of a
 * size the input chooses. The request side must write the same output and
 * end in the same event (and status) both ways; the response side must
 * give the same events at the same offsets. Every call must take no more
 * than it was given. The sanitizers watch the rest (the module keeps
 * offsets into buffers that grow).
 *
 * Input: byte 0: options (bits 0-1 the client: IPv4, IPv6, mapped, a
 *   --forwarded-from hop; bits 2-4 the --max-request-head: 64 << n; bits
 *   5-7 how many responses are awaited, and whether the first is to a
 *   HEAD); byte 1: the piece size (1 + byte % 64); then the stream.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz_common.h"
#include "http.h"

#define MAX_EVENTS 4096

struct req_run {
    struct hx_buf out;
    int last, status, requests;
};

static void run_requests(const struct hx_client *cl, const char *p, size_t n,
                         size_t piece, size_t max_head, struct req_run *res)
{
    struct hx_req r;
    size_t at = 0;

    memset(res, 0, sizeof *res);
    hx_req_init(&r, max_head);
    res->last = HX_MORE;
    while (at <= n) {
        size_t len = n - at, used = 0;
        int ev;

        if (piece > 0 && len > piece)
            len = piece;
        ev = hx_req_feed(&r, cl, p + at, len, &res->out, &used);
        FUZZ_CHECK(used <= len);
        FUZZ_CHECK(ev != HX_NOMEM);
        at += used;
        res->last = ev;
        if (ev == HX_HEAD)
            continue;
        if (ev == HX_DONE) {
            res->requests++;
            if (!r.keep_alive || r.upgrade)
                break;
            hx_req_next(&r);
            res->last = HX_MORE;
            continue;
        }
        if (ev != HX_MORE) {
            res->status = r.status;
            break;
        }
        if (at == n)
            break;
    }
    hx_req_free(&r);
}

struct resp_run {
    int ev[MAX_EVENTS];
    size_t pos[MAX_EVENTS];
    size_t nev;
};

static void run_responses(const char *p, size_t n, size_t piece, int awaited,
                          int first_head, struct resp_run *res)
{
    struct hx_resp s;
    size_t at = 0;
    int i;

    res->nev = 0;
    hx_resp_init(&s);
    for (i = 0; i < awaited; i++)
        FUZZ_CHECK(hx_resp_expect(&s, i == 0 && first_head) == 0);
    while (at < n || s.lf_due) {
        size_t len = n - at, used = 0;
        int ev;

        if (piece > 0 && len > piece)
            len = piece;
        ev = hx_resp_feed(&s, p + at, len, &used);
        FUZZ_CHECK(used <= len);
        at += used;
        if (ev == HX_MORE && used == len && !s.lf_due)
            continue;
        if (ev == HX_MORE)
            continue;
        if (res->nev < MAX_EVENTS) {
            res->ev[res->nev] = ev;
            res->pos[res->nev] = at;
            res->nev++;
        }
        if (ev == HX_RERROR || ev == HX_RUPGRADE)
            return;
        if (ev == HX_RDONE && s.q_len == 0)
            return;
    }
    if (res->nev < MAX_EVENTS) {
        res->ev[res->nev] = 100 + hx_resp_eof(&s);
        res->pos[res->nev] = at;
        res->nev++;
    }
}

static void set_client(struct hx_client *cl, int kind)
{
    static pp_trust fwd;
    static pp_trust_entry storage[2];
    static int built;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;

    if (!built) {
        pp_trust_init(&fwd, storage, 2);
        pp_trust_add(&fwd, "10.0.0.0/8", 10, NULL);
        pp_trust_add(&fwd, "2001:db8::/32", 13, NULL);
        pp_trust_build(&fwd);
        built = 1;
    }
    memset(&in, 0, sizeof in);
    memset(&in6, 0, sizeof in6);
    in.sin_family = AF_INET;
    in6.sin6_family = AF_INET6;
    switch (kind) {
    case 0:
        inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
        hx_client_set(cl, (struct sockaddr *)&in, 443, 0, &fwd);
        break;
    case 1:
        inet_pton(AF_INET6, "2001:db9::17", &in6.sin6_addr);
        hx_client_set(cl, (struct sockaddr *)&in6, 8443, 1, &fwd);
        break;
    case 2:
        inet_pton(AF_INET6, "::ffff:192.0.2.9", &in6.sin6_addr);
        hx_client_set(cl, (struct sockaddr *)&in6, 80, 0, NULL);
        break;
    default:
        inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
        hx_client_set(cl, (struct sockaddr *)&in, 80, 0, &fwd);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    fuzz_in in = {data, size};
    uint8_t opt = fuzz_u8(&in), cut = fuzz_u8(&in);
    size_t piece = 1 + (size_t)(cut % 64), n;
    const char *p = (const char *)fuzz_bytes(&in, in.left, &n);
    size_t max_head = (size_t)64 << ((opt >> 2) & 7);
    int awaited = 1 + ((opt >> 5) & 3), first_head = (opt >> 7) & 1;
    struct hx_client cl;
    struct req_run a, b;
    struct resp_run *ra, *rb;
    size_t i;

    if (!ready) {
        hx_global_init();
        ready = 1;
    }
    set_client(&cl, opt & 3);

    run_requests(&cl, p, n, 0, max_head, &a);
    run_requests(&cl, p, n, piece, max_head, &b);
    if (a.out.len != b.out.len ||
        (a.out.len > 0 && memcmp(a.out.p, b.out.p, a.out.len) != 0) ||
        a.last != b.last || a.status != b.status || a.requests != b.requests) {
        fuzz_hex("whole", a.out.p, a.out.len);
        fuzz_hex("pieces", b.out.p, b.out.len);
        fprintf(stderr, "events %d/%d status %d/%d requests %d/%d\n", a.last,
                b.last, a.status, b.status, a.requests, b.requests);
        FUZZ_CHECK(0 && "requests: whole and pieces differ");
    }
    hx_buf_free(&a.out);
    hx_buf_free(&b.out);

    ra = malloc(sizeof *ra);
    rb = malloc(sizeof *rb);
    FUZZ_CHECK(ra != NULL && rb != NULL);
    run_responses(p, n, 0, awaited, first_head, ra);
    run_responses(p, n, piece, awaited, first_head, rb);
    FUZZ_CHECK(ra->nev == rb->nev);
    for (i = 0; i < ra->nev; i++) {
        if (ra->ev[i] != rb->ev[i] ||
            (ra->ev[i] != HX_RERROR && ra->pos[i] != rb->pos[i])) {
            fprintf(stderr, "event %zu: %d at %zu / %d at %zu\n", i, ra->ev[i],
                    ra->pos[i], rb->ev[i], rb->pos[i]);
            FUZZ_CHECK(0 && "responses: whole and pieces differ");
        }
    }
    free(ra);
    free(rb);
    return 0;
}
