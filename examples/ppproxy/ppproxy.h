/*
 * ppproxy.h - what the files of ppproxy share: limits, the configuration,
 * the connection and worker structures, and each file's entry points.
 *
 * The files, one concern each:
 *   main.c    command line, configuration, signals, start and stop
 *   worker.c  workers: event loop, timers, accepting, the connection's
 *             lifecycle (accept, header, upstream dial, mode, close)
 *   header.c  the PROXY header phase: who may send one, pp_recv_step,
 *             what the header says, the header sent upstream
 *   relay.c   the tcp mode: relay bytes both ways
 *   httpmode.c  the http mode (--mode http): buffers, timers, errors
 *   http.c    the http mode's HTTP/1.x module (http.h): heads checked and
 *             rewritten, bodies and responses framed; the only file that
 *             knows http_parser
 *   log.c     one log line per connection (http mode: and per request)
 *
 * A connection's life (worker.c drives it):
 *   accept -> header_admit (trust) -> ST_HEADER: header_step until the
 *   header is in -> cfg.mode->start(c). From then on the mode owns the
 *   connection (ST_MODE): it may dial the upstream at once (tcp) or later
 *   (upstream_dial), gets every event of both sockets through
 *   mode->event, and ends it with conn_close. worker.c calls
 *   mode->upstream_ready once the upstream is connected; the mode sends
 *   the PROXY header for it (--send-proxy, c->out) first. Modes with
 *   timers of their own (http) get them through mode->timeout, and may
 *   answer an unreachable upstream (mode->upstream_failed).
 * Both sockets are registered once, edge-triggered, for both directions:
 * a mode remembers what the edges said and reads until EAGAIN (or a short
 * read) before it waits again. Where the work can be done at once it is:
 * the header is tried at accept, and the upstream is looked at right after
 * connect() (a near one is often connected by then).
 */
#ifndef PPPROXY_H
#define PPPROXY_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "pphdr.h"

/* ------------------------------------------------------------------------
 * Limits
 * ---------------------------------------------------------------------- */
#define DEFAULT_TIMEOUT_MS 50
#define ZERO_TIMEOUT_MS 5000              /* what --timeout 0 means */
#define DEFAULT_CONNECT_TIMEOUT_MS 3000   /* --connect-timeout */
#define DEFAULT_REQUEST_TIMEOUT_MS 10000  /* --request-timeout */
#define DEFAULT_RESPONSE_TIMEOUT_MS 60000 /* --response-timeout */
#define DEFAULT_IDLE_TIMEOUT_MS 60000     /* --idle-timeout, http mode */
#define DEFAULT_MAX_REQUEST_HEAD 65536    /* --max-request-head */
#define MAX_REQUEST_HEAD_LIMIT 1048576
#define GRACE_MS 5000 /* after SIGTERM/SIGINT */
#define DEFAULT_MAX_CONNS 10000
#define MAX_LISTEN 16
#define MAX_WORKERS 256
#define ACCEPT_BATCH 64 /* accepts per listener wake-up */
#define EVENT_BATCH 256
#define PUMP_BUDGET (1024 * 1024)    /* bytes per direction per turn */
#define PIPE_SIZE (256 * 1024)       /* asked for; the kernel may give less */
#define RELAY_BUF 16384              /* per direction without splice */
#define DEFAULT_MAX_HEADER 4096      /* --max-proxy-header */
#define OUT_CAP (PP_V2_MAX_LEN + 64) /* the longest header we send */
#define OUT_INLINE 56 /* v2 TCP6, v1 TCP4: no malloc; longer ones get one */
#define LOG_BUF 65536 /* a worker's log lines, one write a turn */
#define TEXT_MAX 256  /* logged TLV text, longer is cut */
#define ADDR_TEXT 72  /* "[v6]:port", or "unix:" and 64 bytes */
#define LOG_LINE 8192 /* fits every field escaped */
#define LISTEN_PAUSE_MS 100

/* ------------------------------------------------------------------------
 * Configuration: filled by main.c, read-only once workers run.
 * ---------------------------------------------------------------------- */
enum send_mode { SEND_NONE, SEND_V1, SEND_V2 };

struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    const char *text;
};

struct mode;

struct config {
    struct listen_addr listen[MAX_LISTEN];
    size_t nlisten;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    const char *upstream_text;
    pp_trust trust;
    int timeout_ms;
    enum send_mode send;
    long max_conns;
    int workers;
    const char *log_path;
    int log_json;
    int no_splice;
    size_t max_header;       /* --max-proxy-header: pp_header.max_len */
    const struct mode *mode; /* what follows the header */
    int connect_timeout_ms;  /* --connect-timeout, both modes */
    /* http mode (httpmode.c) */
    int request_timeout_ms, response_timeout_ms, idle_timeout_ms;
    size_t max_request_head;
    pp_trust forwarded; /* --forwarded-from; count 0 when none */
};

