/*
 * Reference semantics for the fuzzers; see ref.h. Written from the rules of
 * the common brief ("Parser semantics"), independently of lib/.
 */
#include "ref.h"

#include <stdio.h>
#include <string.h>

#include "pphdr.h"

/* ------------------------------------------------------------------------
 * Address and port text
 * ---------------------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ref_ip4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    int octet;

    for (octet = 0; octet < 4; octet++) {
        size_t start;
        unsigned v = 0;

        if (octet > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        start = i;
        while (i < n && is_digit(s[i]) && i - start < 3) {
            v = v * 10u + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start || v > 255u)
            return 0;
        if (i - start > 1 && s[start] == '0')
            return 0;
        out[octet] = (uint8_t)v;
    }
    return i == n;
}

int ref_ip4_prefix(const char *s, size_t n)
{
    char tmp[32];
    size_t k, dots = 0;
    uint8_t ip[4];

    if (n > 15)
        return 0;
    memcpy(tmp, s, n);
    k = n;
    for (size_t i = 0; i < n; i++)
        dots += s[i] == '.';
    if (k == 0 || tmp[k - 1] == '.')
        tmp[k++] = '0';
    while (dots < 3) {
        tmp[k++] = '.';
        tmp[k++] = '0';
        dots++;
    }
    return ref_ip4(tmp, k, ip);
}

/* Groups "h:h:...:h" (each 1-4 hex digits), the last one possibly a dotted
 * IPv4 (two groups) when v4_last. Appends to g[*ng], at most 8 in all. */
static int ip6_groups(const char *s, size_t n, int v4_last, uint16_t g[8],
                      size_t *ng)
{
    size_t i = 0, k = 0;

    for (;;) {
        size_t j = i;

        while (j < n && s[j] != ':')
            j++;
        if (j == i)
            return 0;
        if (memchr(s + i, '.', j - i) != NULL) {
            uint8_t v4[4];

            if (!v4_last || j != n || !ref_ip4(s + i, j - i, v4) || k + 2 > 8)
                return 0;
            g[k++] = (uint16_t)((v4[0] << 8) | v4[1]);
            g[k++] = (uint16_t)((v4[2] << 8) | v4[3]);
        } else {
            unsigned v = 0;

            if (j - i > 4 || k + 1 > 8)
                return 0;
            for (size_t q = i; q < j; q++) {
                int h = hex_value(s[q]);

                if (h < 0)
                    return 0;
                v = v * 16u + (unsigned)h;
            }
            g[k++] = (uint16_t)v;
        }
        if (j == n)
            break;
        i = j + 1;
    }
    *ng = k;
    return 1;
}

int ref_ip6(const char *s, size_t n, uint8_t out[16])
{
    uint16_t left[8], right[8], all[8];
    size_t nl = 0, nr = 0, dbl = n, i;

    for (i = 0; i + 1 < n; i++) {
        if (s[i] == ':' && s[i + 1] == ':') {
            dbl = i;
            break;
        }
    }
    if (n == 0)
        return 0;
    if (dbl == n) {
        if (!ip6_groups(s, n, 1, left, &nl) || nl != 8)
            return 0;
        memcpy(all, left, sizeof all);
    } else {
        const char *r = s + dbl + 2;
        size_t rn = n - dbl - 2;

        if (dbl > 0 && !ip6_groups(s, dbl, 0, left, &nl))
            return 0;
        if (rn > 0 && !ip6_groups(r, rn, 1, right, &nr))
            return 0;
        if (nl + nr > 7)
            return 0;
        memset(all, 0, sizeof all);
        memcpy(all, left, nl * sizeof left[0]);
        memcpy(all + (8 - nr), right, nr * sizeof right[0]);
    }
    for (i = 0; i < 8; i++) {
        out[2 * i] = (uint8_t)(all[i] >> 8);
        out[2 * i + 1] = (uint8_t)(all[i] & 0xffu);
    }
    return 1;
}

/* Complete the dotted IPv4 in the last group of s, if it has one. */
static size_t ip6_tail_fill(const char *s, size_t n, char *out)
{
    size_t last = 0, dots = 0, k = n;

    memcpy(out, s, n);
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            last = i + 1;
    for (size_t i = last; i < n; i++)
        dots += s[i] == '.';
    if (dots == 0)
        return n;
    if (out[k - 1] == '.')
        out[k++] = '0';
    while (dots < 3) {
        out[k++] = '.';
        out[k++] = '0';
        dots++;
    }
    return k;
}

