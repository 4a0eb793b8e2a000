/*
 * http.c - ppproxy's HTTP/1.x module (see http.h). Sections:
 *   buffers and small helpers
 *   the client's texts (<client>, <node>, <port>, <proto>)
 *   request heads: collecting, checking, rewriting
 *   request bodies and trailers (http_parser)
 *   responses (http_parser)
 *
 * http_parser is strict but accepts a few things issue 12 refuses
 * (obs-fold, bare LF, whitespace before a colon, HTTP/1.2, ...), so every
 * head is first collected whole and checked line by line here; the
 * rewritten head is then fed to http_parser, which checks it again and
 * frames the body that follows. A head never reaches the output unless
 * both accepted it.
 */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------
 * Buffers and small helpers
 * ---------------------------------------------------------------------- */
int hx_buf_add(struct hx_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;

        while (cap - b->len < n)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int buf_str(struct hx_buf *b, const char *s)
{
    return hx_buf_add(b, s, strlen(s));
}

void hx_buf_free(struct hx_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar of RFC 9110 section 5.6.2 */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A span of text: pointer and length. */
struct span {
    const char *p;
    size_t n;
};

static struct span trim(const char *p, size_t n)
{
    struct span s;

    while (n > 0 && is_ows(p[0])) {
        p++;
        n--;
    }
    while (n > 0 && is_ows(p[n - 1]))
        n--;
    s.p = p;
    s.n = n;
    return s;
}

static int span_is(struct span s, const char *word)
{
    return s.n == strlen(word) && strncasecmp(s.p, word, s.n) == 0;
}

/* Next comma-separated element of *list (trimmed, possibly empty); 0 when
 * the list is used up. */
static int next_element(struct span *list, struct span *el)
{
    const char *comma;
    size_t n;

    if (list->p == NULL)
        return 0;
    comma = memchr(list->p, ',', list->n);
    n = comma ? (size_t)(comma - list->p) : list->n;
    *el = trim(list->p, n);
    if (comma) {
        list->n -= n + 1;
        list->p = comma + 1;
    } else {
        list->p = NULL;
        list->n = 0;
    }
    return 1;
}

const char *hx_error_response(int status, size_t *len)
{
    static const struct {
        int status;
        const char *text;
    } table[] = {
        {400, "HTTP/1.1 400 Bad Request\r\n"},
        {408, "HTTP/1.1 408 Request Timeout\r\n"},
        {414, "HTTP/1.1 414 URI Too Long\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {501, "HTTP/1.1 501 Not Implemented\r\n"},
        {502, "HTTP/1.1 502 Bad Gateway\r\n"},
        {504, "HTTP/1.1 504 Gateway Timeout\r\n"},
        {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
    };
    static char out[sizeof table / sizeof table[0]][128];
    static const char tail[] = "Content-Length: 0\r\nConnection: close\r\n\r\n";
    size_t i, k = 0;

    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].status == status)
            k = i;
    if (out[k][0] == '\0') { /* a race writes the same bytes: harmless */
        char tmp[128];

        snprintf(tmp, sizeof tmp, "%s%s", table[k].text, tail);
        memcpy(out[k], tmp, sizeof tmp);
    }
    *len = strlen(out[k]);
    return out[k];
}

void hx_global_init(void)
{
    http_parser_set_max_header_size(4 * HX_MAX_HEAD_LIMIT);
    /* Fill the error responses once, before any thread runs. */
    {
        static const int codes[] = {400, 408, 414, 431, 501, 502, 504, 505};
        size_t i, len;

        for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
            hx_error_response(codes[i], &len);
    }
}

/* ------------------------------------------------------------------------
 * The client's texts
 * ---------------------------------------------------------------------- */
int hx_client_set(struct hx_client *c, const struct sockaddr *sa, unsigned port,
                  int https, const pp_trust *forwarded)
{
    memset(c, 0, sizeof *c);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], c->addr,
                      sizeof c->addr);
            snprintf(c->node, sizeof c->node, "%s", c->addr);
        } else {
            /* glibc's inet_ntop writes RFC 5952 text. */
            inet_ntop(AF_INET6, &in6->sin6_addr, c->addr, sizeof c->addr);
            snprintf(c->node, sizeof c->node, "\"[%s]\"", c->addr);
        }
        c->hop_trusted = forwarded != NULL &&
            pp_trust_match_ip6(forwarded, in6->sin6_addr.s6_addr);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uint8_t a[4];

        memcpy(a, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, c->addr, sizeof c->addr);
        snprintf(c->node, sizeof c->node, "%s", c->addr);
        c->hop_trusted = forwarded != NULL && pp_trust_match_ip4(forwarded, a);
    } else {
        return -1;
    }
    snprintf(c->port, sizeof c->port, "%u", port & 0xffff);
    c->proto = https ? "https" : "http";
    c->forwarded = forwarded;
    return 0;
}

