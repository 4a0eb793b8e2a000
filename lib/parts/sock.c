/* Socket helpers (read a header off a stream socket without taking any
 * application byte) and datagram helpers (PROXY v2 at the start of each
 * datagram). Fragment of lib/pphdr.c. */

/* POSIX 2008 for poll(), clock_gettime(CLOCK_MONOTONIC) and nanosecond
 * time; the platform defaults for MSG_DONTWAIT, which POSIX leaves out
 * (glibc and musl show it anyway, BSD and macOS hide it under POSIX). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif

#include "../pp_internal.h"

#include <limits.h>
#include <string.h>

#ifndef PP_NO_SOCKETS
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#ifndef MSG_DONTWAIT
#error "pphdr: the socket helpers need MSG_DONTWAIT; define PP_NO_SOCKETS"
#endif

/* ------------------------------------------------------------------------
 * Stream sockets
 * ---------------------------------------------------------------------- */

/* The buffer size pp_recv_step requires: room for the longest header the
 * settings in hdr can accept. */
static size_t sk_room_needed(const pp_header *hdr)
{
    size_t need = (hdr->flags & PP_F_NO_V2) ? PP_V1_MAX_LEN : PP_V2_MAX_LEN;

    if (hdr->max_len != 0 && hdr->max_len < need)
        need = hdr->max_len;
    return need;
}

/* How many bytes after the first `have` may still belong to the header,
 * within the buffer. Once v2 told its length that is exact; before, any of
 * the first 107 bytes may (a v1 line is at most 107 bytes, and a v2 header
 * tells its length after 16). Peeking past the header is harmless: only
 * bytes proven to be header are ever consumed. */
static size_t sk_window(const pp_header *hdr, size_t have, size_t cap)
{
    size_t want = cap - have;
    size_t limit = pp_expected_len(hdr);

    if (limit == 0)
        limit = PP_V1_MAX_LEN;
    if (limit > have && limit - have < want)
        want = limit - have;
    return want;
}

static int sk_would_block(int err)
{
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    if (err == EWOULDBLOCK)
        return 1;
#endif
    return err == EAGAIN;
}

/* One recv with MSG_DONTWAIT (and MSG_PEEK when asked), retried on EINTR.
 * Returns the bytes received (> 0), PP_AGAIN, PP_ERR_CLOSED at end of
 * stream, or PP_ERR_IO with errno from recv. */
static long sk_recv(int fd, uint8_t *dst, size_t len, int peek)
{
    int flags = MSG_DONTWAIT | (peek ? MSG_PEEK : 0);

    for (;;) {
        ssize_t got = recv(fd, dst, len, flags);

        if (got > 0)
            return (long)got;
        if (got == 0)
            return PP_ERR_CLOSED;
        if (errno == EINTR)
            continue;
        return sk_would_block(errno) ? PP_AGAIN : PP_ERR_IO;
    }
}

/* Take n bytes that an earlier peek saw off the socket, into buf + *have
 * (where the peek put the very same bytes), advancing *have as they come.
 * Peeked bytes are queued, so this does not wait; should another reader
 * have taken them, the error is reported and *have stays exact. */
static int sk_consume(int fd, uint8_t *buf, size_t *have, size_t n)
{
    while (n > 0) {
        long got = sk_recv(fd, buf + *have, n, 0);

        if (got < 0)
            return (int)got;
        *have += (size_t)got;
        n -= (size_t)got;
    }
    return PP_OK;
}

/* The header is complete with length len (> *have - it was only peeked
 * past *have): consume the rest of it and report len. */
static int sk_finish(int fd, uint8_t *buf, size_t *have, int len)
{
    int rc = PP_OK;

    if ((size_t)len > *have)
        rc = sk_consume(fd, buf, have, (size_t)len - *have);
    return rc < 0 ? rc : len;
}