/* A prefix can be completed iff one of a few completions is valid: the
 * prefix itself, then "::", up to seven ":0" groups, or the rest of a
 * dotted tail, after the prefix, the prefix + "0" or the prefix + ":". */
int ref_ip6_prefix(const char *s, size_t n)
{
    char base[64], cand[128];
    uint8_t ip[16];
    int b;

    if (n > 45)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (hex_value(s[i]) < 0 && s[i] != ':' && s[i] != '.')
            return 0;
    for (b = 0; b < 3; b++) {
        size_t bn = n, cn;

        memcpy(base, s, n);
        if (b == 1)
            base[bn++] = '0';
        else if (b == 2)
            base[bn++] = ':';
        if (ref_ip6(base, bn, ip))
            return 1;
        memcpy(cand, base, bn);
        memcpy(cand + bn, "::", 2);
        if (ref_ip6(cand, bn + 2, ip))
            return 1;
        cn = bn;
        for (int k = 0; k < 7; k++) {
            cand[cn++] = ':';
            cand[cn++] = '0';
            if (ref_ip6(cand, cn, ip))
                return 1;
        }
        cn = ip6_tail_fill(base, bn, cand);
        if (ref_ip6(cand, cn, ip))
            return 1;
    }
    return 0;
}

int ref_port(const char *s, size_t n, uint16_t *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        v = v * 10u + (unsigned long)(s[i] - '0');
    }
    if (v > 65535u)
        return 0;
    *out = (uint16_t)v;
    return 1;
}

int ref_port_prefix(const char *s, size_t n)
{
    uint16_t port;

    return n == 0 || ref_port(s, n, &port);
}

/* ------------------------------------------------------------------------
 * CRC32C and RFC 5952
 * ---------------------------------------------------------------------- */

uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

