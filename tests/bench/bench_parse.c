/*
 * bench_parse: cost of pp_parse per header, for the inputs of issue 6.
 *
 *   bench_parse            median ns per header over repeated rounds
 *   valgrind --tool=callgrind --collect-atstart=no --dump-instr=no \
 *       bench_parse --count  instructions per header (tests/bench/run.sh)
 *
 * With --count each input's loop runs once between CALLGRIND_ZERO_STATS
 * and CALLGRIND_DUMP_STATS_AT(name), so each dump holds the instructions of
 * exactly that loop; run.sh subtracts the "empty" loop (zeroing the header)
 * and divides by the iteration count. Floor loops show what the minimum
 * work costs: v1 finding the CRLF, v2 checking the signature, reading the
 * length and copying the header.
 */
#define _POSIX_C_SOURCE 200809L
#include "pphdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#define COUNT_ITERS 1000

struct input {
    const char *name;
    uint8_t bytes[70000];
    size_t len;
    int bytewise; /* fed one byte at a time */
};

static struct input inputs[16];
static size_t n_inputs;
static volatile size_t sink;

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static struct input *add_input(const char *name)
{
    struct input *in = &inputs[n_inputs++];
    in->name = name;
    in->len = 0;
    in->bytewise = 0;
    return in;
}

static void put(struct input *in, const void *p, size_t n)
{
    memcpy(in->bytes + in->len, p, n);
    in->len += n;
}

static void put_tlv(struct input *in, uint8_t type, const void *v, size_t n)
{
    uint8_t h[3] = {type, (uint8_t)(n >> 8), (uint8_t)n};
    put(in, h, 3);
    put(in, v, n);
}

static void add_text(const char *name, const char *text, int bytewise)
{
    struct input *in = add_input(name);
    put(in, text, strlen(text));
    in->bytewise = bytewise;
}

/* v2 fixed part and address block; the length is fixed up by v2_finish. */
static struct input *v2_start(const char *name, uint8_t cmd, uint8_t fam)
{
    struct input *in = add_input(name);
    uint8_t fixed[4] = {(uint8_t)(0x20 | cmd), fam, 0, 0};
    put(in, sig, 12);
    put(in, fixed, 4);
    if (cmd == PP_CMD_PROXY && fam == 0x11) {
        uint8_t a[12] = {192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 1, 0xBB};
        put(in, a, 12);
    } else if (cmd == PP_CMD_PROXY && fam == 0x21) {
        uint8_t a[36] = {0x20, 0x01, 0x0d,     0xb8, [15] = 1, 0x20, 0x01,
                         0x0d, 0xb8, [31] = 2, 0xDC, 0x04,     1,    0xBB};
        put(in, a, 36);
    }
    return in;
}

/* Set the length; fill the CRC32C value if a CRC32C TLV sits at crc_at. */
static void v2_finish(struct input *in, size_t crc_at)
{
    size_t body = in->len - 16;
    in->bytes[14] = (uint8_t)(body >> 8);
    in->bytes[15] = (uint8_t)body;
    if (crc_at != 0) {
        uint32_t c;
        memset(in->bytes + crc_at, 0, 4);
        c = pp_crc32c(0, in->bytes, in->len);
        in->bytes[crc_at] = (uint8_t)(c >> 24);
        in->bytes[crc_at + 1] = (uint8_t)(c >> 16);
        in->bytes[crc_at + 2] = (uint8_t)(c >> 8);
        in->bytes[crc_at + 3] = (uint8_t)c;
    }
}

static size_t put_crc_tlv(struct input *in)
{
    static const uint8_t zero[4];
    put_tlv(in, PP_TLV_CRC32C, zero, 4);
    return in->len - 4;
}

