/*
 * ppproxy (main.c) - a TCP relay that terminates the PROXY protocol, built on pphdr.
 *
 * What it shows
 *   How a server behind a load balancer takes the PROXY protocol header
 *   (v1 text or v2 binary) off each connection without reading one byte
 *   past it, decides whether the peer may send one at all, and uses what
 *   it carries: the real client address for the log, optionally a fresh
 *   header for the server behind (v1 or v2, the received TLVs passed
 *   through, CRC32C recomputed), or, in http mode, X-Forwarded-For and
 *   friends for an HTTP backend that does not speak PROXY (with pphdr's
 *   trust table also for --forwarded-from and pp_ssl for https). Only the
 *   public API of pphdr.h is used:
 *     pp_trust_init/add/build, pp_trust_match_sockaddr   who may send one
 *     pp_recv_step          read exactly the header off a non-blocking socket
 *     pp_has_addresses, pp_get_src/dst, pp_header_from_sockaddr
 *     pp_authority, pp_alpn, pp_unique_id, pp_tlv_find   what it says
 *     pp_write_v1, pp_write_v2 (relay_tlvs, crc32c)      the header we send
 *     pp_status_name, pp_strerror                        why it failed
 *
 * Usage
 *   ppproxy --listen ADDR:PORT [--listen ADDR:PORT ...] --upstream HOST:PORT
 *           --trusted CIDR [--trusted CIDR ...] [--mode tcp|http]
 *           [--timeout MS] [--send-proxy none|v1|v2] [--max-conns N]
 *           [--workers N] [--log FILE|-] [--log-format text|json]
 *           [--connect-timeout MS] [--idle-timeout MS]
 *           [--max-proxy-header BYTES]
 *           http mode: [--forwarded-from CIDR ...] [--request-timeout MS]
 *           [--response-timeout MS] [--max-request-head BYTES]
 *           [--user NAME]
 *
 *   --listen ADDR:PORT   where to accept; ADDR is numeric: 127.0.0.1,
 *                        0.0.0.0, [::1], [::]. [::] is dual-stack: IPv4
 *                        clients arrive as ::ffff:a.b.c.d and match IPv4
 *                        --trusted entries. Repeatable; at least one.
 *   --upstream HOST:PORT the server to relay to (name or numeric address,
 *                        IPv6 in brackets), resolved once at start.
 *   --trusted CIDR       peers allowed to send a PROXY header, e.g.
 *                        10.0.0.0/8, 127.0.0.1, ::1/128. Repeatable; at
 *                        least one. Everybody else is closed at once.
 *   --mode tcp|http      tcp (default): relay bytes. http: HTTP/1.0 and
 *                        1.1 requests rewritten for an upstream that does
 *                        not speak PROXY (see "http mode" below).
 *   --timeout MS         time allowed to receive the whole header after
 *                        accept (default 50; 0 means 5000).
 *   --send-proxy MODE    header sent to the upstream: none (default), v1
 *                        or v2; in http mode before the first request.
 *   --connect-timeout MS upstream connect (default 3000); http: then 504.
 *   --idle-timeout MS    no request or response in progress and no byte
 *                        for MS: closed (default 60000 in http mode, 0 =
 *                        never, tcp mode's default). http: silence in the
 *                        middle of a transfer is bounded by
 *                        --response-timeout instead.
 *   --forwarded-from CIDR   http: hops whose forwarding chains are kept
 *                        and extended (repeatable; default none).
 *   --request-timeout MS    http: a request head within MS of its first
 *                        byte (default 10000), else 408.
 *   --response-timeout MS   http: from a request's end to its response's
 *                        first byte (default 60000), else 504.
 *   --max-request-head BYTES  http: request line and headers (default
 *                        65536, at most 1048576), else 414 / 431.
 *   --max-conns N        open connections at most, all workers together
 *                        (default 10000). Beyond it new connections are
 *                        accepted and closed at once (logged "max_conns"),
 *                        never queued.
 *   --workers N          threads, each with its own listening sockets
 *                        (SO_REUSEPORT) and epoll (default: online CPUs).
 *   --log FILE|-         one line per connection to FILE (appended), or
 *                        to standard output with - (default -).
 *   --log-format F       text (key=value, default) or json (one object
 *                        per line).
 *   --max-proxy-header BYTES
 *                        longest header accepted (default 4096, from 107
 *                        to 65551); longer ones are closed, logged
 *                        "too_long". Lowered on purpose from the v2 format's
 *                        65551: real headers are tens of bytes, and the
 *                        limit is the buffer a slow header may hold
 *                        (HAProxy accepts at most its buffer size either).
 *   --user NAME          once the sockets are bound and the log is open,
 *                        become NAME and its group, no supplementary
 *                        groups; exit rather than go on as root.
 *
 * Per connection
 *   1. accept(). A peer not in --trusted is closed at once: nothing read,
 *      the upstream never contacted; outcome "untrusted".
 *   2. A complete valid header (v1 or v2) must arrive within --timeout.
 *      pp_recv_step consumes exactly the header; the application bytes
 *      after it stay in the kernel. Missing, malformed, too slow, or the
 *      peer closing first: closed, outcome is pp_status_name() of the
 *      error ("not_proxy", "v1_address", "timeout", "closed", ...).
 *      LOCAL (v2) and UNKNOWN (v1) are accepted; the connection's own
 *      addresses then stand for client and destination.
 *   3. Non-blocking connect to the upstream at once (never waiting for
 *      client bytes), at most 3 s ("upstream_unreachable"). With
 *      --send-proxy, a header with the recovered client and destination
 *      goes first, in the same write as the client bytes already there;
 *      v2 relays the received TLVs and recomputes CRC32C when the received
 *      header had one.
 *   4. Relay both ways until both are closed: recv/send through the
 *      worker's 16 KiB buffer, and zero-copy splice(2) through a pipe for
 *      a direction that carries more than that (256 KiB when the kernel
 *      allows, else its default 64 KiB), so at most that much is in
 *      flight per direction. A half-close (FIN) is passed on with
 *      shutdown(SHUT_WR); a reset is passed on as a reset (SO_LINGER 0).
 *      Outcome "ok", or "client_error" / "upstream_error" when a side
 *      failed (reset).
 *   Each connection ends with one log line: time, client (recovered),
 *   dst, peer (the trusted sender), header version and command,
 *   authority / ALPN / unique-id when present, upstream, bytes_up (client
 *   to upstream), bytes_down, duration_ms, outcome, and detail (errno
 *   text) for failures.
 *
 * http mode (httpmode.c, http.c)
 *   Steps 3 and 4 differ: the upstream is dialled once the first complete,
 *   valid request head is in. Each head passes byte for byte but for the
 *   forwarding fields: incoming X-Forwarded-For, X-Real-IP, Forwarded,
 *   X-Forwarded-Proto and X-Forwarded-Port lines removed, five lines with
 *   the recovered client added at its end. Bodies stream through,
 *   responses come back unchanged; refused requests are answered with
 *   400, 501, 505, 414 or 431, and upstream failures with 502 or 504.
 *   One log line per request, before the connection's. An upstream that
 *   closes anyway and has answered every request is closed with a reset
 *   (SO_LINGER 0, as HAProxy does), which saves a FIN exchange.
 *
 * Signals: SIGTERM and SIGINT stop accepting; open connections get 5 s to
 * finish (then they are closed, outcome "shutdown") and ppproxy exits 0.
 * SIGPIPE is ignored. When descriptors run out, accept uses a reserved
 * descriptor to accept and close (outcome "no_fd"), or pauses listening
 * for 100 ms, so the CPU does not spin. The environment variable
 * PPPROXY_NO_SPLICE=1 keeps every connection on the recv/send relay (for
 * tests).
 *
 * Linux only (epoll, splice, accept4, SO_REUSEPORT).
 *
 * This file: the command line, the configuration (struct config cfg),
 * signals, starting the workers and stopping them. ppproxy.h says which
 * file does what.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ppproxy.h"
#ifdef PPPROXY_HTTP
#include "http.h"
#endif

struct config cfg;

void die(const char *fmt, ...)
{
    va_list ap;

    fputs("ppproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("ppproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'ppproxy --help'.\n", stderr);
    exit(2);
}

static void usage(void)
{
    static const char text[] =
        "Usage: ppproxy --listen ADDR:PORT [--listen ADDR:PORT ...]\n"
        "               --upstream HOST:PORT --trusted CIDR [--trusted CIDR "
        "...]\n"
        "               [--mode tcp|http] [--timeout MS] [--send-proxy "
        "none|v1|v2]\n"
        "               [--forwarded-from CIDR ...] [--request-timeout MS]\n"
        "               [--response-timeout MS] [--connect-timeout MS]\n"
        "               [--idle-timeout MS] [--max-request-head BYTES]\n"
        "               [--max-conns N] [--workers N] [--log FILE|-]\n"
        "               [--log-format text|json] [--max-proxy-header BYTES]\n"
        "               [--user NAME]\n"
        "\n"
        "Accept TCP connections that start with a PROXY protocol header (v1 or "
        "v2)\n"
        "from trusted peers, and relay them to the upstream (tcp mode), or "
        "pass\n"
        "their HTTP/1.x requests on with the client's address in "
        "X-Forwarded-For,\n"
        "X-Real-IP, X-Forwarded-Proto, X-Forwarded-Port and Forwarded (http "
        "mode).\n"
        "\n"
        "  --listen ADDR:PORT   address to accept on (required, repeatable); "
        "ADDR is\n"
        "                       numeric: 127.0.0.1, 0.0.0.0, [::1], [::] ([::] "
        "also\n"
        "                       accepts IPv4)\n"
        "  --upstream HOST:PORT server to relay to (required); IPv6 in "
        "brackets\n"
        "  --trusted CIDR       peer allowed to send a header (required, "
        "repeatable),\n"
        "                       e.g. 10.0.0.0/8, 192.0.2.7, ::1/128; other "
        "peers are\n"
        "                       closed at once\n"
        "  --mode MODE          tcp (default): relay bytes; http: HTTP/1.0 and "
        "1.1,\n"
        "                       rewritten per request (%s)\n"
        "  --timeout MS         time to receive the whole header (default %d;\n"
        "                       0 means %d)\n"
        "  --send-proxy MODE    header sent to the upstream: none, v1 or v2\n"
        "                       (default none); v2 passes the received TLVs "
        "on;\n"
        "                       in http mode it goes before the requests\n"
        "  --forwarded-from CIDR  http: clients (CDN edges) whose "
        "X-Forwarded-For,\n"
        "                       Forwarded, X-Forwarded-Proto/-Port are "
        "extended\n"
        "                       instead of replaced (repeatable; default "
        "none)\n"
        "  --request-timeout MS http: a whole request head within MS of its "
        "first\n"
        "                       byte, else 408 (default %d)\n"
        "  --response-timeout MS  http: from the end of a request to the "
        "first\n"
        "                       byte of its response, else 504 (default %d)\n"
        "  --connect-timeout MS upstream connect, both modes (default %d)\n"
        "  --idle-timeout MS    nothing in progress and no byte for MS: close\n"
        "                       (default %d in http mode; 0 = never, tcp's "
        "default);\n"
        "                       http: silence mid-transfer is bounded by\n"
        "                       --response-timeout\n"
        "  --max-request-head BYTES  http: request line and headers as "
        "received\n"
        "                       (default %d, at most %d); longer: 414 or 431\n"
        "  --max-conns N        open connections at most (default %d); beyond "
        "it\n"
        "                       new connections are accepted and closed at "
        "once\n"
        "  --workers N          worker threads (default: number of CPUs, here "
        "%ld)\n"
        "  --log FILE|-         connection log, appended to FILE, or standard "
        "output\n"
        "                       with - (default -)\n"
        "  --log-format F       text (key=value) or json, one line per "
        "connection\n"
        "                       and, in http mode, one per request (default "
        "text)\n"
        "  --max-proxy-header BYTES\n"
        "                       longest PROXY header accepted (default %d, at "
        "least\n"
        "                       107, at most 65551); longer ones are closed "
        "and\n"
        "                       logged too_long. Lowered on purpose from "
        "65551:\n"
        "                       real headers are tens of bytes (HAProxy "
        "accepts at\n"
        "                       most its buffer size)\n"
        "  --user NAME          after binding, run as user NAME and its group, "
        "no\n"
        "                       supplementary groups; exit if that fails\n"
        "  --help               show this help and exit\n"
        "\n"
        "Fixed: %d s grace for open connections after SIGTERM or SIGINT, then\n"
        "exit 0.\n";

    printf(text,
#ifdef PPPROXY_HTTP
           "built in",
#else
           "not built in",
#endif
           DEFAULT_TIMEOUT_MS, ZERO_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS,
           DEFAULT_RESPONSE_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS,
           DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_REQUEST_HEAD,
           MAX_REQUEST_HEAD_LIMIT, DEFAULT_MAX_CONNS,
           sysconf(_SC_NPROCESSORS_ONLN), DEFAULT_MAX_HEADER, GRACE_MS / 1000);
}

static long parse_number(const char *opt, const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min ||
        v > max)
        usage_error("%s '%s': expected a number from %ld to %ld", opt, s, min,
                    max);
    return v;
}

/* "ADDR:PORT" or "[ADDR]:PORT" -> host text (brackets removed) and port
 * text, both pointing into buf. */
