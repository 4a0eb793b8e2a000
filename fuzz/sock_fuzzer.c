/*
 * sock_fuzzer: pp_recv_step over a socketpair, the stream arriving in
 * pieces, against one pp_parse over all of it.
 *
 * Input: as incremental_fuzzer (byte 0: low 4 bits k = number of
 * chunk-size bytes, 0 for byte by byte; bits 4-5 flags; bits 6-7 max_len
 * choice; then k bytes, chunk size = byte + 1, in a cycle; then the
 * stream, at most 32 KiB of it).
 *
 * The harness writes one chunk into the (non-blocking) sending end each
 * time pp_recv_step says PP_AGAIN, and shuts the sending end when the
 * stream is all written. The receiving end is left blocking: the step must
 * never block. Expected: the one-shot result (a length, or the same
 * error; PP_ERR_CLOSED for a valid prefix), the header bytes in the buffer
 * and the same fields; and every byte after the header still in the
 * socket. pp_recv_header over the whole stream at once must agree too.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "pphdr.h"

#define STREAM_MAX 32768u

static void fail(const char *what, const uint8_t *data, size_t len, int got,
                 int want)
{
    fprintf(stderr, "sock_fuzzer: %s: got %d (%s), pp_parse %d (%s)\n", what,
            got, got > 0 ? "length" : pp_status_name(got), want,
            want > 0 ? "length" : pp_status_name(want));
    fuzz_hex("stream", data, len);
    abort();
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        FUZZ_CHECK(w > 0 || (w < 0 && errno == EINTR));
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
    }
}

/* Everything left in the socket until end of stream. */
static void expect_rest(int fd, const uint8_t *rest, size_t n)
{
    uint8_t tmp[4096];
    size_t seen = 0;

    for (;;) {
        ssize_t got = read(fd, tmp, sizeof tmp);

        if (got < 0 && errno == EINTR)
            continue;
        FUZZ_CHECK(got >= 0);
        if (got == 0)
            break;
        FUZZ_CHECK(seen + (size_t)got <= n);
        FUZZ_CHECK(memcmp(tmp, rest + seen, (size_t)got) == 0);
        seen += (size_t)got;
    }
    FUZZ_CHECK(seen == n);
}

static void same_fields(const pp_header *a, const uint8_t *abuf,
                        const pp_header *b, const uint8_t *bbuf)
{
    FUZZ_CHECK(a->length == b->length && a->version == b->version);
    FUZZ_CHECK(a->command == b->command && a->family == b->family);
    FUZZ_CHECK(a->transport == b->transport);
    FUZZ_CHECK(memcmp(a->src.ip, b->src.ip, 16) == 0);
    FUZZ_CHECK(memcmp(a->dst.ip, b->dst.ip, 16) == 0);
    FUZZ_CHECK(a->src.port == b->src.port && a->dst.port == b->dst.port);
    FUZZ_CHECK(a->tlvs_len == b->tlvs_len);
    FUZZ_CHECK((a->tlvs == NULL) == (b->tlvs == NULL));
    if (a->tlvs != NULL)
        FUZZ_CHECK(a->tlvs - abuf == b->tlvs - bbuf);
    FUZZ_CHECK(a->src.path_len == b->src.path_len);
    FUZZ_CHECK(a->dst.path_len == b->dst.path_len);
}

static void socket_pair(int fds[2])
{
    int fl;

    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    fl = fcntl(fds[1], F_GETFL);
    FUZZ_CHECK(fl >= 0 && fcntl(fds[1], F_SETFL, fl | O_NONBLOCK) == 0);
}

