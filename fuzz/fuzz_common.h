/*
 * Shared by the fuzz targets: the libFuzzer entry point's prototype, a
 * check macro that reports and aborts (libFuzzer then saves the input), and
 * small helpers to take bytes from the input.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed check is a finding: say where and stop hard, so that libFuzzer
 * keeps the input and the replay test fails. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A cursor over the fuzz input; reads past the end give zeros. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t left;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    uint8_t v = 0;

    if (in->left > 0) {
        v = in->p[0];
        in->p++;
        in->left--;
    }
    return v;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);

    return (uint16_t)((hi << 8) | fuzz_u8(in));
}

/* Up to n bytes of the input (fewer at its end); *got says how many. */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;

    if (n > in->left)
        n = in->left;
    in->p += n;
    in->left -= n;
    *got = n;
    return p;
}

/* Print bytes as hex on stderr, to report a finding. */
static inline void fuzz_hex(const char *what, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t i;

    fprintf(stderr, "%s (%zu bytes): ", what, len);
    for (i = 0; i < len; i++)
        fprintf(stderr, "%02x", p[i]);
    fputc('\n', stderr);
}

/* Leading bytes that choose chunk sizes: the low 4 bits of in[0] say how
 * many (at most what is there) follow it; the rest is the stream. */
typedef struct fuzz_chunks {
    const uint8_t *sizes;
    size_t n_sizes;
    const uint8_t *data;
    size_t len;
} fuzz_chunks;

static inline void fuzz_split_chunks(const uint8_t *in, size_t size,
                                     fuzz_chunks *c)
{
    c->n_sizes = in[0] & 15u;
    if (c->n_sizes > size - 1)
        c->n_sizes = size - 1;
    c->sizes = in + 1;
    c->data = in + 1 + c->n_sizes;
    c->len = size - 1 - c->n_sizes;
}

#endif
