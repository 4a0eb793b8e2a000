/* Helpers shared by the test programs; see common.h. */
#include "common.h"

#include <string.h>

const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    int k;

    crc = ~crc;
    while (n-- > 0) {
        crc ^= *p++;
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
        (uint32_t)p[3];
}

size_t build_v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body,
                size_t body_len)
{
    memcpy(out, v2_sig, sizeof v2_sig);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(body_len >> 8);
    out[15] = (uint8_t)(body_len & 0xFFu);
    if (body_len > 0)
        memcpy(out + 16, body, body_len);
    return 16 + body_len;
}