static int split_host_port(const char *text, char *buf, size_t cap, char **host,
                           char **port)
{
    char *colon;

    if (strlen(text) >= cap)
        return -1;
    strcpy(buf, text);
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        *close = '\0';
        *host = buf + 1;
        *port = close + 2;
        return 0;
    }
    colon = strrchr(buf, ':');
    if (colon == NULL || strchr(buf, ':') != colon)
        return -1;
    *colon = '\0';
    *host = buf;
    *port = colon + 1;
    return 0;
}

static void add_listen(const char *text)
{
    char buf[256];
    char *host, *port;
    struct listen_addr *la;
    long p;

    if (cfg.nlisten == MAX_LISTEN)
        usage_error("at most %d --listen addresses", MAX_LISTEN);
    la = &cfg.listen[cfg.nlisten];
    if (split_host_port(text, buf, sizeof buf, &host, &port) < 0)
        usage_error("--listen '%s': expected ADDR:PORT or [ADDR]:PORT", text);
    p = parse_number("--listen port", port, 1, 65535);
    memset(la, 0, sizeof *la);
    if (text[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&la->ss;

        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            usage_error("--listen '%s': bad IPv6 address", text);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
        la->len = sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&la->ss;

        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            usage_error("--listen '%s': bad IPv4 address (IPv6 goes in "
                        "brackets)",
                        text);
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)p);
        la->len = sizeof *in;
    }
    la->text = text;
    cfg.nlisten++;
}

