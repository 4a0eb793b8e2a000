/* Internal declarations shared by lib/pphdr.c and the lib/parts/ fragments
 * fragments while they are developed separately. Everything here becomes
 * static when the fragments are merged into lib/pphdr.c. */
#ifndef PP_INTERNAL_H
#define PP_INTERNAL_H

#include "pphdr.h"

/* Strict address text parsers over [p, end) (no NUL needed).
 * IPv4: four decimal octets 0..255, no leading zeros.
 * IPv6: RFC 4291 forms, at most one "::" standing for at least one group,
 * optional dotted IPv4 tail, no zone id, no brackets.
 * Parsing stops at the first byte that cannot continue the address.
 * Returns PP_OK when [p, *stop) is a complete address (*stop may be end,
 * or the first byte that is not part of it), PP_INCOMPLETE when it reached
 * end with a valid but unfinished prefix, PP_ERR_V1_ADDRESS when the bytes
 * can never form a valid address (then *stop is unspecified). out is in network order. */
int pp__ip4(const uint8_t *p, const uint8_t *end, uint8_t out[4],
            const uint8_t **stop);
int pp__ip6(const uint8_t *p, const uint8_t *end, uint8_t out[16],
            const uint8_t **stop);

/* Big-endian loads and stores, unaligned-safe. */
uint16_t pp__be16(const uint8_t *p);
uint32_t pp__be32(const uint8_t *p);
void pp__put_be16(uint8_t *p, uint16_t v);
void pp__put_be32(uint8_t *p, uint32_t v);

#endif
