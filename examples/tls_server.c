/*
 * tls_server - a PROXY header, then TLS on the same connection (OpenSSL).
 *
 *   tls_server ADDR PORT TIMEOUT_MS CERT.pem KEY.pem CIDR [CIDR ...]
 *
 * Behind a balancer in TCP mode (HAProxy "mode tcp" with send-proxy-v2,
 * an AWS NLB, ...), the server terminates TLS itself and the PROXY header
 * comes first, in clear, before the ClientHello. The header must be
 * consumed exactly: pp_recv_header() reads it and not one byte more, so
 * the ClientHello is still in the socket when SSL_accept() starts on the
 * same descriptor. (A server that read ahead into its own buffer would
 * have to give those bytes to OpenSSL through a BIO instead.)
 *
 * Per connection, one at a time: peers outside the CIDR list are closed
 * unread; the header must arrive within TIMEOUT_MS; then each read and
 * write of the TLS handshake and the request gets the same limit
 * (SO_RCVTIMEO/SO_SNDTIMEO; a server with many clients would rather keep
 * one deadline per connection). The answer to any HTTP request is a text body
 *   client ADDR:PORT sni NAME authority NAME
 * with the client address from the header, the SNI the client sent in its
 * ClientHello, and the AUTHORITY TLV when the balancer sent one ("-" for
 * those absent; bytes outside printable ASCII become '?': both come from
 * the network). The same line goes to standard output.
 */
#define _POSIX_C_SOURCE 200809L

#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pphdr.h"

#define MAX_TRUSTED 64

static void format_addr(const struct sockaddr_storage *ss, socklen_t len,
                        char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                 host, port);
}

/* Text from the network made safe to print: printable ASCII only, cut to
 * fit; "-" when absent or empty. */
static void printable(const void *text, size_t len, char *out, size_t cap)
{
    const uint8_t *p = text;
    size_t i;
    for (i = 0; i < len && i + 1 < cap; i++)
        out[i] = p[i] > 32 && p[i] < 127 ? (char)p[i] : '?';
    out[i] = '\0';
    if (i == 0)
        snprintf(out, cap, "-");
}

/* The TLS part: handshake, read the request head, answer, shut down. */
static void serve_tls(SSL_CTX *ctx, int fd, const char *client,
                      const pp_header *hdr)
{
    char req[4096], out[1024], auth[256], sni[256];
    const char *name;
    size_t have = 0;
    pp_bytes a = {NULL, 0};
    SSL *ssl;
    int n;

    ERR_clear_error(); /* nothing left over from the last connection */
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
        printf("error tls_handshake from %s\n", client);
        ERR_print_errors_fp(stderr);
        SSL_free(ssl); /* NULL is allowed */
        return;
    }
    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    printable(name, name != NULL ? strlen(name) : 0, sni, sizeof sni);
    if (!pp_authority(hdr, &a)) /* a stays empty when there is none */
        a.len = 0;
    printable(a.ptr, a.len, auth, sizeof auth);
    /* Read the request head (up to the blank line) before answering. */
    while (have < sizeof req - 1) {
        n = SSL_read(ssl, req + have, (int)(sizeof req - 1 - have));
        if (n <= 0) {
            printf("error tls_read from %s\n", client);
            ERR_print_errors_fp(stderr);
            SSL_free(ssl);
            return;
        }
        have += (size_t)n;
        req[have] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    n = snprintf(out, sizeof out,
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                 "Connection: close\r\n\r\nclient %s sni %s authority %s\n",
                 client, sni, auth);
    printf("client %s sni %s authority %s\n", client, sni, auth);
    if (n < 0 || SSL_write(ssl, out, n) != n)
        printf("error tls_write to %s\n", client);
    else
        SSL_shutdown(ssl); /* our close_notify; not waiting for theirs */
    SSL_free(ssl);
}

static void serve(SSL_CTX *ctx, int fd, const pp_trust *trusted, int timeout_ms)
{
    struct sockaddr_storage peer, client;
    socklen_t peer_len = sizeof peer, client_len;
    struct timeval tv;
    static uint8_t buf[4096];
    char who[160];
    pp_header hdr;
    int n;

    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) {
        perror("getpeername");
        return;
    }
    format_addr(&peer, peer_len, who, sizeof who);
    if (!pp_trust_match_sockaddr(trusted, (struct sockaddr *)&peer)) {
        printf("untrusted %s\n", who);
        return;
    }
    pp_header_init(&hdr);
    hdr.max_len = sizeof buf;
    n = pp_recv_header(fd, &hdr, buf, sizeof buf, timeout_ms);
    if (n < 0) {
        printf("error %s from %s\n", pp_status_name(n), who);
        return;
    }
    client = peer; /* LOCAL, UNKNOWN, UNIX: the peer stands for the client */
    client_len = peer_len;
    if (pp_has_addresses(&hdr) && hdr.family != PP_AF_UNIX &&
        pp_get_src(&hdr, &client, &client_len) != PP_OK) {
        printf("error no_source from %s\n", who);
        return;
    }
    format_addr(&client, client_len, who, sizeof who);
    /* The handshake must not hang forever either. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        perror("setsockopt");
        return;
    }
    serve_tls(ctx, fd, who, &hdr);
}

int main(int argc, char **argv)
{
    static pp_trust_entry storage[MAX_TRUSTED];
    struct addrinfo hints = {0}, *ai;
    pp_trust trusted;
    SSL_CTX *ctx;
    int lfd, i, one = 1;
    long timeout_ms;
    char *end;

    if (argc < 7 || (timeout_ms = strtol(argv[3], &end, 10)) <= 0 ||
        *end != '\0' || timeout_ms > 3600000) {
        fprintf(stderr,
                "usage: tls_server ADDR PORT TIMEOUT_MS CERT KEY CIDR...\n");
        return 2;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) { /* a write to a gone peer */
        perror("signal");
        return 1;
    }
    pp_trust_init(&trusted, storage, MAX_TRUSTED);
    for (i = 6; i < argc; i++) {
        int rc = pp_trust_add(&trusted, argv[i], strlen(argv[i]), NULL);
        if (rc != PP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], pp_strerror(rc));
            return 2;
        }
    }
    pp_trust_build(&trusted);

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[4]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return 1;
    }

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if ((i = getaddrinfo(argv[1], argv[2], &hints, &ai)) != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], gai_strerror(i));
        return 1;
    }
    lfd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(lfd, 64) != 0) {
        perror("listen");
        return 1; /* exiting closes everything */
    }
    freeaddrinfo(ai);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s port %s\n", argv[1], argv[2]);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            perror("accept");
            continue;
        }
        serve(ctx, fd, &trusted, (int)timeout_ms);
        if (close(fd) != 0)
            perror("close");
    }
}
