/*
 * Differential test of pp_parse: the parser of an older commit and the
 * current one, built side by side (see run.sh), fed the same inputs in the
 * same pieces. wrap.c is compiled once against each version's header; the
 * results meet in this neutral struct, compared field by field by name, so
 * pp_header's layout may differ between the versions.
 */
#ifndef DIFFTEST_H
#define DIFFTEST_H

#include <stddef.h>
#include <stdint.h>

#define DT_NO_VIEW (-1L)

typedef struct dt_addr {
    uint8_t ip[16];
    uint16_t port;
    long path; /* offset of the path view into the input, or DT_NO_VIEW */
    size_t path_len;
    long unix_raw; /* offset of the raw UNIX field, or DT_NO_VIEW */
} dt_addr;

typedef struct dt_result {
    uint64_t calls; /* hash of every call's status and expected_len */
    int last;       /* status of the last call */
    size_t length;
    uint8_t version, command, family, transport;
    int has_addresses;
    size_t expected_len;
    dt_addr src, dst;
    long tlvs; /* offset of the TLV view, or DT_NO_VIEW */
    size_t tlvs_len;
    int again;       /* status of one more call on a copy of the input */
    long again_tlvs; /* the TLV view of that call, offset into the copy */
    long again_path; /* the source path view of that call, likewise */
} dt_result;

/* Parse buf[0..len) with max_len and flags, one pp_parse call per cut
 * (cuts[0..ncuts): increasing lengths, the last being len). */
void dt_run_old(const uint8_t *buf, size_t len, const size_t *cuts,
                size_t ncuts, size_t max_len, unsigned flags, dt_result *out);
void dt_run_new(const uint8_t *buf, size_t len, const size_t *cuts,
                size_t ncuts, size_t max_len, unsigned flags, dt_result *out);

#endif