static void set_upstream(const char *text)
{
    char buf[512];
    char *host, *port;
    struct addrinfo hints, *res;
    int rc;

    if (split_host_port(text, buf, sizeof buf, &host, &port) < 0)
        usage_error("--upstream '%s': expected HOST:PORT or [ADDR]:PORT", text);
    parse_number("--upstream port", port, 1, 65535);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        usage_error("--upstream '%s': %s", text, gai_strerror(rc));
    memcpy(&cfg.upstream, res->ai_addr, res->ai_addrlen);
    cfg.upstream_len = res->ai_addrlen;
    cfg.upstream_text = text;
    freeaddrinfo(res);
}

/* A trust table from the values of one option (--trusted,
 * --forwarded-from). */
static void build_trust(pp_trust *t, const char *opt, const char **cidrs,
                        size_t n)
{
    pp_trust_entry *storage = calloc(n > 0 ? n : 1, sizeof *storage);
    size_t i;

    if (storage == NULL)
        die("out of memory");
    pp_trust_init(t, storage, n);
    for (i = 0; i < n; i++) {
        int host_bits = 0;
        int rc = pp_trust_add(t, cidrs[i], strlen(cidrs[i]), &host_bits);

        if (rc != PP_OK)
            usage_error("%s '%s': %s", opt, cidrs[i], pp_strerror(rc));
        if (host_bits)
            fprintf(stderr,
                    "ppproxy: warning: %s '%s' has host bits "
                    "set below its prefix; they are ignored\n",
                    opt, cidrs[i]);
    }
    pp_trust_build(t);
}

