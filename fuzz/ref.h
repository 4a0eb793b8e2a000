/*
 * An independent reference of the normative parser semantics (see the
 * common brief), written for the fuzzers from the rules, not from
 * lib/pphdr.c. It is deliberately naive: whole-input, re-scanning, no
 * state kept between calls.
 *
 * Model: every check of the rules becomes "proved" once a certain number
 * of bytes is available (its proof point). pp_parse(buf, len) must return
 * the outcome whose proof point is the smallest one <= len, or
 * PP_INCOMPLETE when there is none. When the rules leave the order of two
 * checks with the same proof point open, both outcomes are accepted.
 */
#ifndef FUZZ_REF_H
#define FUZZ_REF_H

#include <stddef.h>
#include <stdint.h>

/* Which outcomes are acceptable for pp_parse(buf, len). */
typedef struct ref_result {
    size_t proof; /* proof point of the outcomes, 0 when incomplete */
    int codes[6]; /* acceptable return values (length or PP_ERR_*) */
    int n_codes;  /* 0: PP_INCOMPLETE is the only answer */
    /* A second acceptable answer where the rules are read two ways (v1
     * with max_len below 7: the length rule during "PROXY " or after). */
    int has_alt;
    size_t alt_proof;
    int alt_codes[6];
    int alt_n_codes;

    /* When a complete header is accepted (codes[0] > 0): */
    uint8_t version, command, family, transport;
    uint8_t src_ip[16], dst_ip[16];
    uint16_t src_port, dst_port;
    size_t tlv_off, tlv_len; /* offset into buf, 0/0 when none */
} ref_result;

/* The reference outcome of pp_parse on buf[0..len) with those settings. */
void ref_parse(ref_result *r, const uint8_t *buf, size_t len, size_t max_len,
               unsigned flags);

/* 1 when ret is acceptable for r. */
int ref_accepts(const ref_result *r, int ret);

/* Print r on stderr (for a finding). */
void ref_print(const ref_result *r);

/* Strict address text (the rules of the brief): 1 and *out when s[0..n) is
 * a complete valid address, 0 otherwise. */
int ref_ip4(const char *s, size_t n, uint8_t out[4]);
int ref_ip6(const char *s, size_t n, uint8_t out[16]);
/* 1 when s[0..n) can still be completed to a valid address / port. */
int ref_ip4_prefix(const char *s, size_t n);
int ref_ip6_prefix(const char *s, size_t n);
int ref_port_prefix(const char *s, size_t n);
/* Complete port "0" or 1..65535 without leading zero. */
int ref_port(const char *s, size_t n, uint16_t *out);

/* CRC32C (Castagnoli), bit by bit; same chaining as pp_crc32c. */
uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n);

/* RFC 5952 text of an IPv6 address (lowercase, longest zero run of two or
 * more groups as "::", first one on a tie, no leading zeros); NUL
 * terminated, returns its length. out needs 40 bytes. */
size_t ref_ip6_text(const uint8_t ip[16], char *out);

#endif
