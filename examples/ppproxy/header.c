/*
 * header.c - the PROXY header phase, the part every server author copies.
 *
 *   1. header_admit: only peers in --trusted may send a header; anybody
 *      else is closed before one byte is read (pp_trust_match_sockaddr).
 *   2. header_step: on each readable event, pp_recv_step reads exactly the
 *      header off the non-blocking socket, never a byte past it, so the
 *      application bytes stay in the kernel for the relay. PP_AGAIN means
 *      "wait for more", not "invalid": a header split across TCP segments
 *      is normal. Any error closes the connection, logged with
 *      pp_status_name(). The deadline (--timeout) is worker.c's timer.
 *   3. describe_header: what the header says, copied out for the log: the
 *      client and destination (pp_has_addresses, pp_get_src/dst; LOCAL
 *      and UNKNOWN fall back to the socket's own addresses), and the
 *      authority / ALPN / unique-id TLVs.
 *   4. header_for_upstream: the header ppproxy sends on (--send-proxy),
 *      with pp_write_v1 or pp_write_v2 (received TLVs relayed, CRC32C
 *      recomputed when the received header had one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppproxy.h"

/* 1 when the peer may send a PROXY header at all. */
int header_admit(const struct sockaddr *peer)
{
    return pp_trust_match_sockaddr(&cfg.trust, peer);
}

/* A zeroed header and a buffer for it, before the first header_step. */
int header_init(struct conn *c)
{
    memset(&c->hdr, 0, sizeof c->hdr);
    c->have = 0;
    c->hbuf = malloc(HBUF_CAP);
    return c->hbuf != NULL ? 0 : -1;
}

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
            format_sockaddr(li->dst, sizeof li->dst, (struct sockaddr *)&local);
    }
    text_set(&li->authority, pp_authority(&c->hdr, &b), &b);
    text_set(&li->alpn, pp_alpn(&c->hdr, &b), &b);
    text_set(&li->unique_id, pp_unique_id(&c->hdr, &b), &b);
}

/* One step of the header phase. 1: the whole header is in (c->hdr and
 * c->info describe it); 0: wait for the next readable event; -1: the
 * connection was closed (bad, incomplete or failed read). */
int header_step(struct conn *c)
{
    int rc = pp_recv_step(c->client.fd, &c->hdr, c->hbuf, HBUF_CAP, &c->have);

    if (rc == PP_AGAIN)
        return 0;
    if (rc < 0) {
        conn_close(c, pp_status_name(rc),
                   rc == PP_ERR_IO ? strerror(errno) : NULL);
        return -1;
    }
    describe_header(c);
    return 1;
}

/* The header for the upstream, into out: the received addresses, or the
 * connection's own for LOCAL / UNKNOWN, with the received TLVs. */
int header_for_upstream(struct conn *c, uint8_t *out, size_t cap)
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