/* An element of an X-Forwarded-For chain that is an IP address inside
 * --forwarded-from: 1; a plain address outside it: 0; anything else: -1. */
static int element_kind(const struct hx_client *cl, struct span el)
{
    char text[64];
    uint8_t a[16];

    if (el.n == 0 || el.n >= sizeof text)
        return -1;
    memcpy(text, el.p, el.n);
    text[el.n] = '\0';
    if (inet_pton(AF_INET, text, a) == 1)
        return pp_trust_match_ip4(cl->forwarded, a) ? 1 : 0;
    if (inet_pton(AF_INET6, text, a) == 1)
        return pp_trust_match_ip6(cl->forwarded, a) ? 1 : 0;
    return -1;
}

/* ------------------------------------------------------------------------
 * Request heads
 * ---------------------------------------------------------------------- */
enum req_state {
    RQ_HEAD,    /* collecting a head */
    RQ_BODY,    /* passing a body through http_parser */
    RQ_TRAILER, /* collecting a chunked trailer section */
    RQ_DONE     /* complete: HX_DONE until hx_req_next */
};

/* Parser callbacks' findings (flags) */
#define PF_HEADERS 1  /* on_headers_complete */
#define PF_COMPLETE 4 /* on_message_complete */

/* Fields this module looks at. */
enum field {
    FD_OTHER,
    FD_HOST,
    FD_CL,
    FD_TE,
    FD_CONNECTION,
    FD_UPGRADE,
    FD_H2SETTINGS,
    FD_XFF, /* the five forwarding fields, in this order */
    FD_XRI,
    FD_FWD,
    FD_XFPROTO,
    FD_XFPORT
};

static const char *const field_names[] = {
    "",           "host",      "content-length",    "transfer-encoding",
    "connection", "upgrade",   "http2-settings",    "x-forwarded-for",
    "x-real-ip",  "forwarded", "x-forwarded-proto", "x-forwarded-port"};

static enum field field_of(struct span name)
{
    size_t i;

    for (i = 1; i < sizeof field_names / sizeof field_names[0]; i++)
        if (span_is(name, field_names[i]))
            return (enum field)i;
    return FD_OTHER;
}

static int is_forwarding(enum field f)
{
    return f >= FD_XFF;
}

static int req_headers_complete(http_parser *p)
{
    struct hx_req *r = p->data;

    r->flags |= PF_HEADERS;
    return 0;
}

static int req_message_complete(http_parser *p)
{
    struct hx_req *r = p->data;

    r->flags |= PF_COMPLETE;
    http_parser_pause(p, 1);
    return 0;
}

/* The parser sees heads only: bodies are framed below (body_step), as
 * Debian's build of it is not strict about the CRLF after chunk data. */
static const http_parser_settings req_settings = {
    .on_headers_complete = req_headers_complete,
    .on_message_complete = req_message_complete,
};

void hx_req_init(struct hx_req *r, size_t max_head)
{
    memset(r, 0, sizeof *r);
    r->max_head = max_head;
    hx_req_next(r);
}

void hx_req_free(struct hx_req *r)
{
    hx_buf_free(&r->hb);
    hx_buf_free(&r->pv);
}

void hx_req_next(struct hx_req *r)
{
    r->state = RQ_HEAD;
    r->hb.len = 0;
    r->line_start = r->reqline_len = 0;
    r->pending_cr = 0;
    r->flags = 0;
    r->status = 0;
    r->reason = NULL;
    r->method[0] = r->version[0] = r->real[0] = '\0';
    r->target_len = 0;
    r->is_head = r->keep_alive = r->upgrade = 0;
    r->body_bytes = 0;
    r->chunked = 0;
    r->left = 0;
    r->cstate = 0;
    r->digits = 0;
}

int hx_req_started(const struct hx_req *r)
{
    return r->state != RQ_HEAD || r->hb.len > 0 || r->pending_cr;
}

int hx_req_in_head(const struct hx_req *r)
{
    return r->state == RQ_HEAD && (r->hb.len > 0 || r->pending_cr);
}

static int reject(struct hx_req *r, int status, const char *reason)
{
    r->status = status;
    r->reason = reason;
    return HX_REJECT;
}