int pp_recv_step(int fd, pp_header *hdr, void *buf, size_t cap,
                 size_t *have)
{
    uint8_t *b = (uint8_t *)buf;

    if (fd < 0 || hdr == NULL || b == NULL || have == NULL || *have > cap ||
        cap < sk_room_needed(hdr))
        return PP_ERR_ARG;

    for (;;) {
        size_t want;
        long got;
        int rc = pp_parse(hdr, b, *have);

        /* A finished header (also one whose consumption an error cut
         * short) or a sticky parser error: nothing more to read. */
        if (rc > 0)
            return sk_finish(fd, b, have, rc);
        if (rc != PP_INCOMPLETE)
            return rc;
        /* Only reachable when max_len is below 16: a v2 header can never
         * fit, and the parser learns the length too late to say so. */
        if (*have >= cap)
            return PP_ERR_TOO_LONG;

        want = sk_window(hdr, *have, cap);
        got = sk_recv(fd, b + *have, want, 1);
        if (got < 0)
            return (int)got;

        rc = pp_parse(hdr, b, *have + (size_t)got);
        if (rc > 0)
            return sk_finish(fd, b, have, rc);
        if (rc != PP_INCOMPLETE)
            return rc;

        /* Still a valid prefix: every peeked byte is header. Take them so
         * that poll() will not report them again. */
        rc = sk_consume(fd, b, have, (size_t)got);
        if (rc < 0)
            return rc;
        /* A short peek emptied the queue; a full one may have left more. */
        if ((size_t)got < want)
            return PP_AGAIN;
    }
}

/* Milliseconds from now until *deadline, rounded up so that poll() does
 * not wake a fraction of a millisecond early and spin; 0 once passed. */
static int sk_ms_left(const struct timespec *deadline)
{
    struct timespec now;
    long long left_ns;

    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    left_ns = ((long long)deadline->tv_sec - (long long)now.tv_sec) *
                  1000000000LL +
              ((long long)deadline->tv_nsec - (long long)now.tv_nsec);
    if (left_ns <= 0)
        return 0;
    if (left_ns / 1000000LL >= (long long)INT_MAX)
        return INT_MAX;
    return (int)((left_ns + 999999LL) / 1000000LL);
}

int pp_recv_header(int fd, pp_header *hdr, void *buf, size_t cap,
                   int timeout_ms)
{
    struct timespec deadline;
    size_t have = 0;

    if (timeout_ms >= 0) {
        if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0)
            return PP_ERR_IO;
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1000000000L;
        }
    }

    for (;;) {
        struct pollfd pfd;
        int wait_ms = -1;
        int rc = pp_recv_step(fd, hdr, buf, cap, &have);

        if (rc != PP_AGAIN)
            return rc;
        if (timeout_ms >= 0) {
            wait_ms = sk_ms_left(&deadline);
            if (wait_ms == 0)
                return PP_ERR_TIMEOUT;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* Readable, hung up or in error: the next step tells which. */
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            return PP_ERR_IO;
    }
}
#endif /* PP_NO_SOCKETS */

/* ------------------------------------------------------------------------
 * Datagrams
 * ---------------------------------------------------------------------- */

int pp_dgram_parse(pp_header *hdr, const void *dgram, size_t len,
                   const uint8_t **payload, size_t *payload_len)
{
    size_t max_len;
    int rc;

    if (payload != NULL)
        *payload = NULL;
    if (payload_len != NULL)
        *payload_len = 0;
    if (hdr == NULL || (dgram == NULL && len > 0) || payload == NULL ||
        payload_len == NULL)
        return PP_ERR_ARG;

    max_len = hdr->max_len;
    memset(hdr, 0, sizeof *hdr);
    hdr->max_len = max_len;
    hdr->flags = PP_F_NO_V1;

    rc = pp_parse(hdr, dgram, len);
    /* A datagram is all there will ever be: a valid prefix is cut off. */
    if (rc == PP_INCOMPLETE)
        return PP_ERR_TRUNCATED;
    if (rc < 0)
        return rc;
    *payload = (const uint8_t *)dgram + rc;
    *payload_len = len - (size_t)rc;
    return rc;
}

int pp_dgram_write(void *out, size_t cap, const pp_header *hdr,
                   const pp_v2_opts *opts, const void *payload,
                   size_t payload_len)
{
    uint8_t *o = (uint8_t *)out;
    size_t total;
    int hlen;

    if ((o == NULL && cap > 0) || (payload == NULL && payload_len > 0))
        return PP_ERR_ARG;

    /* Measure first: nothing may be written unless all of it fits. */
    hlen = pp_write_v2(o, 0, hdr, opts);
    if (hlen < 0)
        return hlen;
    if (payload_len > (size_t)INT_MAX - (size_t)hlen)
        return PP_ERR_ARG;
    total = (size_t)hlen + payload_len;
    if (total > cap)
        return (int)total;

    /* Payload first, with memmove: a caller may have received it at the
     * start of out and be prepending the header in place. */
    if (payload_len > 0)
        memmove(o + hlen, payload, payload_len);
    if (pp_write_v2(o, (size_t)hlen, hdr, opts) != hlen)
        return PP_ERR_ARG; /* cannot happen: same input, same length */
    return (int)total;
}