extern struct config cfg;

/* ------------------------------------------------------------------------
 * Connections and workers
 * ---------------------------------------------------------------------- */
enum ep_kind { EP_LISTENER, EP_WAKE, EP_CLIENT, EP_UPSTREAM };

struct conn;

/* What epoll hands back: which descriptor of which connection. */
struct endpoint {
    enum ep_kind kind;
    int fd;
    struct conn *conn;
};

/* One direction of the tcp relay (relay.c): src -> worker buffer -> dst,
 * or src -> pipe -> dst once it carries bulk. */
struct flow {
    int src, dst;
    int pipe_r, pipe_w;     /* -1 until splicing */
    size_t room;            /* capacity of the pipe */
    char *stash;            /* bytes dst did not take yet; NULL when none */
    size_t off;             /* stash: first byte not yet written */
    size_t pending;         /* in the stash (or the pipe), not yet written */
    size_t uncounted;       /* bytes of our own header still to go */
    uint64_t bytes;         /* written to dst */
    unsigned src_ready : 1; /* src may have bytes (edge seen, not drained) */
    unsigned src_hup : 1;   /* src's peer closed or reset: read to the end */
    unsigned dst_ready : 1; /* dst may take bytes */
    unsigned src_eof : 1;
    unsigned dst_shut : 1;
    unsigned no_splice : 1; /* splice failed for it: keep copying */
    int err;                /* errno of the failure */
};

/* Everything the log line says about one connection. */
struct text {
    char s[TEXT_MAX];
    size_t len;
    int present;
};

enum { TLV_AUTHORITY, TLV_ALPN, TLV_UNIQUE_ID, TLV_TEXTS };

struct loginfo {
    int64_t started;        /* monotonic ms at accept */
    char peer[ADDR_TEXT];   /* the trusted sender, as accepted */
    char client[ADDR_TEXT]; /* recovered client; "" until known */
    char dst[ADDR_TEXT];    /* recovered destination; "" until known */
    int version;            /* 0 until a header was parsed */
    const char *command;
    struct text *tlv; /* [TLV_TEXTS]; NULL when the header had none */
    int upstream_used;
    uint64_t bytes_up, bytes_down;
};

/* ST_HEADER: worker.c and header.c read the PROXY header. ST_MODE: the
 * mode (cfg.mode) owns the connection. */
enum conn_state { ST_HEADER, ST_MODE };

/* The timer queues of a worker. Each queue holds connections waiting for
 * the same fixed delay, in deadline order, so its head is always the next
 * to expire; a connection is in at most one queue. A mode with timeouts of
 * its own adds a queue here and its expiry to timer_expire (worker.c). */
enum timer_kind {
    TIMER_HEADER,
    TIMER_CONNECT,
    TIMER_REQUEST,  /* http: --request-timeout, from a head's first byte */
    TIMER_RESPONSE, /* http: --response-timeout, to a response's first byte */
    TIMER_IDLE,     /* http: --idle-timeout, from the last byte */
    TIMER_LINGER,   /* http: after an error response, until the client closes */
    TIMER_KINDS
};

struct tqueue {
    struct conn *head, *tail;
};

struct worker;