/* Collect a head (or trailer section) into r->hb: bytes checked as they
 * come (no NUL, CR only before LF, LF only after CR). Returns 1 when the
 * section is complete (ending at *used), 0 when all was taken, else an
 * event (HX_REJECT, HX_NOMEM). A rejection's reason is set; its status
 * only matters for heads. */
static int collect(struct hx_req *r, const char *in, size_t n, size_t *used,
                   int is_trailer)
{
    size_t i = 0;

    /* Empty lines before a request line are dropped (RFC 9112 2.2). */
    while (!is_trailer && r->hb.len == 0 && i < n) {
        if (r->pending_cr) {
            if (in[i] != '\n')
                return reject(r, 400, "bare_cr");
            r->pending_cr = 0;
            i++;
        } else if (in[i] == '\r') {
            r->pending_cr = 1;
            i++;
        } else {
            break;
        }
    }
    /* A line (or the part of one that is here) at a time. */
    while (i < n) {
        const char *seg = in + i, *p, *lf;
        size_t len = n - i, room = r->max_head - r->hb.len;
        int cut = 0;
        char prev = r->hb.len > 0 ? r->hb.p[r->hb.len - 1] : '\0';

        lf = memchr(seg, '\n', len);
        if (lf != NULL)
            len = (size_t)(lf - seg) + 1;
        if (len > room) { /* checked up to the limit, then refused */
            len = room;
            cut = 1;
            if (lf != NULL && lf >= seg + len)
                lf = NULL;
        }
        if (len > 0 && memchr(seg, '\0', len) != NULL)
            return reject(r, 400, "nul");
        if (len > 0 && prev == '\r' && seg[0] != '\n')
            return reject(r, 400, "bare_cr");
        for (p = len > 0 ? memchr(seg, '\r', len) : NULL; p != NULL;
             p = memchr(p + 1, '\r', (size_t)(seg + len - p - 1)))
            if (p + 1 < seg + len && p[1] != '\n')
                return reject(r, 400, "bare_cr");
        if (lf != NULL && (lf > seg ? lf[-1] : prev) != '\r')
            return reject(r, 400, "bare_lf");
        if (hx_buf_add(&r->hb, seg, len) < 0)
            return HX_NOMEM;
        i += len;
        if (cut) {
            if (!is_trailer && r->reqline_len == 0)
                return reject(r, 414, "request_line_too_long");
            return reject(r, 431, "head_too_large");
        }
        if (lf == NULL)
            break;
        len = r->hb.len;
        if (!is_trailer && r->reqline_len == 0) {
            r->reqline_len = len;
        } else if (len - r->line_start == 2) {
            *used = i;
            return 1; /* the empty line */
        }
        r->line_start = len;
    }
    *used = n;
    return 0;
}

/* Is the method one http_parser knows? */
static int method_known(struct span m)
{
    int i;

    for (i = 0; i < 64; i++) {
        const char *name = http_method_str((enum http_method)i);

        if (strcmp(name, "<unknown>") == 0)
            break;
        if (m.n == strlen(name) && memcmp(m.p, name, m.n) == 0)
            return 1;
    }
    return 0;
}

/* The request line: method SP target SP HTTP/d.d */
static int check_request_line(struct hx_req *r, struct span line)
{
    const char *sp1 = memchr(line.p, ' ', line.n), *sp2;
    struct span m, t, v;
    size_t i;

    if (sp1 == NULL)
        return reject(r, 400, "bad_request_line");
    sp2 = memchr(sp1 + 1, ' ', (size_t)(line.p + line.n - sp1 - 1));
    if (sp2 == NULL)
        return reject(r, 400, "bad_request_line");
    m.p = line.p;
    m.n = (size_t)(sp1 - line.p);
    t.p = sp1 + 1;
    t.n = (size_t)(sp2 - t.p);
    v.p = sp2 + 1;
    v.n = (size_t)(line.p + line.n - v.p);
    /* what the log says, even of a refused request */
    snprintf(r->method, sizeof r->method, "%.*s", (int)(m.n < 23 ? m.n : 23),
             m.p);
    r->target_len = t.n < HX_TARGET_MAX ? t.n : HX_TARGET_MAX;
    memcpy(r->target, t.p, r->target_len);
    snprintf(r->version, sizeof r->version, "%.*s", (int)(v.n < 15 ? v.n : 15),
             v.p);
    if (m.n == 0 || t.n == 0)
        return reject(r, 400, "bad_request_line");
    for (i = 0; i < m.n; i++)
        if (!is_tchar((unsigned char)m.p[i]))
            return reject(r, 400, "bad_request_line");
    for (i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] <= 0x20 || (unsigned char)t.p[i] == 0x7f)
            return reject(r, 400, "bad_request_line");
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[5] < '0' ||
        v.p[5] > '9' || v.p[6] != '.' || v.p[7] < '0' || v.p[7] > '9')
        return reject(r, 400, "bad_request_line");
    if (v.p[5] != '1' || (v.p[7] != '0' && v.p[7] != '1'))
        return reject(r, 505, "version");
    if (!method_known(m))
        return reject(r, 501, "method");
    if (span_is(m, "CONNECT") && memcmp(m.p, "CONNECT", 7) == 0)
        return reject(r, 501, "connect");
    r->is_head = m.n == 4 && memcmp(m.p, "HEAD", 4) == 0;
    return 0;
}