/* The step-wise read with the stream written in chunks. */
static void by_steps(const uint8_t *sizes, size_t n_sizes, const uint8_t *data,
                     size_t len, const pp_header *init, int want,
                     const pp_header *one, const uint8_t *one_buf)
{
    pp_header h = *init;
    size_t cap = h.max_len != 0 ? h.max_len : PP_V2_MAX_LEN;
    uint8_t *buf = malloc(cap);
    size_t have = 0, written = 0, step = 0, rounds = 0;
    int fds[2], shut = 0, rc;

    FUZZ_CHECK(buf != NULL);
    socket_pair(fds);
    for (;;) {
        FUZZ_CHECK(++rounds <= 2 * len + 8);
        rc = pp_recv_step(fds[0], &h, buf, cap, &have);
        if (rc != PP_AGAIN)
            break;
        if (written < len) {
            size_t chunk = n_sizes > 0 ? (size_t)sizes[step % n_sizes] + 1 : 1;

            step++;
            if (chunk > len - written)
                chunk = len - written;
            write_all(fds[1], data + written, chunk);
            written += chunk;
        } else if (!shut) {
            FUZZ_CHECK(shutdown(fds[1], SHUT_WR) == 0);
            shut = 1;
        } else {
            fail("PP_AGAIN after the peer closed", data, len, rc, want);
        }
    }
    if (want == PP_INCOMPLETE) {
        if (rc != PP_ERR_CLOSED)
            fail("valid prefix, then close", data, len, rc, want);
    } else if (rc != want) {
        fail("result", data, len, rc, want);
    }
    if (rc > 0) {
        FUZZ_CHECK(have == (size_t)rc);
        FUZZ_CHECK(memcmp(buf, data, (size_t)rc) == 0);
        same_fields(&h, buf, one, one_buf);
        /* The application bytes: not one taken. */
        if (written < len)
            write_all(fds[1], data + written, len - written);
        if (!shut)
            FUZZ_CHECK(shutdown(fds[1], SHUT_WR) == 0);
        expect_rest(fds[0], data + rc, len - (size_t)rc);
        /* Sticky: another step gives the same length, reads nothing. */
        FUZZ_CHECK(pp_recv_step(fds[0], &h, buf, cap, &have) == rc);
        FUZZ_CHECK(have == (size_t)rc);
    }
    close(fds[0]);
    close(fds[1]);
    free(buf);
}

/* The blocking form, with the whole stream already there. */
static void blocking(const uint8_t *data, size_t len, const pp_header *init,
                     int want)
{
    pp_header h = *init;
    size_t cap = h.max_len != 0 ? h.max_len : PP_V2_MAX_LEN;
    uint8_t *buf = malloc(cap);
    int fds[2], rc;

    FUZZ_CHECK(buf != NULL);
    socket_pair(fds);
    write_all(fds[1], data, len);
    FUZZ_CHECK(shutdown(fds[1], SHUT_WR) == 0);
    rc = pp_recv_header(fds[0], &h, buf, cap, 5000);
    if (rc != (want == PP_INCOMPLETE ? PP_ERR_CLOSED : want))
        fail("pp_recv_header", data, len, rc, want);
    if (rc > 0)
        expect_rest(fds[0], data + rc, len - (size_t)rc);
    close(fds[0]);
    close(fds[1]);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static const size_t max_lens[4] = {0, 107, 60, 232};
    const uint8_t *sizes, *data;
    fuzz_chunks chunks;
    size_t n_sizes, len;
    pp_header init, one;
    uint8_t *copy;
    int want;

    if (size == 0)
        return 0;
    fuzz_split_chunks(in, size, &chunks);
    sizes = chunks.sizes;
    n_sizes = chunks.n_sizes;
    data = chunks.data;
    len = chunks.len;
    if (len > STREAM_MAX)
        len = STREAM_MAX;

    pp_header_init(&init);
    init.flags = (in[0] >> 4) & 3u;
    init.max_len = max_lens[in[0] >> 6];
    one = init;
    copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, data, len);
    want = pp_parse(&one, len > 0 ? copy : NULL, len);

    by_steps(sizes, n_sizes, data, len, &init, want, &one, copy);
    blocking(data, len, &init, want);
    free(copy);
    return 0;
}
