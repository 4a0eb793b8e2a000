/*
 * hello_server - the smallest complete use of pphdr: a blocking TCP server
 * that reads a PROXY header off each connection and tells the client who
 * it is. Copy this to start.
 *
 *   hello_server ADDR PORT TIMEOUT_MS CIDR [CIDR ...]
 *
 * Each CIDR (e.g. 10.0.0.0/8, ::1) is a balancer allowed to send a PROXY
 * header. Per connection, one at a time:
 *   1. a peer outside the trust table is closed at once, nothing read (a
 *      client that could send its own header could claim any address);
 *   2. pp_recv_header() reads exactly the header (v1 or v2) within
 *      TIMEOUT_MS: "incomplete" is not an error until the deadline, and the
 *      first application byte stays in the socket for the code that follows;
 *   3. the reply is "client ADDR:PORT\n" with the address the header
 *      carries (LOCAL and UNKNOWN headers, as health checks send, mean
 *      "use the connection's own peer"), or "error NAME\n" with the
 *      pp_status_name() of what went wrong; then the connection is closed.
 * One line per connection also goes to standard output.
 * A real server would hand the socket to its protocol code after step 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pphdr.h"

#define MAX_TRUSTED 64

/* "1.2.3.4:80", "[2001:db8::1]:80" or "unix:PATH" into out. */
static void format_addr(const struct sockaddr_storage *ss, socklen_t len,
                        char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN], port[8];

    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        size_t n = strnlen(un->sun_path, sizeof un->sun_path);
        snprintf(out, cap, "unix:%.*s", (int)n, un->sun_path);
    } else if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host,
                           port, sizeof port,
                           NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, cap, "?");
    } else if (ss->ss_family == AF_INET6) {
        snprintf(out, cap, "[%s]:%s", host, port);
    } else {
        snprintf(out, cap, "%s:%s", host, port);
    }
}

/* Send all of text; errors are ignored because the connection is closed
 * right after anyway. */
static void reply(int fd, const char *text)
{
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = send(fd, text + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += (size_t)n;
    }
}

static void serve(int fd, const pp_trust *trusted, int timeout_ms)
{
    struct sockaddr_storage peer, client;
    socklen_t peer_len = sizeof peer, client_len;
    char who[160], line[200];
    /* The largest header this server accepts; 4096 is plenty for what
     * balancers send, and hdr.max_len below says so to the parser. */
    static uint8_t buf[4096];
    pp_header hdr;
    int n;

    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) {
        perror("getpeername");
        return;
    }
    format_addr(&peer, peer_len, who, sizeof who);
    if (!pp_trust_match_sockaddr(trusted, (struct sockaddr *)&peer)) {
        printf("untrusted %s\n", who);
        return; /* closed by the caller, not a byte read */
    }

    pp_header_init(&hdr);
    hdr.max_len = sizeof buf;
    n = pp_recv_header(fd, &hdr, buf, sizeof buf, timeout_ms);
    if (n < 0) {
        printf("error %s from %s\n", pp_status_name(n), who);
        snprintf(line, sizeof line, "error %s\n", pp_status_name(n));
        reply(fd, line);
        return;
    }

    /* Exactly n bytes were consumed: the application's bytes are still in
     * the socket. Addresses only when the header carries some. */
    client = peer;
    client_len = peer_len;
    if (pp_has_addresses(&hdr) &&
        pp_get_src(&hdr, &client, &client_len) != PP_OK) {
        printf("error no source address from %s\n", who);
        return;
    }
    format_addr(&client, client_len, who, sizeof who);
    printf("client %s v%u\n", who, (unsigned)hdr.version);
    snprintf(line, sizeof line, "client %s\n", who);
    reply(fd, line);
}

/* A listening TCP socket on numeric ADDR and PORT, or -1. */
static int listen_on(const char *addr, const char *port)
{
    struct addrinfo hints, *ai;
    int fd, one = 1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(addr, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", addr, port, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        perror("listen");
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int main(int argc, char **argv)
{
    static pp_trust_entry storage[MAX_TRUSTED];
    pp_trust trusted;
    int lfd, i;
    long timeout_ms;
    char *end;

    if (argc < 5 || (timeout_ms = strtol(argv[3], &end, 10)) <= 0 ||
        *end != '\0' || timeout_ms > 3600000) {
        fprintf(stderr, "usage: hello_server ADDR PORT TIMEOUT_MS CIDR...\n");
        return 2;
    }
    pp_trust_init(&trusted, storage, MAX_TRUSTED);
    for (i = 4; i < argc; i++) {
        int rc = pp_trust_add(&trusted, argv[i], strlen(argv[i]), NULL);
        if (rc != PP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], pp_strerror(rc));
            return 2;
        }
    }
    pp_trust_build(&trusted);

    lfd = listen_on(argv[1], argv[2]);
    if (lfd < 0)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s port %s\n", argv[1], argv[2]);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            perror("accept");
            continue; /* e.g. ECONNABORTED, EMFILE: keep serving */
        }
        serve(fd, &trusted, (int)timeout_ms);
        if (close(fd) != 0)
            perror("close");
    }
}