struct conn {
    struct worker *w;
    struct conn *prev, *next;   /* worker's list of open connections */
    struct conn *tprev, *tnext; /* timer queue */
    struct tqueue *tq;          /* the queue it is in, or NULL */
    enum timer_kind timer;      /* which one, when tq != NULL */
    struct conn *ready_next;    /* mode turn left unfinished */
    int in_ready;
    int64_t deadline;
    enum conn_state state;
    int dead;
    int connecting;         /* upstream dialled, not yet connected */
    uint32_t client_events; /* the client's epoll events seen until
                             * mode->start: EPOLLRDHUP in it, the client
                             * closed its side already (no new edge) */
    struct endpoint client, upstream;
    union { /* the trusted sender (listeners are IPv4 or IPv6) */
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    socklen_t peer_len;
    pp_header hdr;  /* its views are valid until mode->start returns */
    uint8_t *hbuf;  /* a header that came in pieces; else NULL */
    size_t have;    /* header bytes received so far */
    uint8_t *out;   /* the header for the upstream (--send-proxy) */
    size_t out_len; /* 0: none (sent, or not asked for) */
    uint8_t out_inline[OUT_INLINE];
    struct flow up, down; /* tcp mode: client->upstream, upstream->client */
    struct loginfo info;
    void *mode_data; /* what the mode keeps (http mode), or NULL */
};

struct worker {
    int id;
    pthread_t thread;
    int epfd;
    struct endpoint wake; /* eventfd: main thread says "stop" */
    struct endpoint listeners[MAX_LISTEN];
    size_t nlisten;
    int reserve_fd; /* spare descriptor for EMFILE */
    int paused;
    int64_t resume_at;
    struct conn *conns;
    size_t nconns;
    struct tqueue timers[TIMER_KINDS];
    struct conn *ready;
    struct conn *graveyard; /* closed, freed after the event batch */
    int stopping;
    int64_t grace_deadline;
    uint8_t *hscratch; /* a header being read, cfg.max_header bytes */
    uint8_t *scratch;  /* a header being written, OUT_CAP bytes */
    char *relay_buf;   /* OUT_CAP + RELAY_BUF: a header and bytes to send */
    char *log;         /* log lines of this turn, LOG_BUF bytes */
    size_t log_len;
    int64_t log_sec; /* the second log_stamp shows */
    char log_stamp[24];
};

/* ------------------------------------------------------------------------
 * Modes: what a connection does once its PROXY header is in. worker.c
 * calls these; any of them may end the connection with conn_close (and
 * then must not touch it again).
 * ---------------------------------------------------------------------- */
struct mode {
    const char *name;
    /* The header was taken (c->hdr, c->info describe it; c->hdr's views
     * into the header bytes last until start returns). The client socket
     * is registered edge-triggered for both directions, or will be right
     * after start returns (when the header was there at accept); bytes
     * after the header may be queued already. c->client_events has the
     * client's events seen so far (EPOLLRDHUP: it closed its side). */
    void (*start)(struct conn *c);
    /* upstream_dial succeeded: connected. events is the epoll event that
     * told (EPOLLIN in it: the upstream spoke first). The --send-proxy
     * header is in c->out[0..c->out_len), for the mode to send first
     * (header_out_free once sent). */
    void (*upstream_ready)(struct conn *c, uint32_t events);
    /* An event on the client or the (connected) upstream socket. */
    void (*event)(struct conn *c, struct endpoint *ep, uint32_t events);
    /* A turn asked for with conn_ready (work left after a budget). */
    void (*resume)(struct conn *c);
    /* The connection is closing: release what the mode holds. */
    void (*release)(struct conn *c);
    /* NULL, or: a timer of the mode's own (or TIMER_CONNECT) expired. */
    void (*timeout)(struct conn *c, enum timer_kind kind);
    /* NULL, or: the upstream could not be reached (refused, reset while
     * connecting); the mode answers and closes. */
    void (*upstream_failed)(struct conn *c, const char *outcome,
                            const char *detail);
};

extern const struct mode mode_tcp; /* relay.c */
#ifdef PPPROXY_HTTP
extern const struct mode mode_http; /* httpmode.c */
#endif

/* ------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------- */
/* main.c */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* worker.c */
int64_t now_ms(void);
void close_fd(int *fd);
int socket_error(int fd);
void conn_close(struct conn *c, const char *outcome, const char *detail);
void conn_fail(struct conn *c, const char *outcome, int err);
void conn_ready(struct conn *c);
void timer_add(struct conn *c, enum timer_kind kind, int64_t deadline);
void timer_remove(struct conn *c);
void upstream_dial(struct conn *c);
void worker_init(struct worker *w, int id);
void *worker_main(void *arg);
void worker_destroy(struct worker *w);

/* header.c */
int header_admit(const struct sockaddr *peer);
int header_init(struct conn *c);
int header_step(struct conn *c);
void header_out_free(struct conn *c);

/* log.c */
void log_open(const char *path);
void format_sockaddr(char *out, size_t cap, const struct sockaddr *sa);
void log_conn(struct worker *w, const struct loginfo *li, const char *outcome,
              const char *detail);
void log_rejected(struct worker *w, const struct sockaddr *peer,
                  const char *outcome);
void log_flush(struct worker *w);

/* One line per request in http mode. */
struct reqlog {
    const char *client; /* <real> */
    const char *peer;
    const char *method, *target, *version;
    size_t target_len;
    int status; /* 0 when no response was had */
    uint64_t req_body_bytes, resp_body_bytes;
    int64_t started; /* monotonic ms of the head's first byte */
    const char *outcome;
};
void log_request(struct worker *w, const struct reqlog *r);

#endif /* PPPROXY_H */
