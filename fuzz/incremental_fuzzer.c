/*
 * incremental_fuzzer: pp_parse fed in pieces must give exactly what one
 * call over all the bytes gives.
 *
 * Input: byte 0: low 4 bits k = number of chunk-size bytes (0: feed byte
 * by byte), bits 4-5 = flags (PP_F_NO_V1, PP_F_NO_V2), bits 6-7 = max_len
 * choice; then k bytes (chunk size = byte + 1, used in a cycle); then the
 * stream.
 *
 * Each call gets all bytes so far in a fresh buffer of exactly that size
 * (so a sanitizer sees any read past them, or of an older buffer). Checks:
 * the final result and every field equal the one-shot parse (pointers
 * compared as offsets into the current buffer); every proper prefix of a
 * valid header gives PP_INCOMPLETE; a finished result stays the same on
 * later calls; an error on a prefix is the error of the whole input;
 * pp_expected_len is 16 + L as soon as a v2 header has 16 bytes.
 */
#include <string.h>

#include "fuzz_common.h"
#include "pphdr.h"

/* The comparable part of a result: pointers as offsets (SIZE_MAX: NULL). */
struct snapshot {
    int result;
    size_t length;
    uint8_t version, command, family, transport;
    uint8_t ip[2][16];
    uint16_t port[2];
    size_t path_off[2], path_len[2], raw_off[2];
    size_t tlvs_off, tlvs_len;
};

static size_t offset_of(const void *p, const uint8_t *buf)
{
    return p == NULL ? SIZE_MAX : (size_t)((const uint8_t *)p - buf);
}

static void take(struct snapshot *s, int r, const pp_header *h,
                 const uint8_t *buf)
{
    const pp_addr *a[2] = {&h->src, &h->dst};
    int i;

    memset(s, 0, sizeof *s);
    s->result = r;
    if (r <= 0)
        return;
    s->length = h->length;
    s->version = h->version;
    s->command = h->command;
    s->family = h->family;
    s->transport = h->transport;
    for (i = 0; i < 2; i++) {
        memcpy(s->ip[i], a[i]->ip, 16);
        s->port[i] = a[i]->port;
        s->path_off[i] = offset_of(a[i]->path, buf);
        s->path_len[i] = a[i]->path_len;
        s->raw_off[i] = offset_of(a[i]->unix_raw, buf);
    }
    s->tlvs_off = offset_of(h->tlvs, buf);
    s->tlvs_len = h->tlvs_len;
}

static void mismatch(const char *what, const uint8_t *data, size_t len,
                     size_t at, int got, int want)
{
    fprintf(stderr,
            "incremental_fuzzer: %s after %zu of %zu bytes: got %d "
            "(%s), one-shot %d (%s)\n",
            what, at, len, got, got > 0 ? "length" : pp_status_name(got), want,
            want > 0 ? "length" : pp_status_name(want));
    fuzz_hex("stream", data, len);
    abort();
}

static int parse_copy(pp_header *h, const uint8_t *data, size_t n,
                      struct snapshot *snap)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    int r;

    FUZZ_CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, data, n);
    r = pp_parse(h, n > 0 ? copy : NULL, n);
    take(snap, r, h, copy);
    free(copy);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static const size_t max_lens[4] = {0, 107, 60, 232};
    const uint8_t *sizes, *data;
    fuzz_chunks chunks;
    size_t n_sizes, len, pos = 0, step = 0, after_done = 0;
    pp_header one, inc;
    struct snapshot whole, part;
    int r;

    if (size == 0)
        return 0;
    fuzz_split_chunks(in, size, &chunks);
    sizes = chunks.sizes;
    n_sizes = chunks.n_sizes;
    data = chunks.data;
    len = chunks.len;

    pp_header_init(&one);
    one.flags = (in[0] >> 4) & 3u;
    one.max_len = max_lens[in[0] >> 6];
    inc = one;
    parse_copy(&one, data, len, &whole);

    r = parse_copy(&inc, data, 0, &part);
    if (r != PP_INCOMPLETE)
        mismatch("empty input", data, len, 0, r, PP_INCOMPLETE);
    while (pos < len) {
        size_t chunk = n_sizes > 0 ? (size_t)sizes[step % n_sizes] + 1 : 1;

        step++;
        pos = chunk < len - pos ? pos + chunk : len;
        r = parse_copy(&inc, data, pos, &part);
        if (r == PP_INCOMPLETE) {
            /* A finished result never goes back to incomplete. */
            if (after_done > 0)
                mismatch("result not sticky", data, len, pos, r, whole.result);
            if (whole.result > 0 && pos >= (size_t)whole.result)
                mismatch("complete header still incomplete", data, len, pos, r,
                         whole.result);
            if (pos == len && whole.result != PP_INCOMPLETE)
                mismatch("final result", data, len, pos, r, whole.result);
        } else {
            if (r != whole.result)
                mismatch(r > 0 ? "length" : "error", data, len, pos, r,
                         whole.result);
            if (r > 0 && memcmp(&part, &whole, sizeof part) != 0)
                mismatch("fields differ", data, len, pos, r, whole.result);
            if (r > 0 && pos < (size_t)r)
                mismatch("header before its end", data, len, pos, r,
                         whole.result);
            /* Sticky: a few more calls are enough. */
            if (++after_done > 3)
                break;
        }
        /* v2 tells its length after 16 bytes. */
        if (whole.result > 0 && whole.version == 2) {
            size_t want = pos >= 16 ? (size_t)whole.result : 0;

            if (pp_expected_len(&inc) != want)
                mismatch("pp_expected_len", data, len, pos,
                         (int)pp_expected_len(&inc), (int)want);
        }
    }
    return 0;
}
