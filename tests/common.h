/*
 * Helpers shared by the test programs: reference implementations that do
 * not use the library (the CRC32C, big-endian loads) and a builder of v2
 * headers written by hand.
 */
#ifndef PPHDR_TESTS_COMMON_H
#define PPHDR_TESTS_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The 12 bytes of the v2 signature. */
extern const uint8_t v2_sig[12];

/* Bitwise CRC32C (Castagnoli, reflected 0x82F63B78) of n bytes, going on
 * from crc (0 to start), independent of pp_crc32c. */
uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n);

/* Big-endian loads. */
uint16_t be16(const uint8_t *p);
uint32_t be32(const uint8_t *p);

/* A v2 header at out: the signature, byte 12 (version and command), byte
 * 13 (family and transport), the length body_len, then body_len bytes of
 * body (body may be NULL when body_len is 0). Returns 16 + body_len. */
size_t build_v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body,
                size_t body_len);

#endif
