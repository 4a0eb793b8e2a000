/*
 * bench_trust: cost of the trust table.
 *
 *   bench_trust    prints, as medians over several rounds:
 *                  - pp_trust_add and pp_trust_build time for 100 000 random
 *                    entries (half IPv4 /8../32, half IPv6 /16../128);
 *                  - ns per pp_trust_match on built tables of 10, 1 000 and
 *                    100 000 random entries, and on the same tables unbuilt
 *                    (linear scan), with half the lookups inside an entry.
 *
 * Standalone program, not part of the test suite. Build by hand:
 *   cc -O2 -Iinclude tests/bench/bench_trust.c lib/pphdr.c
 */
#define _POSIX_C_SOURCE 200809L
#include "pphdr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BIG 100000u
#define ROUNDS 7
#define QUERIES 4096u

static volatile size_t sink;
static uint64_t rng_state = 0x7275737442454e43u;

/* splitmix64 */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
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

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A random entry: its text for pp_trust_add and its network bytes so that
 * queries can be aimed inside it. */
struct entry {
    char text[64];
    int family;
    uint8_t net[16];
    unsigned prefix;
};

static void random_entry(struct entry *e)
{
    char ip[INET6_ADDRSTRLEN];
    size_t i;

    for (i = 0; i < 16; i++)
        e->net[i] = (uint8_t)rng_next();
    if (rng_below(2)) {
        e->family = PP_AF_INET;
        e->prefix = 8 + rng_below(25);
        inet_ntop(AF_INET, e->net, ip, sizeof ip);
    } else {
        e->family = PP_AF_INET6;
        e->prefix = 16 + rng_below(113);
        inet_ntop(AF_INET6, e->net, ip, sizeof ip);
    }
    snprintf(e->text, sizeof e->text, "%s/%u", ip, e->prefix);
}

struct query {
    int family;
    uint8_t addr[16];
};

/* Half the queries inside a random entry (its net with random host
 * bits), half random addresses of either family. */
static void make_queries(const struct entry *e, size_t n, struct query *q)
{
    size_t i, b;

    for (i = 0; i < QUERIES; i++) {
        for (b = 0; b < 16; b++)
            q[i].addr[b] = (uint8_t)rng_next();
        if (n > 0 && i % 2 == 0) {
            const struct entry *in = &e[rng_below((unsigned)n)];

            q[i].family = in->family;
            for (b = 0; b < in->prefix; b++) {
                uint8_t bit = (uint8_t)(0x80u >> (b % 8));

                q[i].addr[b / 8] = (uint8_t)((q[i].addr[b / 8] & ~bit) |
                                             (in->net[b / 8] & bit));
            }
        } else {
            q[i].family = rng_below(2) ? PP_AF_INET : PP_AF_INET6;
        }
    }
}

static void fill(pp_trust *t, pp_trust_entry *storage, const struct entry *e,
                 size_t n)
{
    size_t i;

    pp_trust_init(t, storage, n);
    for (i = 0; i < n; i++) {
        if (pp_trust_add(t, e[i].text, strlen(e[i].text), NULL) != PP_OK) {
            fprintf(stderr, "add %s failed\n", e[i].text);
            exit(1);
        }
    }
}

/* Median ns per lookup over ROUNDS rounds of `lookups` lookups. */
static double lookup_ns(const pp_trust *t, const struct query *q,
                        size_t lookups, size_t *hits)
{
    double v[ROUNDS];
    int r;

    for (r = 0; r < ROUNDS; r++) {
        size_t i, h = 0;
        double t0 = now_ns();

        for (i = 0; i < lookups; i++) {
            const struct query *x = &q[i % QUERIES];

            h += (size_t)(x->family == PP_AF_INET
                              ? pp_trust_match_ip4(t, x->addr)
                              : pp_trust_match_ip6(t, x->addr));
        }
        v[r] = (now_ns() - t0) / (double)lookups;
        sink += h;
        *hits = h;
    }
    return median(v, ROUNDS);
}

int main(void)
{
    static struct entry entries[BIG];
    static pp_trust_entry storage[BIG];
    static struct query queries[QUERIES];
    static const size_t sizes[] = {10, 1000, BIG};
    double add_ms[ROUNDS], build_ms[ROUNDS];
    pp_trust t;
    size_t i, merged = 0;
    int r;

    for (i = 0; i < BIG; i++)
        random_entry(&entries[i]);

    for (r = 0; r < ROUNDS; r++) {
        double t0 = now_ns(), t1;

        fill(&t, storage, entries, BIG);
        t1 = now_ns();
        pp_trust_build(&t);
        add_ms[r] = (t1 - t0) / 1e6;
        build_ms[r] = (now_ns() - t1) / 1e6;
        merged = t.count;
    }
    printf("%u random entries (median of %d rounds)\n", BIG, ROUNDS);
    printf("  pp_trust_add x %u   %8.2f ms\n", BIG, median(add_ms, ROUNDS));
    printf("  pp_trust_build      %8.2f ms  (%zu ranges after merging)\n\n",
           median(build_ms, ROUNDS), merged);

    printf("%8s %8s %14s %16s %6s\n", "entries", "ranges", "built ns/look",
           "unbuilt ns/look", "hits");
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i], hits = 0, ranges;
        double built, unbuilt;
        /* Rounds of roughly equal work: fewer lookups when they scan. */
        size_t scan_lookups = ((size_t)1 << 22) / n;

        if (scan_lookups < 256)
            scan_lookups = 256;
        /* A table of the first n random entries (entries are random, so
         * any prefix of the array is a random table). */
        fill(&t, storage, entries, n);
        make_queries(entries, n, queries);
        unbuilt = lookup_ns(&t, queries, scan_lookups, &hits);
        pp_trust_build(&t);
        ranges = t.count;
        built = lookup_ns(&t, queries, (size_t)1 << 18, &hits);
        printf("%8zu %8zu %14.1f %16.1f %5.0f%%\n", n, ranges, built, unbuilt,
               100.0 * (double)hits / (double)((size_t)1 << 18));
    }
    return 0;
}