/* One header or trailer line, without its CRLF: name and value. */
static int split_field(struct span line, struct span *name, struct span *value)
{
    const char *colon = memchr(line.p, ':', line.n);
    size_t i;

    if (line.n > 0 && is_ows(line.p[0]))
        return -1; /* obs-fold (or whitespace before a name) */
    if (colon == NULL || colon == line.p)
        return -1;
    name->p = line.p;
    name->n = (size_t)(colon - line.p);
    for (i = 0; i < name->n; i++)
        if (!is_tchar((unsigned char)name->p[i]))
            return -1; /* also whitespace before the colon */
    *value = trim(colon + 1, line.n - name->n - 1);
    return 0;
}

/* Transfer-Encoding (all lines' elements): 0 ok (chunked last), else an
 * event with status set. */
static int check_te(struct hx_req *r, const struct span *lines, size_t nlines)
{
    size_t i, chunked = 0, total = 0;
    int last_chunked = 0, unknown = 0;

    for (i = 0; i < nlines; i++) {
        struct span list = lines[i], el;

        while (next_element(&list, &el)) {
            struct span name = el;
            const char *semi = memchr(el.p, ';', el.n);

            if (el.n == 0)
                continue;
            if (semi != NULL)
                name = trim(el.p, (size_t)(semi - el.p));
            total++;
            last_chunked = span_is(name, "chunked");
            if (last_chunked) {
                chunked++;
                if (semi != NULL) /* chunked takes no parameters */
                    return reject(r, 400, "transfer_encoding");
            } else if (!span_is(name, "gzip") && !span_is(name, "deflate") &&
                       !span_is(name, "compress") && !span_is(name, "x-gzip") &&
                       !span_is(name, "x-compress")) {
                unknown = 1;
            }
        }
    }
    if (total == 0 || !last_chunked || chunked > 1)
        return reject(r, 400, "transfer_encoding");
    if (unknown)
        return reject(r, 501, "transfer_encoding");
    return 0;
}

/* Append the comma elements of a field's lines to a chain. */
static int chain_add(struct hx_buf *chain, struct span list)
{
    struct span el;

    while (next_element(&list, &el)) {
        if (el.n == 0)
            continue;
        if ((chain->len > 0 && hx_buf_add(chain, ", ", 2) < 0) ||
            hx_buf_add(chain, el.p, el.n) < 0)
            return -1;
    }
    return 0;
}

/* <real>: from the right of the chain, past the trusted hops. */
static struct span find_real(const struct hx_client *cl, struct span chain)
{
    struct span real;

    real.p = cl->addr;
    real.n = strlen(cl->addr);
    while (chain.n > 0) {
        const char *comma = NULL;
        const char *q;
        struct span el;
        int kind;

        for (q = chain.p + chain.n; q > chain.p; q--)
            if (q[-1] == ',') {
                comma = q - 1;
                break;
            }
        el = comma ? trim(comma + 1, (size_t)(chain.p + chain.n - comma - 1))
                   : trim(chain.p, chain.n);
        chain.n = comma ? (size_t)(comma - chain.p) : 0;
        kind = element_kind(cl, el);
        if (kind == 1)
            continue;
        if (kind == 0)
            real = el;
        break;
    }
    return real;
}

/* The accumulated head is complete: check it, write the rewritten head to
 * out. 0 or an event. */
static int rewrite_head(struct hx_req *r, const struct hx_client *cl,
                        struct hx_buf *out)
{
    enum { MAXL = 4096 };
    const char *h = r->hb.p;
    size_t end = r->hb.len, at, nte = 0, hosts = 0, cls = 0;
    uint64_t cl_value = 0;
    struct span te[64];
    struct span line, last_xfp = {NULL, 0}, last_xfport = {NULL, 0};
    struct hx_buf xff = {NULL, 0, 0}, fwd = {NULL, 0, 0};
    int drop_upgrade = 0, has_upgrade = 0, http10, rc = 0;
    int conn_close = 0, conn_keep = 0, conn_upgrade = 0;
    size_t out_start = out->len;
    struct span real;