static void put_ssl(struct input *in, const char *const *subs,
                    const uint8_t *types, size_t n)
{
    uint8_t v[1024];
    size_t len = 5, i;
    v[0] = PP_CLIENT_SSL | PP_CLIENT_CERT_CONN;
    memset(v + 1, 0, 4);
    for (i = 0; i < n; i++) {
        size_t sl = strlen(subs[i]);
        v[len] = types[i];
        v[len + 1] = (uint8_t)(sl >> 8);
        v[len + 2] = (uint8_t)sl;
        memcpy(v + len + 3, subs[i], sl);
        len += 3 + sl;
    }
    put_tlv(in, PP_TLV_SSL, v, len);
}

static void build_inputs(void)
{
    struct input *in;
    size_t crc;
    uint8_t uid[128];

    memset(uid, 0x5A, sizeof uid);
    add_text("A v1 TCP4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
             0);
    add_text("B v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
             0);
    v2_finish(v2_start("C v2 TCP4", PP_CMD_PROXY, 0x11), 0);
    v2_finish(v2_start("D v2 TCP6", PP_CMD_PROXY, 0x21), 0);

    in = v2_start("E v2 TCP4 TLVs+CRC", PP_CMD_PROXY, 0x11);
    crc = put_crc_tlv(in);
    put_tlv(in, PP_TLV_ALPN, "h2", 2);
    put_tlv(in, PP_TLV_AUTHORITY, "example.com", 11);
    put_tlv(in, PP_TLV_UNIQUE_ID, uid, 32);
    {
        const char *s[] = {"TLSv1.3", "client.example.com"};
        const uint8_t t[] = {PP_SSL_VERSION, PP_SSL_CN};
        put_ssl(in, s, t, 2);
    }
    v2_finish(in, crc);

    add_text("F v1 UNKNOWN", "PROXY UNKNOWN\r\n", 0);
    v2_finish(v2_start("G v2 LOCAL", PP_CMD_LOCAL, 0x00), 0);

    /* H: what HAProxy sends with every proxy-v2-option over TLS. */
    in = v2_start("H v2 TCP6 all TLVs", PP_CMD_PROXY, 0x21);
    crc = put_crc_tlv(in);
    put_tlv(in, PP_TLV_ALPN, "http/1.1", 8);
    put_tlv(in, PP_TLV_AUTHORITY, "www.some-long-host-name.example.com", 35);
    put_tlv(in, PP_TLV_UNIQUE_ID, uid, 128);
    {
        const char *s[] = {"TLSv1.3", "client-certificate.example.com",
                           "RSA-SHA256", "RSA2048", "TLS_AES_256_GCM_SHA384"};
        const uint8_t t[] = {PP_SSL_VERSION, PP_SSL_CN, PP_SSL_KEY_ALG,
                             PP_SSL_SIG_ALG, PP_SSL_CIPHER};
        put_ssl(in, s, t, 5);
    }
    v2_finish(in, crc);

    add_text("I1 A byte by byte",
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", 1);
    in = &inputs[n_inputs];
    *in = inputs[4]; /* E */
    in->name = "I2 E byte by byte";
    in->bytewise = 1;
    n_inputs++;

    /* 64 KiB of small TLVs (2-byte values) with CRC32C: linearity. */
    in = v2_start("J v2 64KiB TLVs", PP_CMD_PROXY, 0x11);
    crc = put_crc_tlv(in);
    while (in->len + 5 <= 16 + 65535)
        put_tlv(in, 0xF0, "ab", 2);
    v2_finish(in, crc);
    in = &inputs[n_inputs];
    *in = inputs[n_inputs - 1];
    in->name = "J2 64KiB byte by byte";
    in->bytewise = 1;
    n_inputs++;
}

static int parse_once(const struct input *in)
{
    pp_header h;
    int r = PP_INCOMPLETE;
    size_t i;

    memset(&h, 0, sizeof h);
    if (!in->bytewise)
        return pp_parse(&h, in->bytes, in->len);
    for (i = 1; i <= in->len && r == PP_INCOMPLETE; i++)
        r = pp_parse(&h, in->bytes, i);
    return r;
}

/* The floor: the least any parser must do to delimit the header. */
static int floor_once(const struct input *in)
{
    static uint8_t copy[70000];
    const uint8_t *cr;
    size_t total;

    if (in->bytes[0] == 'P') {
        cr = memchr(in->bytes, '\r', in->len < 107 ? in->len : 107);
        return cr && cr[1] == '\n' ? (int)(cr + 2 - in->bytes) : -1;
    }
    if (memcmp(in->bytes, sig, 12) != 0)
        return -1;
    total = 16 + ((size_t)in->bytes[14] << 8 | in->bytes[15]);
    memcpy(copy, in->bytes, total);
    return (int)copy[total - 1] + (int)total;
}

/* The zeroing parse_once does, kept from being optimised away. */
static void empty_once(void)
{
    pp_header h;
    memset(&h, 0, sizeof h);
    __asm__ volatile("" : : "r"(&h) : "memory");
    sink += (size_t)h.length;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_ns(const struct input *in, int use_floor)
{
    double rounds[31];
    size_t iters = in->len > 4096 ? (in->bytewise ? 2 : 200) : 20000, r, i;

    for (r = 0; r < 31; r++) {
        double t0 = now_ns();
        for (i = 0; i < iters; i++)
            sink += (size_t)(use_floor ? floor_once(in) : parse_once(in));
        rounds[r] = (now_ns() - t0) / (double)iters;
    }
    qsort(rounds, 31, sizeof rounds[0], cmp_double);
    return rounds[15];
}

static void count(void)
{
    size_t i, k;
    char name[96];

    CALLGRIND_ZERO_STATS;
    for (k = 0; k < COUNT_ITERS; k++)
        empty_once();
    CALLGRIND_DUMP_STATS_AT("empty");
    for (i = 0; i < n_inputs; i++) {
        size_t iters = inputs[i].len > 4096 ? 10 : COUNT_ITERS;
        snprintf(name, sizeof name, "parse|%s|%zu", inputs[i].name, iters);
        CALLGRIND_ZERO_STATS;
        for (k = 0; k < iters; k++)
            sink += (size_t)parse_once(&inputs[i]);
        CALLGRIND_DUMP_STATS_AT(name);
        if (inputs[i].bytewise)
            continue;
        snprintf(name, sizeof name, "floor|%s|%zu", inputs[i].name, iters);
        CALLGRIND_ZERO_STATS;
        for (k = 0; k < iters; k++)
            sink += (size_t)floor_once(&inputs[i]);
        CALLGRIND_DUMP_STATS_AT(name);
    }
}

int main(int argc, char **argv)
{
    size_t i;

    build_inputs();
    for (i = 0; i < n_inputs; i++) {
        int r = parse_once(&inputs[i]);
        if (r != (int)inputs[i].len) {
            fprintf(stderr, "%s: parse gave %d (%s), want %zu\n",
                    inputs[i].name, r, pp_status_name(r), inputs[i].len);
            return 1;
        }
    }
    if (argc > 1 && strcmp(argv[1], "--count") == 0) {
        count();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        /* Write each input to a file for the Go peer's benchmark. */
        for (i = 0; i < n_inputs; i++) {
            char path[256];
            FILE *f;
            if (inputs[i].bytewise)
                continue;
            snprintf(path, sizeof path, "%s/%c.bin", argc > 2 ? argv[2] : ".",
                     inputs[i].name[0]);
            f = fopen(path, "wb");
            if (!f ||
                fwrite(inputs[i].bytes, 1, inputs[i].len, f) != inputs[i].len)
                return 1;
            fclose(f);
        }
        return 0;
    }
    printf("%-24s %6s %10s %10s %7s\n", "input", "bytes", "ns/header",
           "floor ns", "ratio");
    for (i = 0; i < n_inputs; i++) {
        double p = median_ns(&inputs[i], 0);
        double f = inputs[i].bytewise ? 0 : median_ns(&inputs[i], 1);
        printf("%-24s %6zu %10.1f %10.1f %7.1f\n", inputs[i].name,
               inputs[i].len, p, f, f > 0 ? p / f : 0.0);
    }
    return 0;
}
