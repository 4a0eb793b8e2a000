/*
 * ppdump - decode the PROXY protocol header at the start of some bytes.
 *
 * This sample shows how a receiver uses pphdr's parser: it hands all the
 * bytes it has to pp_parse() as if they had arrived on a connection, and
 * gets one of three answers: a complete header (its length; what follows
 * is application data), "incomplete" (a valid prefix; pp_expected_len()
 * tells how many bytes the header needs once that is known), or an error
 * (pp_status_name() / pp_strerror() describe it). For a complete header it
 * prints what an application would use: the version, command, family and
 * transport, the addresses only when pp_has_addresses() says they should
 * replace the connection's own, and every TLV in wire order, decoded with
 * the typed accessors (pp_alpn(), pp_ssl(), pp_aws_vpce_id(), ...).
 *
 * Usage:
 *
 *   ppdump [--hex] [FILE]
 *
 * FILE (or standard input when absent or "-") holds the bytes, binary; with
 * --hex it holds them as hex text instead (whitespace between digits is
 * ignored; any other character or an odd number of digits is refused).
 * Only the first 16 + 65535 bytes are read: the longest possible header
 * ends within them, so later bytes cannot change the answer.
 *
 * Output: exactly one JSON object on one line (see ppdump_render.h):
 *
 *   {"result":"ok","consumed":N,"version":1|2,"command":"PROXY"|"LOCAL",
 *    "family":F,"src":...,"sport":N,"dst":...,"dport":N,
 *    "tlvs":[{"type":N,"name":...,"hex":...}, ...]}
 *   {"result":"incomplete"}  or  {"result":"incomplete","need":N}
 *   {"result":"error","error":"v1_address","message":"..."}
 *
 * F is TCP4, TCP6, UDP4, UDP6, UNIX, UNIX_DGRAM or UNSPEC for v2 (taken from
 * the family/transport byte, also for LOCAL) and TCP4, TCP6 or UNKNOWN for
 * v1. Addresses are left out when the header carries none to use (LOCAL,
 * UNSPEC, v1 UNKNOWN) and ports are left out for UNIX. IPv6 is written in
 * RFC 5952 form, UNIX addresses as the path up to its first NUL. Known TLVs
 * get a "name" and, when the library's accessor accepts them, decoded keys
 * (each TLV on its own, so a repeated type is decoded every time):
 * "text" (ALPN, AUTHORITY, NETNS), "client"/"verify"/"sub" (SSL),
 * "vpce_id" (AWS), "linkid" (Azure) and "psc_id" (GCP; a JSON number up to
 * 2^53, a decimal string above). Strings are escaped byte by byte (\u00XX
 * for controls, DEL and bytes >= 0x80), so the output is ASCII.
 *
 * Exit status: 0 for "ok", 2 for "incomplete", 1 for "error"; also 1, with
 * a message on standard error and no JSON, when ppdump itself fails (bad
 * option, unreadable file, invalid hex text, write error).
 *
 * Examples:
 *
 *   printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET /' | ppdump
 *   echo 0d0a0d0a000d0a515549540a 2111 000c c0000201 c6336407 dc04 01bb |
 *       ppdump --hex
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

#include "pphdr.h"
#include "ppdump_render.h"

/* The longest header is a v2 one: 16 bytes plus a 65535-byte payload. */
#define INPUT_CAP ((size_t)PP_V2_MAX_LEN)

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_INCOMPLETE = 2 };

static const char usage_text[] =
    "usage: ppdump [--hex] [FILE]\n"
    "\n"
    "Parse the PROXY protocol header (v1 or v2) at the start of FILE, or of\n"
    "standard input when FILE is absent or \"-\", and print the result as\n"
    "one JSON object on one line.\n"
    "\n"
    "  --hex       the input is hex text; whitespace is ignored, any other\n"
    "              character or an odd number of digits is an error\n"
    "  -h, --help  print this help and exit\n"
    "  --          what follows is FILE, even if it starts with '-'\n"
    "\n"
    "Exit status:\n"
    "  0  a complete header was parsed     {\"result\":\"ok\",...}\n"
    "  2  the input is only a valid prefix {\"result\":\"incomplete\",...}\n"
    "  1  the input is not a valid header  {\"result\":\"error\",...}\n"
    "  1  usage or I/O error (bad option, unreadable file, invalid hex\n"
    "     text): a message on standard error and no JSON\n";