size_t ref_ip6_text(const uint8_t ip[16], char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint16_t g[8];
    int best = -1, best_len = 1, i;
    size_t k = 0;

    for (i = 0; i < 8; i++)
        g[i] = (uint16_t)((ip[2 * i] << 8) | ip[2 * i + 1]);
    for (i = 0; i < 8;) {
        int j = i;

        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    for (i = 0; i < 8; i++) {
        int shift, started = 0;

        if (i == best) {
            out[k++] = ':';
            out[k++] = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len)
            out[k++] = ':';
        for (shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (unsigned)(g[i] >> shift) & 0xfu;

            if (d != 0 || started || shift == 0) {
                out[k++] = hex[d];
                started = 1;
            }
        }
    }
    out[k] = '\0';
    return k;
}

/* ------------------------------------------------------------------------
 * Outcomes with proof points
 * ---------------------------------------------------------------------- */

static void outcome(ref_result *r, size_t len, size_t proof, int code)
{
    int i;

    if (proof > len)
        return;
    if (r->n_codes == 0 || proof < r->proof) {
        r->proof = proof;
        r->codes[0] = code;
        r->n_codes = 1;
        return;
    }
    if (proof > r->proof)
        return;
    for (i = 0; i < r->n_codes; i++)
        if (r->codes[i] == code)
            return;
    if (r->n_codes < (int)(sizeof r->codes / sizeof r->codes[0]))
        r->codes[r->n_codes++] = code;
}

static int in_codes(const int *codes, int n, int ret)
{
    int i;

    if (n == 0)
        return ret == PP_INCOMPLETE;
    for (i = 0; i < n; i++)
        if (codes[i] == ret)
            return 1;
    return 0;
}

int ref_accepts(const ref_result *r, int ret)
{
    return in_codes(r->codes, r->n_codes, ret) ||
        (r->has_alt && in_codes(r->alt_codes, r->alt_n_codes, ret));
}

static void print_codes(const char *what, size_t proof, const int *codes, int n)
{
    int i;

    if (n == 0) {
        fprintf(stderr, "%s: incomplete (%d)\n", what, PP_INCOMPLETE);
        return;
    }
    fprintf(stderr, "%s: at byte %zu one of:", what, proof);
    for (i = 0; i < n; i++)
        fprintf(stderr, " %d(%s)", codes[i],
                codes[i] > 0 ? "length" : pp_status_name(codes[i]));
    fputc('\n', stderr);
}

void ref_print(const ref_result *r)
{
    print_codes("reference", r->proof, r->codes, r->n_codes);
    if (r->has_alt)
        print_codes("or", r->alt_proof, r->alt_codes, r->alt_n_codes);
}

/* ------------------------------------------------------------------------
 * v1
 * ---------------------------------------------------------------------- */

enum field_kind { F_TOKEN, F_IP4, F_IP6, F_PORT };

static const char *const v1_tokens[3] = {"TCP4", "TCP6", "UNKNOWN"};

static int token_prefix(const char *s, size_t n)
{
    for (int i = 0; i < 3; i++)
        if (n <= strlen(v1_tokens[i]) && memcmp(s, v1_tokens[i], n) == 0)
            return 1;
    return 0;
}

static int token_which(const char *s, size_t n)
{
    for (int i = 0; i < 3; i++)
        if (n == strlen(v1_tokens[i]) && memcmp(s, v1_tokens[i], n) == 0)
            return i;
    return -1;
}

static int field_prefix(enum field_kind kind, const char *s, size_t n)
{
    switch (kind) {
    case F_TOKEN:
        return token_prefix(s, n);
    case F_IP4:
        return ref_ip4_prefix(s, n);
    case F_IP6:
        return ref_ip6_prefix(s, n);
    case F_PORT:
        return ref_port_prefix(s, n);
    }
    return 0;
}

/* Fields of the line, filled as they are accepted. */
struct v1_line {
    int family; /* token index: 0 TCP4, 1 TCP6, 2 UNKNOWN */
    uint8_t ip[2][16];
    uint16_t port[2];
};

static int field_complete(enum field_kind kind, const char *s, size_t n,
                          int field, struct v1_line *line)
{
    switch (kind) {
    case F_TOKEN:
        line->family = token_which(s, n);
        return line->family >= 0;
    case F_IP4:
        return ref_ip4(s, n, line->ip[field - 1]);
    case F_IP6:
        return ref_ip6(s, n, line->ip[field - 1]);
    case F_PORT:
        return ref_port(s, n, &line->port[field - 3]);
    }
    return 0;
}

static int field_error(int field)
{
    return field == 0 ? PP_ERR_V1_FAMILY
        : field <= 2  ? PP_ERR_V1_ADDRESS
                      : PP_ERR_V1_PORT;
}

/* Scan the line left to right; returns the index of the accepted final CR,
 * or len when none was accepted (an error or the end of the input). */
static size_t v1_scan(ref_result *r, const uint8_t *b, size_t len,
                      unsigned flags, struct v1_line *line)
{
    static const char proxy[] = "PROXY";
    const char *s = (const char *)b;
    size_t pos = 6, j = 0;
    int field;

    for (size_t i = 0; i < 5 && i < len; i++) {
        if (s[i] != proxy[i]) {
            outcome(r, len, i + 1, PP_ERR_NOT_PROXY);
            return len;
        }
    }
    if (len < 5)
        return len;
    if (flags & PP_F_NO_V1) {
        outcome(r, len, 5, PP_ERR_VERSION_DISABLED);
        return len;
    }
    if (len < 6)
        return len;
    if (s[5] != ' ') {
        outcome(r, len, 6, PP_ERR_V1_SYNTAX);
        return len;
    }
    for (field = 0; field < 5; field++) {
        enum field_kind kind = field == 0 ? F_TOKEN
            : field >= 3                  ? F_PORT
            : line->family == 0           ? F_IP4
                                          : F_IP6;
        char c;

        j = pos;
        if (j >= len)
            return len;
        c = s[j];
        if (c == ' ' || c == '\r') {
            outcome(r, len, j + 1, PP_ERR_V1_SYNTAX);
            return len;
        }
        if (c == '\n') {
            outcome(r, len, j + 1, PP_ERR_V1_CRLF);
            return len;
        }
        while (j < len && field_prefix(kind, s + pos, j + 1 - pos))
            j++;
        if (j >= len)
            return len;
        c = s[j];
        if ((c != ' ' && c != '\r' && c != '\n') ||
            !field_complete(kind, s + pos, j - pos, field, line)) {
            outcome(r, len, j + 1, field_error(field));
            return len;
        }
        if (c == '\n') {
            outcome(r, len, j + 1, PP_ERR_V1_CRLF);
            return len;
        }
        if (field == 0 && line->family == 2) {
            if (c == ' ') {
                while (j < len && s[j] != '\r' && s[j] != '\n')
                    j++;
                if (j >= len)
                    return len;
                if (s[j] == '\n') {
                    outcome(r, len, j + 1, PP_ERR_V1_CRLF);
                    return len;
                }
            }
            return j;
        }
        if (field < 4) {
            if (c == '\r') {
                outcome(r, len, j + 1, PP_ERR_V1_SYNTAX);
                return len;
            }
            pos = j + 1;
            continue;
        }
        if (c == ' ') {
            outcome(r, len, j + 1, PP_ERR_V1_SYNTAX);
            return len;
        }
        return j;
    }
    return len;
}

static void ref_v1(ref_result *r, const uint8_t *b, size_t len, size_t max_len,
                   unsigned flags)
{
    struct v1_line line;
    size_t limit = PP_V1_MAX_LEN, cr;
    int long_code = PP_ERR_V1_TOO_LONG;

    if (max_len != 0 && max_len < limit) {
        limit = max_len;
        long_code = PP_ERR_TOO_LONG;
    }
    memset(&line, 0, sizeof line);
    cr = v1_scan(r, b, len, flags, &line);
    if (cr < len && cr + 1 < len) {
        if (b[cr + 1] != '\n') {
            outcome(r, len, cr + 2, PP_ERR_V1_CRLF);
        } else {
            outcome(r, len, cr + 2, (int)(cr + 2));
            r->version = 1;
            r->command = PP_CMD_PROXY;
            if (line.family == 2) {
                r->family = PP_AF_UNSPEC;
                r->transport = PP_TRANSPORT_UNSPEC;
            } else {
                size_t n = line.family == 0 ? 4 : 16;

                r->family = line.family == 0 ? PP_AF_INET : PP_AF_INET6;
                r->transport = PP_TRANSPORT_STREAM;
                memcpy(r->src_ip, line.ip[0], n);
                memcpy(r->dst_ip, line.ip[1], n);
                r->src_port = line.port[0];
                r->dst_port = line.port[1];
            }
        }
    }
    /* The length rule: limit - 1 bytes in and no line end accepted among
     * them (ref_parse handled limits below the shortest line). */
    if (len >= limit - 1 && !(cr < len && cr < limit - 1))
        outcome(r, len, limit - 1, long_code);
}

/* ------------------------------------------------------------------------
 * v2
 * ---------------------------------------------------------------------- */

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static size_t be16_at(const uint8_t *p)
{
    return ((size_t)p[0] << 8) | p[1];
}

static int ssl_subs_tile(const uint8_t *p, size_t n)
{
    while (n >= 3) {
        size_t l = be16_at(p + 1);

        if (3 + l > n)
            return 0;
        p += 3 + l;
        n -= 3 + l;
    }
    return n == 0;
}

/* 1 when the CRC32C value at crc_at matches the header b[0..total). */
static int crc_matches(const uint8_t *b, size_t total, size_t crc_at)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t c = ref_crc32c(0, b, crc_at);
    uint32_t want = ((uint32_t)b[crc_at] << 24) |
        ((uint32_t)b[crc_at + 1] << 16) | ((uint32_t)b[crc_at + 2] << 8) |
        b[crc_at + 3];

    c = ref_crc32c(c, zero, 4);
    c = ref_crc32c(c, b + crc_at + 4, total - crc_at - 4);
    return c == want;
}