static const char *run_as_user; /* --user NAME, or NULL */

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'},
        {"trusted", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"send-proxy", required_argument, NULL, 's'},
        {"max-conns", required_argument, NULL, 'm'},
        {"max-proxy-header", required_argument, NULL, 'H'},
        {"workers", required_argument, NULL, 'w'},
        {"log", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'f'},
        {"user", required_argument, NULL, 'U'},
        {"mode", required_argument, NULL, 'M'},
        {"forwarded-from", required_argument, NULL, 'F'},
        {"request-timeout", required_argument, NULL, 'R'},
        {"response-timeout", required_argument, NULL, 'P'},
        {"connect-timeout", required_argument, NULL, 'C'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"max-request-head", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char **cidrs = calloc((size_t)argc + 1, sizeof *cidrs);
    const char **fwd = calloc((size_t)argc + 1, sizeof *fwd);
    size_t ncidrs = 0, nfwd = 0;
    int idle = -1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int opt;

    if (cidrs == NULL || fwd == NULL)
        die("out of memory");
    cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
    cfg.max_header = DEFAULT_MAX_HEADER;
    cfg.max_conns = DEFAULT_MAX_CONNS;
    cfg.workers = (int)(cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus);
    cfg.log_path = "-";
    cfg.mode = &mode_tcp;
    cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    cfg.request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
    cfg.response_timeout_ms = DEFAULT_RESPONSE_TIMEOUT_MS;
    cfg.max_request_head = DEFAULT_MAX_REQUEST_HEAD;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            add_listen(optarg);
            break;
        case 'u':
            set_upstream(optarg);
            break;
        case 't':
            cidrs[ncidrs++] = optarg;
            break;
        case 'T':
            cfg.timeout_ms = (int)parse_number("--timeout", optarg, 0, 3600000);
            if (cfg.timeout_ms == 0)
                cfg.timeout_ms = ZERO_TIMEOUT_MS;
            break;
        case 's':
            if (strcmp(optarg, "none") == 0)
                cfg.send = SEND_NONE;
            else if (strcmp(optarg, "v1") == 0)
                cfg.send = SEND_V1;
            else if (strcmp(optarg, "v2") == 0)
                cfg.send = SEND_V2;
            else
                usage_error("--send-proxy '%s': expected none, v1 or v2",
                            optarg);
            break;
        case 'H':
            cfg.max_header = (size_t)parse_number("--max-proxy-header", optarg,
                                                  PP_V1_MAX_LEN, PP_V2_MAX_LEN);
            break;
        case 'm':
            cfg.max_conns = parse_number("--max-conns", optarg, 1, 10000000);
            break;
        case 'w':
            cfg.workers =
                (int)parse_number("--workers", optarg, 1, MAX_WORKERS);
            break;
        case 'L':
            cfg.log_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                cfg.log_json = 0;
            else if (strcmp(optarg, "json") == 0)
                cfg.log_json = 1;
            else
                usage_error("--log-format '%s': expected text or json", optarg);
            break;
        case 'U':
            run_as_user = optarg;
            break;
        case 'M':
            if (strcmp(optarg, "tcp") == 0)
                cfg.mode = &mode_tcp;
#ifdef PPPROXY_HTTP
            else if (strcmp(optarg, "http") == 0)
                cfg.mode = &mode_http;
#else
            else if (strcmp(optarg, "http") == 0)
                usage_error("--mode http: this ppproxy was built without "
                            "it (meson -Dhttp=enabled, needs http_parser)");
#endif
            else
                usage_error("--mode '%s': expected tcp or http", optarg);
            break;
        case 'F':
            fwd[nfwd++] = optarg;
            break;
        case 'R':
            cfg.request_timeout_ms =
                (int)parse_number("--request-timeout", optarg, 1, 3600000);
            break;
        case 'P':
            cfg.response_timeout_ms =
                (int)parse_number("--response-timeout", optarg, 1, 3600000);
            break;
        case 'C':
            cfg.connect_timeout_ms =
                (int)parse_number("--connect-timeout", optarg, 1, 3600000);
            break;
        case 'I':
            idle = (int)parse_number("--idle-timeout", optarg, 0, 86400000);
            break;
        case 'Q':
            cfg.max_request_head = (size_t)parse_number(
                "--max-request-head", optarg, 1, MAX_REQUEST_HEAD_LIMIT);
            break;
        case 'h':
            usage();
            exit(0);
        default:
            usage_error("bad option");
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (cfg.nlisten == 0)
        usage_error("--listen is required");
    if (cfg.upstream_text == NULL)
        usage_error("--upstream is required");
    if (ncidrs == 0)
        usage_error("--trusted is required (the peers that may send a "
                    "PROXY header)");
    build_trust(&cfg.trust, "--trusted", cidrs, ncidrs);
    build_trust(&cfg.forwarded, "--forwarded-from", fwd, nfwd);
    free(cidrs);
    free(fwd);
    /* --idle-timeout: default 60 s in http mode, never in tcp mode. */
    cfg.idle_timeout_ms = idle >= 0 ? idle
        : cfg.mode == &mode_tcp     ? 0
                                    : DEFAULT_IDLE_TIMEOUT_MS;
}

