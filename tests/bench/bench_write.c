/*
 * bench_write: cost of the writers and of CRC32C.
 *
 *   bench_write            median ns per header / bytes per ns
 *   bench_write --count    under callgrind: one dump per loop (run.sh)
 *
 * Build it twice to compare CRC32C paths: as is (SSE4.2 crc32 instruction
 * when the CPU has it) and with -DPP_NO_HW_CRC32C (portable slicing-by-8).
 */
#define _POSIX_C_SOURCE 200809L
#include "pphdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#define COUNT_ITERS 1000
#define CRC_LEN 65536

static volatile size_t sink;
static uint8_t out[PP_V2_MAX_LEN];
static uint8_t crc_data[CRC_LEN];

static pp_header tcp4, tcp6;
static pp_tlv tlvs[4];
static uint8_t uid[32];
static const uint8_t ssl[] = {0x01, 0,   0,   0,   0,   0x21, 0,  7,
                              'T',  'L', 'S', 'v', '1', '.',  '3'};

static void setup(void)
{
    size_t i;

    memset(&tcp4, 0, sizeof tcp4);
    tcp4.command = PP_CMD_PROXY;
    tcp4.family = PP_AF_INET;
    tcp4.transport = PP_TRANSPORT_STREAM;
    memcpy(tcp4.src.ip, "\xc0\xa8\x00\x01", 4);
    memcpy(tcp4.dst.ip, "\xc0\xa8\x00\x0b", 4);
    tcp4.src.port = 56324;
    tcp4.dst.port = 443;
    tcp6 = tcp4;
    tcp6.family = PP_AF_INET6;
    memcpy(tcp6.src.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    memcpy(tcp6.dst.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
    memset(uid, 0x5A, sizeof uid);
    tlvs[0] = (pp_tlv){PP_TLV_ALPN, 2, (const uint8_t *)"h2"};
    tlvs[1] = (pp_tlv){PP_TLV_AUTHORITY, 11, (const uint8_t *)"example.com"};
    tlvs[2] = (pp_tlv){PP_TLV_UNIQUE_ID, sizeof uid, uid};
    tlvs[3] = (pp_tlv){PP_TLV_SSL, sizeof ssl, ssl};
    for (i = 0; i < CRC_LEN; i++)
        crc_data[i] = (uint8_t)(i * 131u + 7u);
}

enum job {
    W_V1_TCP4,
    W_V1_TCP6,
    W_V2_TCP4,
    W_V2_TCP6,
    W_V2_TLVS_CRC,
    N_WRITE_JOBS
};
static const char *const job_names[N_WRITE_JOBS] = {
    "write v1 TCP4", "write v1 TCP6", "write v2 TCP4", "write v2 TCP6",
    "write v2 TCP4 TLVs+CRC"};

static int run_job(enum job j)
{
    pp_v2_opts o;

    switch (j) {
    case W_V1_TCP4:
        return pp_write_v1(out, sizeof out, &tcp4);
    case W_V1_TCP6:
        return pp_write_v1(out, sizeof out, &tcp6);
    case W_V2_TCP4:
        return pp_write_v2(out, sizeof out, &tcp4, NULL);
    case W_V2_TCP6:
        return pp_write_v2(out, sizeof out, &tcp6, NULL);
    default:
        memset(&o, 0, sizeof o);
        o.tlvs = tlvs;
        o.tlv_count = 4;
        o.crc32c = 1;
        return pp_write_v2(out, sizeof out, &tcp4, &o);
    }
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

/* Median over 31 rounds of the time per call of fn(arg). */
static double median(double (*round)(size_t), size_t arg)
{
    double r[31];
    size_t i;

    for (i = 0; i < 31; i++)
        r[i] = round(arg);
    qsort(r, 31, sizeof r[0], cmp_double);
    return r[15];
}

static double write_round(size_t j)
{
    size_t i, iters = 20000;
    double t0 = now_ns();

    for (i = 0; i < iters; i++)
        sink += (size_t)run_job((enum job)j);
    return (now_ns() - t0) / (double)iters;
}

static double crc_round(size_t len)
{
    size_t i, iters = len >= 4096 ? 200 : 20000;
    double t0 = now_ns();

    for (i = 0; i < iters; i++)
        sink += pp_crc32c(0, crc_data, len);
    return (now_ns() - t0) / (double)iters;
}

static void count(void)
{
    char name[96];
    size_t j, k;

    for (j = 0; j < N_WRITE_JOBS; j++) {
        snprintf(name, sizeof name, "write|%s|%d", job_names[j], COUNT_ITERS);
        CALLGRIND_ZERO_STATS;
        for (k = 0; k < COUNT_ITERS; k++)
            sink += (size_t)run_job((enum job)j);
        CALLGRIND_DUMP_STATS_AT(name);
    }
    snprintf(name, sizeof name, "crc|CRC32C 64 KiB (per byte)|%d", CRC_LEN);
    CALLGRIND_ZERO_STATS;
    sink += pp_crc32c(0, crc_data, CRC_LEN);
    CALLGRIND_DUMP_STATS_AT(name);
}

int main(int argc, char **argv)
{
    static const size_t crc_lens[] = {32, 128, 1024, 65536};
    size_t j;

    setup();
    for (j = 0; j < N_WRITE_JOBS; j++) {
        if (run_job((enum job)j) <= 0) {
            fprintf(stderr, "%s failed\n", job_names[j]);
            return 1;
        }
    }
    if (pp_crc32c(0, "123456789", 9) != 0xE3069283u) {
        fprintf(stderr, "CRC32C check value wrong\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--count") == 0) {
        count();
        return 0;
    }
    printf("%-24s %10s\n", "writer", "ns/header");
    for (j = 0; j < N_WRITE_JOBS; j++)
        printf("%-24s %10.1f\n", job_names[j], median(write_round, j));
    printf("\n%-24s %10s\n", "CRC32C length", "bytes/ns");
    for (j = 0; j < sizeof crc_lens / sizeof crc_lens[0]; j++)
        printf("%-24zu %10.2f\n", crc_lens[j],
               (double)crc_lens[j] / median(crc_round, crc_lens[j]));
    return 0;
}