    line.p = h;
    line.n = r->reqline_len - 2;
    rc = check_request_line(r, line);
    if (rc != 0)
        return rc;
    http10 = r->version[7] == '0';

    /* First pass: checks, and what the second pass needs to know. */
    for (at = r->reqline_len; at + 2 < end;) {
        const char *lf = memchr(h + at, '\n', end - at);
        struct span name, value;
        enum field f;

        line.p = h + at;
        line.n = (size_t)(lf - line.p) - 1;
        at = (size_t)(lf - h) + 1;
        if (split_field(line, &name, &value) < 0) {
            rc = reject(r, 400, "bad_header");
            goto out;
        }
        f = field_of(name);
        switch (f) {
        case FD_HOST:
            hosts++;
            break;
        case FD_CL: {
            size_t i;

            cls++;
            if (value.n == 0 || value.n > 18) {
                rc = reject(r, 400, "content_length");
                goto out;
            }
            for (i = 0; i < value.n; i++) {
                if (value.p[i] < '0' || value.p[i] > '9') {
                    rc = reject(r, 400, "content_length");
                    goto out;
                }
                cl_value = cl_value * 10 + (uint64_t)(value.p[i] - '0');
            }
            break;
        }
        case FD_TE:
            if (nte == sizeof te / sizeof te[0]) {
                rc = reject(r, 400, "transfer_encoding");
                goto out;
            }
            te[nte++] = value;
            break;
        case FD_CONNECTION: {
            struct span list = value, el;

            while (next_element(&list, &el)) {
                if (is_forwarding(field_of(el))) {
                    rc = reject(r, 400, "connection_forwarding");
                    goto out;
                }
                if (span_is(el, "close"))
                    conn_close = 1;
                else if (span_is(el, "keep-alive"))
                    conn_keep = 1;
                else if (span_is(el, "upgrade"))
                    conn_upgrade = 1;
            }
            break;
        }
        case FD_UPGRADE:
            has_upgrade = 1;
            if (!span_is(value, "websocket"))
                drop_upgrade = 1;
            break;
        case FD_XFF:
            if (cl->hop_trusted && chain_add(&xff, value) < 0) {
                rc = HX_NOMEM;
                goto out;
            }
            break;
        case FD_FWD:
            if (cl->hop_trusted && chain_add(&fwd, value) < 0) {
                rc = HX_NOMEM;
                goto out;
            }
            break;
        case FD_XFPROTO:
            last_xfp = value;
            break;
        case FD_XFPORT:
            last_xfport = value;
            break;
        default:
            break;
        }
    }
    if (cls > 1) {
        rc = reject(r, 400, "content_length");
        goto out;
    }
    if (nte > 0 && http10) {
        rc = reject(r, 400, "transfer_encoding");
        goto out;
    }
    if (nte > 0 && cls > 0) {
        rc = reject(r, 400, "content_length_and_transfer_encoding");
        goto out;
    }
    if (nte > 0 && (rc = check_te(r, te, nte)) != 0)
        goto out;
    if (hosts > 1 || (hosts == 0 && !http10)) {
        rc = reject(r, 400, "host");
        goto out;
    }

    /* Second pass: the request line and the lines that stay, as they came. */
    if (hx_buf_add(out, h, r->reqline_len) < 0)
        goto nomem;
    for (at = r->reqline_len; at + 2 < end;) {
        const char *lf = memchr(h + at, '\n', end - at);
        size_t start = at;
        struct span name, value;
        enum field f;

        line.p = h + at;
        line.n = (size_t)(lf - line.p) - 1;
        at = (size_t)(lf - h) + 1;
        split_field(line, &name, &value);
        f = field_of(name);
        if (is_forwarding(f) ||
            (drop_upgrade && (f == FD_UPGRADE || f == FD_H2SETTINGS)))
            continue;
        if (hx_buf_add(out, h + start, at - start) < 0)
            goto nomem;
    }