static void ref_v2(ref_result *r, const uint8_t *b, size_t len, size_t max_len,
                   unsigned flags)
{
    static const size_t blocks[4] = {0, 12, 36, 216};
    size_t total, pos, block, crc_at = 0;
    unsigned cmd, fam;
    int too_long = 0;

    for (size_t i = 0; i < 12 && i < len; i++) {
        if (b[i] != v2_sig[i]) {
            outcome(r, len, i + 1, PP_ERR_NOT_PROXY);
            return;
        }
    }
    if (len < 12)
        return;
    if (flags & PP_F_NO_V2) {
        outcome(r, len, 12, PP_ERR_VERSION_DISABLED);
        return;
    }
    if (len < 13)
        return;
    if ((b[12] >> 4) != 2) {
        outcome(r, len, 13, PP_ERR_V2_VERSION);
        return;
    }
    cmd = b[12] & 0xfu;
    if (cmd > 1) {
        outcome(r, len, 13, PP_ERR_V2_COMMAND);
        return;
    }
    if (len < 14)
        return;
    fam = b[13];
    if (fam != 0x00 && fam != 0x11 && fam != 0x12 && fam != 0x21 &&
        fam != 0x22 && fam != 0x31 && fam != 0x32) {
        outcome(r, len, 14, PP_ERR_V2_FAMILY);
        return;
    }
    if (len < 16)
        return;
    total = 16 + be16_at(b + 14);
    block = blocks[fam >> 4];
    if (cmd == PP_CMD_PROXY && total - 16 < block) {
        outcome(r, len, 16, PP_ERR_V2_ADDR_LEN);
        return;
    }
    if (max_len != 0 && total > max_len) {
        outcome(r, len, 16, PP_ERR_TOO_LONG);
        too_long = 1;
    }
    r->version = 2;
    r->command = (uint8_t)cmd;
    r->family = (uint8_t)(fam >> 4);
    r->transport = (uint8_t)(fam & 0xfu);
    if (cmd == PP_CMD_LOCAL && total - 16 < block) {
        if (!too_long && len >= total)
            outcome(r, len, total, (int)total);
        return;
    }
    pos = 16 + block;
    if (total - pos == 1 || total - pos == 2) {
        outcome(r, len, 16, PP_ERR_TLV_TRUNCATED);
        return;
    }
    if (too_long)
        return;
    while (pos < total) {
        unsigned type;
        size_t l, end;
        int bad = 0;

        if (len < pos + 3)
            return;
        type = b[pos];
        l = be16_at(b + pos + 1);
        end = pos + 3 + l;
        if (end > total) {
            outcome(r, len, pos + 3, PP_ERR_TLV_TRUNCATED);
            bad = 1;
        } else if (total - end == 1 || total - end == 2) {
            outcome(r, len, pos + 3, PP_ERR_TLV_TRUNCATED);
            bad = 1;
        }
        if (type == PP_TLV_CRC32C && (l != 4 || crc_at != 0)) {
            outcome(r, len, pos + 3, PP_ERR_TLV_CRC32C);
            bad = 1;
        }
        if (type == PP_TLV_UNIQUE_ID && l > PP_UNIQUE_ID_MAX) {
            outcome(r, len, pos + 3, PP_ERR_TLV_UNIQUE_ID);
            bad = 1;
        }
        if (type == PP_TLV_SSL && l < 5) {
            outcome(r, len, pos + 3, PP_ERR_TLV_SSL);
            bad = 1;
        }
        if (bad)
            return;
        if (type == PP_TLV_CRC32C)
            crc_at = pos + 3;
        if (type == PP_TLV_SSL) {
            if (len < end)
                return;
            if (!ssl_subs_tile(b + pos + 8, l - 5)) {
                outcome(r, len, end, PP_ERR_TLV_SSL);
                /* The whole header may be in at the same byte. */
                if (end == total && crc_at != 0 &&
                    !crc_matches(b, total, crc_at))
                    outcome(r, len, end, PP_ERR_CRC32C_MISMATCH);
                return;
            }
        }
        pos = end;
    }
    if (len < total)
        return;
    if (crc_at != 0 && !crc_matches(b, total, crc_at)) {
        outcome(r, len, total, PP_ERR_CRC32C_MISMATCH);
        return;
    }
    outcome(r, len, total, (int)total);
    if (cmd == PP_CMD_PROXY && (fam >> 4) == PP_AF_INET) {
        memcpy(r->src_ip, b + 16, 4);
        memcpy(r->dst_ip, b + 20, 4);
        r->src_port = (uint16_t)be16_at(b + 24);
        r->dst_port = (uint16_t)be16_at(b + 26);
    } else if (cmd == PP_CMD_PROXY && (fam >> 4) == PP_AF_INET6) {
        memcpy(r->src_ip, b + 16, 16);
        memcpy(r->dst_ip, b + 32, 16);
        r->src_port = (uint16_t)be16_at(b + 48);
        r->dst_port = (uint16_t)be16_at(b + 50);
    }
    if (total > 16 + block) {
        r->tlv_off = 16 + block;
        r->tlv_len = total - (16 + block);
    }
}

void ref_parse(ref_result *r, const uint8_t *buf, size_t len, size_t max_len,
               unsigned flags)
{
    memset(r, 0, sizeof *r);
    if (len == 0)
        return;
    /* A limit below the shortest header of the version the first byte
     * starts ("PROXY UNKNOWN\r\n", 15; v2, 16) is too long at once. */
    if (buf[0] == 'P' && max_len != 0 && max_len < 15)
        outcome(r, len, 1, PP_ERR_TOO_LONG);
    else if (buf[0] == '\r' && max_len != 0 && max_len < 16)
        outcome(r, len, 1, PP_ERR_TOO_LONG);
    else if (buf[0] == 'P')
        ref_v1(r, buf, len, max_len, flags);
    else if (buf[0] == '\r')
        ref_v2(r, buf, len, max_len, flags);
    else
        outcome(r, len, 1, PP_ERR_NOT_PROXY);
}