/* Each connection may hold 6 descriptors (2 sockets, 2 pipes). */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* --user NAME: called once the listening sockets are bound and the log is
 * open, before any thread starts. Groups first (setgroups and setgid need
 * root), the user last; then make sure root cannot be had back. Any
 * failure ends the program: it never goes on as root after asking not to. */
static void drop_privileges(const char *name)
{
    struct passwd *pw;

    errno = 0;
    pw = getpwnam(name);
    if (pw == NULL)
        die("--user %s: %s", name, errno ? strerror(errno) : "no such user");
    if (geteuid() != 0) {
        if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid &&
            getgid() == pw->pw_gid && getegid() == pw->pw_gid)
            return; /* already that user: nothing to drop */
        die("--user %s: only root can switch users", name);
    }
    if (setgroups(0, NULL) != 0)
        die("--user %s: setgroups: %s", name, strerror(errno));
    if (setgid(pw->pw_gid) != 0)
        die("--user %s: setgid: %s", name, strerror(errno));
    if (setuid(pw->pw_uid) != 0)
        die("--user %s: setuid: %s", name, strerror(errno));
    if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
        getgid() != pw->pw_gid || getegid() != pw->pw_gid)
        die("--user %s: the switch did not take", name);
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        die("--user %s: root could be regained", name);
    fprintf(stderr, "ppproxy: running as %s (uid %lu, gid %lu)\n", name,
            (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
}

int main(int argc, char **argv)
{
    static struct worker workers[MAX_WORKERS];
    sigset_t stop;
    int sig, i;
    const char *no_splice = getenv("PPPROXY_NO_SPLICE");

    parse_args(argc, argv);
#ifdef PPPROXY_HTTP
    hx_global_init();
#endif
    cfg.no_splice = no_splice != NULL && strcmp(no_splice, "1") == 0;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    log_open(cfg.log_path);

    /* Workers inherit a mask that blocks the stop signals; only this
     * thread takes them, with sigwait. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    for (i = 0; i < cfg.workers; i++)
        worker_init(&workers[i], i);
    if (run_as_user != NULL)
        drop_privileges(run_as_user);
    for (i = 0; i < cfg.workers; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main,
                           &workers[i]) != 0)
            die("pthread_create failed");
    fprintf(stderr,
            "ppproxy: %d workers, mode %s, upstream %s, send-proxy %s\n",
            cfg.workers, cfg.mode->name, cfg.upstream_text,
            cfg.send == SEND_V1       ? "v1"
                : cfg.send == SEND_V2 ? "v2"
                                      : "none");

    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "ppproxy: signal %d, draining (at most %d s)\n", sig,
            GRACE_MS / 1000);
    for (i = 0; i < cfg.workers; i++) {
        uint64_t one = 1;

        if (write(workers[i].wake.fd, &one, sizeof one) < 0)
            die("eventfd: %s", strerror(errno));
    }
    for (i = 0; i < cfg.workers; i++) {
        pthread_join(workers[i].thread, NULL);
        worker_destroy(&workers[i]);
    }
    free(cfg.trust.entries);
    free(cfg.forwarded.entries);
    fprintf(stderr, "ppproxy: stopped\n");
    return 0;
}