    /* The five lines. */
    if (cl->hop_trusted &&
        chain_add(&xff, trim(cl->addr, strlen(cl->addr))) < 0)
        goto nomem;
    if (!cl->hop_trusted) {
        if (buf_str(&xff, cl->addr) < 0)
            goto nomem;
        last_xfp.p = last_xfport.p = NULL;
    }
    real = cl->hop_trusted ? find_real(cl, (struct span){xff.p, xff.len})
                           : (struct span){cl->addr, strlen(cl->addr)};
    snprintf(r->real, sizeof r->real, "%.*s",
             (int)(real.n < sizeof r->real ? real.n : sizeof r->real - 1),
             real.p);
    if (buf_str(out, "X-Forwarded-For: ") < 0 ||
        hx_buf_add(out, xff.p, xff.len) < 0 ||
        buf_str(out, "\r\nX-Real-IP: ") < 0 ||
        hx_buf_add(out, real.p, real.n) < 0 ||
        buf_str(out, "\r\nX-Forwarded-Proto: ") < 0 ||
        (last_xfp.p != NULL && last_xfp.n > 0
             ? hx_buf_add(out, last_xfp.p, last_xfp.n)
             : buf_str(out, cl->proto)) < 0 ||
        buf_str(out, "\r\nX-Forwarded-Port: ") < 0 ||
        (last_xfport.p != NULL && last_xfport.n > 0
             ? hx_buf_add(out, last_xfport.p, last_xfport.n)
             : buf_str(out, cl->port)) < 0 ||
        buf_str(out, "\r\nForwarded: ") < 0)
        goto nomem;
    if (fwd.len > 0 &&
        (hx_buf_add(out, fwd.p, fwd.len) < 0 || buf_str(out, ", ") < 0))
        goto nomem;
    if (buf_str(out, "for=") < 0 || buf_str(out, cl->node) < 0 ||
        buf_str(out, ";proto=") < 0 || buf_str(out, cl->proto) < 0 ||
        buf_str(out, "\r\n\r\n") < 0)
        goto nomem;
    /* Connection options read here, not by the parser, which misreads
     * lists with tabs or empty elements (RFC 9110 5.6.1 allows both). */
    r->upgrade = has_upgrade && !drop_upgrade && conn_upgrade;
    r->keep_alive = !conn_close && (!http10 || conn_keep);
    r->chunked = nte > 0;
    r->left = cl_value;
    rc = 0;
    goto out;
nomem:
    rc = HX_NOMEM;
out:
    if (rc != 0)
        out->len = out_start;
    hx_buf_free(&xff);
    hx_buf_free(&fwd);
    (void)MAXL;
    return rc;
}

/* The rewritten head at out[start..] through http_parser: it must take it
 * whole. 0 or an event. */
static int parse_head(struct hx_req *r, struct hx_buf *out, size_t start)
{
    const char *h = out->p + start;
    size_t end = out->len - start, at, n;
    enum http_errno e;

    /* What the parser sees: the head without its Content-Length and
     * Transfer-Encoding lines. Those were checked above to RFC 9110 (which
     * allows tabs and empty list elements that http_parser refuses), and
     * the body is framed here, not by the parser. */
    r->pv.len = 0;
    for (at = 0; at < end;) {
        const char *lf = memchr(h + at, '\n', end - at);
        size_t next = (size_t)(lf - h) + 1;
        struct span line, name, value;
        enum field f = FD_OTHER;

        line.p = h + at;
        line.n = next - at - 2;
        if (at > 0 && line.n > 0 && split_field(line, &name, &value) == 0)
            f = field_of(name);
        if (f != FD_CL && f != FD_TE &&
            hx_buf_add(&r->pv, h + at, next - at) < 0)
            return HX_NOMEM;
        at = next;
    }
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    n = http_parser_execute(&r->parser, &req_settings, r->pv.p, r->pv.len);
    e = HTTP_PARSER_ERRNO(&r->parser);
    if ((e == HPE_OK || e == HPE_PAUSED) && n == r->pv.len &&
        (r->flags & PF_HEADERS)) {
        if (e == HPE_PAUSED)
            http_parser_pause(&r->parser, 0);
        return 0;
    }
    out->len = start;
    if (e == HPE_INVALID_METHOD)
        return reject(r, 501, "method");
    if (e == HPE_INVALID_VERSION)
        return reject(r, 505, "version");
    return reject(r, 400, http_errno_name(e));
}

/* Trailer section complete in r->hb: check, filter, write out. 0 or an
 * event. */
static int finish_trailer(struct hx_req *r, struct hx_buf *out)
{
    const char *h = r->hb.p;
    size_t end = r->hb.len, at;
    size_t out_start = out->len;

    for (at = 0; at + 2 < end;) {
        const char *lf = memchr(h + at, '\n', end - at);
        size_t start = at;
        struct span line, name, value;

        line.p = h + at;
        line.n = (size_t)(lf - line.p) - 1;
        at = (size_t)(lf - h) + 1;
        if (split_field(line, &name, &value) < 0) {
            r->reason = "bad_trailer";
            out->len = out_start;
            return HX_BODY_ERROR;
        }
        if (is_forwarding(field_of(name)))
            continue;
        if (hx_buf_add(out, h + start, at - start) < 0)
            return HX_NOMEM;
    }
    if (hx_buf_add(out, "\r\n", 2) < 0)
        return HX_NOMEM;
    return 0;
}

