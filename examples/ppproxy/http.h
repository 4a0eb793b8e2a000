/*
 * http.h - ppproxy's HTTP/1.x module: request heads checked and rewritten,
 * request bodies and responses framed. This module is the only code that
 * knows the HTTP parser (Debian's http_parser 2.9.4); swapping it for
 * llhttp means rewriting http.c alone. No sockets here: bytes in, bytes
 * out, events, so the module is tested on its own (tests/test_http.c).
 *
 * Requests (client to upstream): hx_req_feed() takes the client's bytes
 * and appends to an output buffer what the upstream must receive: each
 * head collected whole, checked (the rejections of issue 12), rewritten
 * (forwarding fields removed, five added); bodies passed on as they come,
 * chunked trailers filtered; it stops exactly where a request ends.
 *
 * Responses (upstream to client): hx_resp_feed() only frames them (they
 * are passed on unchanged): where a head ends, where a response ends,
 * interim 1xx, 101, and bodies that are absent whatever the head says.
 */
#ifndef PPPROXY_HTTP_H
#define PPPROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <http_parser.h>

#include "pphdr.h"

#define HX_MAX_HEAD_LIMIT 1048576 /* --max-request-head at most */
#define HX_DEFAULT_MAX_HEAD 65536
#define HX_TARGET_MAX 256 /* logged target, longer is cut */
#define HX_PIPELINE 16    /* requests awaiting their responses, at most */

/* A growable byte buffer. */
struct hx_buf {
    char *p;
    size_t len, cap;
};

int hx_buf_add(struct hx_buf *b, const void *p, size_t n); /* 0 or -1 */
void hx_buf_free(struct hx_buf *b);

/* Who the client is, as the added lines say it (issue 12, "The client"). */
struct hx_client {
    char addr[48];             /* <client>: dotted IPv4 or RFC 5952 IPv6 */
    char node[56];             /* <node>: 192.0.2.1 or "[2001:db8::1]" */
    char port[8];              /* <port> */
    const char *proto;         /* <proto>: "http" or "https" */
    int hop_trusted;           /* <client> is in --forwarded-from */
    const pp_trust *forwarded; /* --forwarded-from, NULL for none */
};

/* Fill c for the client address sa (AF_INET or AF_INET6; a mapped IPv6
 * address is taken as IPv4), port, https flag. 0, or -1 for another
 * family. */
int hx_client_set(struct hx_client *c, const struct sockaddr *sa, unsigned port,
                  int https, const pp_trust *forwarded);

/* Events, returned by the feed functions. */
enum hx_event {
    HX_MORE = 0,   /* all input taken; more is needed */
    HX_HEAD,       /* a request head was accepted (and written out) */
    HX_DONE,       /* the request is complete (body and trailers too) */
    HX_REJECT,     /* head refused: answer status / reason, close */
    HX_BODY_ERROR, /* bad body: close both sides, no response */
    HX_RHEAD,      /* a response head is complete (status known) */
    HX_RDONE,      /* a final response is complete */
    HX_RINTERIM,   /* an interim (1xx but 101) response is complete */
    HX_RUPGRADE,   /* a 101 response is complete: tunnel from here */
    HX_RERROR,     /* malformed response */
    HX_NOMEM
};

/* The client-to-upstream direction of one connection. Zeroed then
 * hx_req_init; hx_req_free releases it. */
struct hx_req {
    http_parser parser;
    int state;
    size_t max_head;
    struct hx_buf hb; /* head or trailer section being collected */
    struct hx_buf pv; /* the head as the parser sees it */
    size_t line_start, reqline_len;
    int pending_cr;     /* a leading CR was dropped; LF must follow */
    int flags;          /* parser callbacks' findings */
    int chunked;        /* body framing: chunked, else `left` bytes */
    uint64_t left;      /* Content-Length left, or of the current chunk */
    int cstate, digits; /* where in the chunked framing */
    /* The current request: valid from HX_HEAD (method, target, version
     * from the first byte of the head for a rejection) to the next one. */
    int status;         /* HX_REJECT: 400, 501, ... */
    const char *reason; /* HX_REJECT / HX_BODY_ERROR: a short word */
    char method[24];
    char target[HX_TARGET_MAX];
    size_t target_len;
    char version[16];
    char real[64];  /* <real> of this request, for the log */
    int is_head;    /* HEAD: its response has no body */
    int keep_alive; /* the client wants more after this one */
    int upgrade;    /* Upgrade: websocket with Connection: upgrade */
    uint64_t body_bytes;
};

void hx_req_init(struct hx_req *r, size_t max_head);
void hx_req_free(struct hx_req *r);

/* Take up to n bytes of the client's stream. *used says how many were
 * taken; what the upstream must get is appended to out. Returns an event:
 * HX_MORE (all taken), HX_HEAD (stop to dial the upstream if needed, then
 * call again with the rest), HX_DONE (the request ended exactly at *used;
 * call hx_req_next before feeding the next one), HX_REJECT (nothing of
 * this request was written out), HX_BODY_ERROR, HX_NOMEM. */
int hx_req_feed(struct hx_req *r, const struct hx_client *cl, const char *in,
                size_t n, struct hx_buf *out, size_t *used);

/* Ready for the next request on the connection. */
void hx_req_next(struct hx_req *r);

/* 1 when a request has begun (head, body or trailers in progress). */
int hx_req_started(const struct hx_req *r);

/* 1 when a head is being received (at least one byte of it is in). */
int hx_req_in_head(const struct hx_req *r);

/* The complete error response for status (400, 408, ...), its length in
 * *len. */
const char *hx_error_response(int status, size_t *len);

/* The upstream-to-client direction. */
struct hx_resp {
    http_parser parser;
    int fresh;   /* between responses: the next byte starts one */
    int in_head; /* a head has begun and is not complete */
    int lf_due;  /* the head's last LF is still to be parsed */
    int flags;
    int status;
    int keep_alive; /* HX_RDONE: the upstream keeps the connection */
    uint64_t body_bytes;
    unsigned char head_q[HX_PIPELINE]; /* per pending request: HEAD? */
    size_t q_first, q_len;
};

void hx_resp_init(struct hx_resp *s);

/* A request was forwarded: its response is awaited. -1 when HX_PIPELINE
 * requests are already waiting. */
int hx_resp_expect(struct hx_resp *s, int is_head);

/* Take up to n bytes from the upstream; *used how many. Returns HX_MORE,
 * HX_RHEAD (s->status), HX_RINTERIM (a 1xx but 101 ended: more to come),
 * HX_RDONE (the oldest request is answered),
 * HX_RUPGRADE, HX_RERROR. */
int hx_resp_feed(struct hx_resp *s, const char *in, size_t n, size_t *used);

/* The upstream closed: HX_RDONE when that ended a close-delimited
 * response, HX_MORE when no response was in progress, else HX_RERROR. */
int hx_resp_eof(struct hx_resp *s);

/* Call once before any parsing: heads up to HX_MAX_HEAD_LIMIT plus the
 * added lines are allowed through the parser's own limit. */
void hx_global_init(void);

#endif