/* Where the input comes from and what has been read of it. */
struct input {
    const char *name; /* for messages */
    FILE *fp;
    unsigned char *buf;
    size_t len; /* bytes stored in buf, at most INPUT_CAP */
};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "ppdump: %s: %s\n", what, detail);
}

/* Binary input: the first INPUT_CAP bytes. 0 or -1 after a message. */
static int read_binary(struct input *in)
{
    while (in->len < INPUT_CAP) {
        size_t got = fread(in->buf + in->len, 1, INPUT_CAP - in->len, in->fp);
        if (got == 0)
            break;
        in->len += got;
    }
    if (ferror(in->fp)) {
        fail(in->name, strerror(errno));
        return -1;
    }
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_hex_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f';
}

/* Hex input: the whole text is checked, its first INPUT_CAP bytes kept.
 * 0 or -1 after a message. */
static int read_hex(struct input *in)
{
    unsigned long offset = 0; /* of the character being read */
    unsigned long digits = 0;
    int high = 0;
    int c;

    for (; (c = getc(in->fp)) != EOF; offset++) {
        int v = hex_value(c);
        if (v < 0) {
            char msg[96];
            if (is_hex_space(c))
                continue;
            if (c >= 0x20 && c < 0x7f)
                snprintf(msg, sizeof msg,
                         "invalid character '%c' at "
                         "offset %lu of the hex text",
                         c, offset);
            else
                snprintf(msg, sizeof msg,
                         "invalid byte 0x%02x at offset "
                         "%lu of the hex text",
                         (unsigned)c, offset);
            fail(in->name, msg);
            return -1;
        }
        if (digits % 2 == 0) {
            high = v;
        } else if (in->len < INPUT_CAP) {
            in->buf[in->len++] = (unsigned char)(high << 4 | v);
        }
        digits++;
    }
    if (ferror(in->fp)) {
        fail(in->name, strerror(errno));
        return -1;
    }
    if (digits % 2 != 0) {
        fail(in->name, "odd number of hex digits");
        return -1;
    }
    return 0;
}

/* Parse, render and print. Returns the exit status. */
static int dump(const unsigned char *buf, size_t len)
{
    pp_header hdr;
    int result;
    size_t need;
    char *json;

    pp_header_init(&hdr);
    result = pp_parse(&hdr, buf, len);

    /* Measure, then render into a buffer of exactly that size. */
    need = ppdump_render_json(NULL, 0, result, &hdr, buf, len);
    json = malloc(need + 1);
    if (json == NULL) {
        fail("render", "out of memory");
        return EXIT_ERROR;
    }
    ppdump_render_json(json, need + 1, result, &hdr, buf, len);
    if (fwrite(json, 1, need, stdout) != need || putchar('\n') == EOF ||
        fflush(stdout) != 0) {
        fail("standard output", strerror(errno));
        free(json);
        return EXIT_ERROR;
    }
    free(json);

    if (result > 0)
        return EXIT_OK;
    return result == PP_INCOMPLETE ? EXIT_INCOMPLETE : EXIT_ERROR;
}

int main(int argc, char **argv)
{
    static unsigned char storage[INPUT_CAP];
    struct input in;
    const char *path = NULL;
    int hex = 0, options_done = 0, i, rc;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (!options_done && strcmp(arg, "--hex") == 0) {
            hex = 1;
        } else if (!options_done &&
                   (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr,
                    "ppdump: unknown option '%s'\n"
                    "Try 'ppdump --help'.\n",
                    arg);
            return EXIT_ERROR;
        } else if (path == NULL) {
            path = arg;
        } else {
            fprintf(stderr,
                    "ppdump: more than one FILE given\n"
                    "Try 'ppdump --help'.\n");
            return EXIT_ERROR;
        }
    }

#ifdef _WIN32
    /* Bytes as they are: a CR LF read is data, and a line ends in LF. */
    (void)_setmode(_fileno(stdin), _O_BINARY);
    (void)_setmode(_fileno(stdout), _O_BINARY);
#endif
    in.buf = storage;
    in.len = 0;
    if (path == NULL || strcmp(path, "-") == 0) {
        in.name = "standard input";
        in.fp = stdin;
    } else {
        in.name = path;
        in.fp = fopen(path, "rb");
        if (in.fp == NULL) {
            fail(path, strerror(errno));
            return EXIT_ERROR;
        }
    }

    rc = hex ? read_hex(&in) : read_binary(&in);
    if (in.fp != stdin)
        fclose(in.fp);
    if (rc != 0)
        return EXIT_ERROR;
    return dump(in.buf, in.len);
}