/* Chunked framing (RFC 9112 section 7.1), strictly: hex size, optional
 * extensions, CRLF, data, CRLF; size 0 starts the trailer section. */
enum chunk_state {
    CS_SIZE,
    CS_EXT,
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Body bytes of in[0..n): how many belong to the body (*used); 1 when the
 * body (or, chunked, its last-chunk line) ended there, 0 when more is
 * needed, -1 at a framing error (in[*used] is the bad byte). */
static int body_step(struct hx_req *r, const char *in, size_t n, size_t *used)
{
    size_t i = 0;

    if (!r->chunked) {
        size_t k = n < r->left ? n : (size_t)r->left;

        r->left -= k;
        r->body_bytes += k;
        *used = k;
        return r->left == 0;
    }
    while (i < n) {
        char c = in[i];
        int v;

        switch (r->cstate) {
        case CS_SIZE:
            v = hexval(c);
            if (v >= 0) {
                if (r->left >> 56)
                    goto bad; /* absurdly large */
                r->left = r->left * 16 + (unsigned)v;
                r->digits++;
            } else if (r->digits > 0 && (c == ';' || c == ' ' || c == '\t')) {
                r->cstate = CS_EXT;
            } else if (r->digits > 0 && c == '\r') {
                r->cstate = CS_SIZE_LF;
            } else {
                goto bad;
            }
            i++;
            break;
        case CS_EXT:
            if (c == '\r')
                r->cstate = CS_SIZE_LF;
            else if (c == '\n' || c == '\0')
                goto bad;
            i++;
            break;
        case CS_SIZE_LF:
            if (c != '\n')
                goto bad;
            i++;
            if (r->left == 0) {
                *used = i;
                return 1; /* the last chunk: trailers follow */
            }
            r->cstate = CS_DATA;
            break;
        case CS_DATA: {
            size_t k = n - i < r->left ? n - i : (size_t)r->left;

            r->left -= k;
            r->body_bytes += k;
            i += k;
            if (r->left == 0)
                r->cstate = CS_DATA_CR;
            break;
        }
        case CS_DATA_CR:
            if (c != '\r')
                goto bad;
            r->cstate = CS_DATA_LF;
            i++;
            break;
        case CS_DATA_LF:
            if (c != '\n')
                goto bad;
            r->cstate = CS_SIZE;
            r->digits = 0;
            i++;
            break;
        }
    }
    *used = n;
    return 0;
bad:
    *used = i;
    return -1;
}

int hx_req_feed(struct hx_req *r, const struct hx_client *cl, const char *in,
                size_t n, struct hx_buf *out, size_t *used)
{
    size_t took = 0, k;
    int rc;

    *used = 0;
    switch (r->state) {
    case RQ_HEAD: {
        size_t start = out->len;

        rc = collect(r, in, n, &took, 0);
        *used = took;
        if (rc != 1)
            return rc == 0 ? HX_MORE : rc;
        rc = rewrite_head(r, cl, out);
        if (rc == 0)
            rc = parse_head(r, out, start);
        if (rc != 0)
            return rc;
        r->state = (r->chunked || r->left > 0) ? RQ_BODY : RQ_DONE;
        return HX_HEAD;
    }
    case RQ_BODY:
        rc = body_step(r, in, n, &k);
        if (hx_buf_add(out, in, k) < 0)
            return HX_NOMEM;
        *used = k;
        if (rc == 0)
            return HX_MORE;
        if (rc < 0) {
            r->reason = "bad_chunk";
            return HX_BODY_ERROR;
        }
        if (!r->chunked) {
            r->state = RQ_DONE;
            return HX_DONE;
        }
        r->state = RQ_TRAILER; /* the last chunk: a trailer section next */
        r->hb.len = 0;
        r->line_start = 0;
        return HX_MORE;
    case RQ_TRAILER:
        rc = collect(r, in, n, &took, 1);
        *used = took;
        if (rc == HX_REJECT)
            return HX_BODY_ERROR;
        if (rc != 1)
            return rc == 0 ? HX_MORE : rc;
        rc = finish_trailer(r, out);
        if (rc != 0)
            return rc;
        r->state = RQ_DONE;
        return HX_DONE;
    default:
        return HX_DONE;
    }
}

/* ------------------------------------------------------------------------
 * Responses
 * ---------------------------------------------------------------------- */
static int resp_headers_complete(http_parser *p)
{
    struct hx_resp *s = p->data;
    int st = (int)p->status_code;
    int head = s->q_len > 0 && s->head_q[s->q_first];

    s->status = st;
    s->flags |= PF_HEADERS;
    http_parser_pause(p, 1);
    /* No body, whatever the head says: interim, 204, 304, HEAD's. */
    return (st >= 100 && st < 200) || st == 204 || st == 304 || head;
}

static int resp_body(http_parser *p, const char *at, size_t n)
{
    struct hx_resp *s = p->data;

    (void)at;
    s->body_bytes += n;
    return 0;
}

static int resp_message_complete(http_parser *p)
{
    struct hx_resp *s = p->data;

    s->flags |= PF_COMPLETE;
    s->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_headers_complete = resp_headers_complete,
    .on_body = resp_body,
    .on_message_complete = resp_message_complete,
};

void hx_resp_init(struct hx_resp *s)
{
    memset(s, 0, sizeof *s);
    s->fresh = 1;
}

int hx_resp_expect(struct hx_resp *s, int is_head)
{
    if (s->q_len == HX_PIPELINE)
        return -1;
    s->head_q[(s->q_first + s->q_len) % HX_PIPELINE] = is_head ? 1 : 0;
    s->q_len++;
    return 0;
}

/* A message completed: interim, upgrade or final. */
static int resp_complete(struct hx_resp *s)
{
    s->fresh = 1;
    if (s->status == 101)
        return HX_RUPGRADE;
    if (s->status >= 100 && s->status < 200)
        return HX_RINTERIM; /* the final response follows */
    s->q_first = (s->q_first + 1) % HX_PIPELINE;
    s->q_len--;
    return HX_RDONE;
}

/* Paused in on_headers_complete, the parser stopped before the head's
 * last LF and must see it again: fed from here (it keeps no pointer). */
static enum http_errno resume_lf(struct hx_resp *s)
{
    s->lf_due = 0;
    http_parser_execute(&s->parser, &resp_settings, "\n", 1);
    return HTTP_PARSER_ERRNO(&s->parser);
}

int hx_resp_feed(struct hx_resp *s, const char *in, size_t n, size_t *used)
{
    size_t at = 0;

    while (at < n || s->lf_due) {
        size_t k = 0;
        enum http_errno e;

        if (s->lf_due) {
            e = resume_lf(s);
        } else {
            if (s->fresh) {
                if (s->q_len == 0)
                    return *used = at, HX_RERROR; /* nothing was asked */
                http_parser_init(&s->parser, HTTP_RESPONSE);
                s->parser.data = s;
                s->fresh = 0;
                s->in_head = 1;
                s->flags = 0;
                s->status = 0;
                s->body_bytes = 0;
            }
            k = http_parser_execute(&s->parser, &resp_settings, in + at,
                                    n - at);
            e = HTTP_PARSER_ERRNO(&s->parser);
        }
        if (e == HPE_OK) {
            at += k;
            continue;
        }
        if (e != HPE_PAUSED) {
            *used = at + k;
            return HX_RERROR;
        }
        http_parser_pause(&s->parser, 0);
        if (s->in_head) {
            /* paused in on_headers_complete, before the head's last LF */
            at += k + 1;
            s->in_head = 0;
            s->lf_due = 1;
            *used = at;
            return HX_RHEAD;
        }
        at += k;
        if (s->flags & PF_COMPLETE) {
            int ev = resp_complete(s);

            if (ev != HX_MORE) {
                *used = at;
                return ev;
            }
        }
    }
    *used = at;
    return HX_MORE;
}

int hx_resp_eof(struct hx_resp *s)
{
    if (s->fresh)
        return HX_MORE;
    if (s->in_head)
        return HX_RERROR;
    if (s->lf_due) {
        enum http_errno e = resume_lf(s);

        if (e == HPE_PAUSED)
            http_parser_pause(&s->parser, 0);
        else if (e != HPE_OK)
            return HX_RERROR;
        if (s->flags & PF_COMPLETE)
            return resp_complete(s) == HX_RDONE ? HX_RDONE : HX_RERROR;
    }
    http_parser_execute(&s->parser, &resp_settings, NULL, 0);
    if (s->flags & PF_COMPLETE) {
        s->keep_alive = 0;
        return resp_complete(s) == HX_RDONE ? HX_RDONE : HX_RERROR;
    }
    return HX_RERROR;
}
