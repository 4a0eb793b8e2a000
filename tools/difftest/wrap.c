/*
 * One version's side of the differential test: compiled against that
 * version's pphdr.h with DT_RUN naming the entry point (dt_run_old or
 * dt_run_new). Only functions that every compared version has are used.
 */
#include <stdlib.h>
#include <string.h>

#include "difftest.h"
#include "pphdr.h"

static long view_offset(const void *view, const uint8_t *base)
{
    return view == NULL ? DT_NO_VIEW : (long)((const uint8_t *)view - base);
}

static void copy_addr(dt_addr *d, const pp_addr *a, const uint8_t *base)
{
    memcpy(d->ip, a->ip, 16);
    d->port = a->port;
    d->path = view_offset(a->path, base);
    d->path_len = a->path_len;
    d->unix_raw = view_offset(a->unix_raw, base);
}

void DT_RUN(const uint8_t *buf, size_t len, const size_t *cuts, size_t ncuts,
            size_t max_len, unsigned flags, dt_result *out)
{
    pp_header hdr;
    size_t i;
    int r = PP_INCOMPLETE;

    memset(out, 0, sizeof *out);
    memset(&hdr, 0, sizeof hdr);
    hdr.max_len = max_len;
    hdr.flags = flags;
    out->calls = 1469598103934665603ull;
    for (i = 0; i < ncuts; i++) {
        r = pp_parse(&hdr, buf, cuts[i]);
        out->calls = (out->calls ^ (uint64_t)(uint32_t)r) * 1099511628211ull;
        out->calls = (out->calls ^ pp_expected_len(&hdr)) * 1099511628211ull;
        out->calls =
            (out->calls ^ (uint64_t)pp_has_addresses(&hdr)) * 1099511628211ull;
    }
    out->last = r;
    out->expected_len = pp_expected_len(&hdr);
    out->has_addresses = pp_has_addresses(&hdr);
    out->tlvs = DT_NO_VIEW;
    out->src.path = out->src.unix_raw = DT_NO_VIEW;
    out->dst.path = out->dst.unix_raw = DT_NO_VIEW;
    out->again_tlvs = out->again_path = DT_NO_VIEW;
    if (r <= 0)
        return; /* fields after an error or a prefix are not a result */
    out->length = hdr.length;
    out->version = hdr.version;
    out->command = hdr.command;
    out->family = hdr.family;
    out->transport = hdr.transport;
    copy_addr(&out->src, &hdr.src, buf);
    copy_addr(&out->dst, &hdr.dst, buf);
    out->tlvs = view_offset(hdr.tlvs, buf);
    out->tlvs_len = hdr.tlvs_len;
    /* One more call with the same bytes elsewhere: the views move there. */
    {
        uint8_t *copy = (uint8_t *)malloc(len + 1);
        if (copy == NULL)
            abort();
        memcpy(copy, buf, len);
        out->again = pp_parse(&hdr, copy, len);
        out->again_tlvs = view_offset(hdr.tlvs, copy);
        out->again_path = view_offset(hdr.src.path, copy);
        free(copy);
    }
}
