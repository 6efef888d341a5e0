/*
 * loadgen.c - load generator for the socketserver benchmarks.
 *
 * Single process, single thread, Linux epoll, N concurrent clients.
 * Every reply is verified byte for byte against the expected reply.
 *
 * Build:  cc -O2 -Wall -o build/bench/loadgen bench/loadgen.c
 * (bench/run.js does this automatically when the .c is newer than the binary.)
 *
 * Transports (exactly one):
 *   --tcp HOST:PORT        TCP stream ([v6addr]:port also accepted)
 *   --unix PATH            Unix stream socket
 *   --udp HOST:PORT        UDP datagrams
 *   --unix-dgram PATH      Unix datagram socket (each client binds its own
 *                          path in a private mkdtemp() directory so the
 *                          server can reply)
 *
 * Modes:
 *   --mode conn       (stream) a new connection per request: connect, send
 *                     "hello world <seq>\n", read until EOF, expect
 *                     "HELLO WORLD <SEQ>" (stripped, no newline), i.e. the
 *                     Python docs' uppercase TCP handler
 *                       data = self.rfile.readline().strip()
 *                       self.wfile.write(data.upper())
 *                     after which the server closes the connection.
 *   --mode keepalive  (stream) one connection per client, many requests;
 *                     expects each line echoed upper-cased WITH its "\n".
 *   --mode dgram      (datagram transports; the default there) one
 *                     datagram per request, one datagram per reply;
 *                     expects "HELLO WORLD <SEQ>" (the Python docs' UDP
 *                     handler: data.strip().upper()).
 *   --expect strip|line overrides the expected reply form (keepalive
 *                     requires "line": the newline is the framing).
 *
 * Load control:
 *   --clients N       concurrent requests in flight (default 32)
 *   --duration S      measured seconds (default 5)
 *   --warmup S        seconds before measuring, not counted (default 1)
 *   --max-requests N  hard bound on requests started in the measured phase;
 *                     when reached the in-flight ones are drained and the
 *                     run ends early
 *   --timeout S       per-request timeout (default 5); a timed-out request
 *                     counts as an error and its socket is closed
 *
 * Output: one line of JSON on stdout, e.g.
 *   {"requests":..,"errors":..,"mismatches":..,"seconds":..,"rps":..,
 *    "p50_us":..,"p99_us":.., ...more fields...}
 *   requests    verified-correct replies to requests started AND finished
 *               inside the measured window
 *   errors      measured-phase requests that failed (refused, reset,
 *               timeout, EOF without a reply, other socket errors);
 *               broken down in "error_kinds"
 *   mismatches  replies whose bytes differ from the expected reply, in ANY
 *               phase (warm-up and the final drain included: a wrong reply
 *               is a bug whenever it happens).  The first few are described
 *               on stderr.
 *   window_replies, window_rps  verified replies that ARRIVED inside the
 *               measured window, whenever their request started (also in
 *               the warm-up), and their rate: the steady-state throughput
 *               of a server whose latency is a large part of the window
 *               (where "requests" undercounts: a request must start and
 *               finish inside it).  Use with --warmup so the window starts
 *               in steady state.
 *   loadgen_cpu_s  our own user+sys CPU time: if the load generator uses a
 *               whole core, it (not the server) may be the bottleneck.
 *   After the measured window, requests still in flight get min(timeout, 1 s)
 *   to finish (verified, not counted); whatever is left is then abandoned.
 *   latency     from request start (connect start in conn mode, and also
 *               whenever a keepalive/dgram client has to (re)open its
 *               socket) to the verified reply; successful requests only.
 * Exit status: 0 when it ran (even with errors/mismatches), 2 on usage
 * errors, 1 on an internal failure (e.g. epoll_create failed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum transport { T_NONE, T_TCP, T_UNIX, T_UDP, T_UNIX_DGRAM };
enum mode { M_DEFAULT, M_CONN, M_KEEPALIVE, M_DGRAM };
enum expect { X_DEFAULT, X_STRIP, X_LINE };
enum state { S_IDLE, S_BACKOFF, S_CONNECTING, S_SENDING, S_RECEIVING };
enum ekind { E_REFUSED, E_RESET, E_TIMEOUT, E_EOF, E_OTHER, E_NKINDS };
static const char *const ekind_name[E_NKINDS] = {"refused", "reset", "timeout", "eof", "other"};

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define RBUF 512                 /* replies are ~30 bytes; more = mismatch */
#define REFUSED_BACKOFF_NS (10 * NS_PER_MS)
#define ERROR_BACKOFF_NS (2 * NS_PER_MS)
#define AGAIN_BACKOFF_NS (1 * NS_PER_MS) /* AF_UNIX connect: backlog full */
#define SCAN_NS (2 * NS_PER_MS)  /* timeout/backoff scan period */
#define MAX_EVENTS 256
#define MAX_CLIENTS 100000
#define MAX_REPORTED_MISMATCHES 5

struct slot {
    int fd;
    uint32_t gen;          /* bumped per fd, tags epoll events (stale-event guard) */
    uint32_t events;       /* current epoll interest */
    enum state state;
    int in_req;            /* a request is in flight on this slot */
    int measured;          /* the request started in the measured window */
    int retry_connect;     /* S_BACKOFF: reopen the socket for the same request */
    uint64_t seq;
    uint64_t start_ns, deadline_ns, backoff_until_ns;
    char req[48];
    int req_len, req_off;
    char exp[48];
    int exp_len;
    char rbuf[RBUF];
    int rlen;
    char bound_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct {
    enum transport transport;
    enum mode mode;
    enum expect expect;
    const char *target;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int family, socktype;
    long clients;
    double duration, warmup, timeout;
    uint64_t max_requests;
    int have_max;
} opt = {.clients = 32, .duration = 5, .warmup = 1, .timeout = 5};

static struct {
    uint64_t requests, errors, mismatches;
    uint64_t warmup_requests, warmup_errors;
    uint64_t ekind[E_NKINDS];
    uint64_t started_measured;
    uint64_t window_replies; /* verified replies arriving in the window, any start */
    uint64_t *lat;         /* latencies (ns) of successful measured requests */
    size_t nlat, caplat;
    int lat_truncated;
} st;

static int ep = -1;
static struct slot *slots;
static uint64_t next_seq = 1;
static uint64_t t_start, t_warm_end, t_end;
static long inflight;
static volatile sig_atomic_t stop_flag;
static char dgram_dir[64];   /* mkdtemp dir for --unix-dgram client paths */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

/* ------------------------------------------------------------------ */
/* usage / argument parsing                                            */

static void usage(FILE *f) {
    fprintf(f,
        "usage: loadgen (--tcp HOST:PORT | --unix PATH | --udp HOST:PORT | --unix-dgram PATH)\n"
        "               [--mode conn|keepalive|dgram] [--expect strip|line]\n"
        "               [--clients N] [--duration S] [--warmup S]\n"
        "               [--max-requests N] [--timeout S]\n"
        "Prints one line of JSON with the results. See the comment at the top of\n"
        "bench/loadgen.c for the exact semantics.\n");
}

static void die_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

static double parse_seconds(const char *name, const char *s, int allow_zero) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || (!allow_zero && v == 0) || v > 86400)
        die_usage("bad value for %s", name);
    return v;
}

static uint64_t parse_count(const char *name, const char *s) {
    char *end;
    errno = 0;
    if (*s == '-') die_usage("bad value for %s", name);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0) die_usage("bad value for %s", name);
    return v;
}

static void set_target(enum transport t, const char *arg) {
    if (opt.transport != T_NONE) die_usage("only one of --tcp/--unix/--udp/--unix-dgram allowed%s", "");
    opt.transport = t;
    opt.target = arg;
}

static void resolve_target(void) {
    memset(&opt.addr, 0, sizeof opt.addr);
    if (opt.transport == T_UNIX || opt.transport == T_UNIX_DGRAM) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&opt.addr;
        size_t len = strlen(opt.target);
        if (len == 0 || len >= sizeof sun->sun_path) die_usage("unix socket path too long or empty: %s", opt.target);
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, opt.target, len + 1);
        opt.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        opt.family = AF_UNIX;
        opt.socktype = opt.transport == T_UNIX ? SOCK_STREAM : SOCK_DGRAM;
        return;
    }
    /* HOST:PORT or [HOST]:PORT */
    char host[256];
    const char *colon = strrchr(opt.target, ':');
    if (!colon || colon == opt.target || !colon[1]) die_usage("expected HOST:PORT, got %s", opt.target);
    const char *h = opt.target;
    size_t hlen = (size_t)(colon - opt.target);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') { h++; hlen -= 2; }
    if (hlen == 0 || hlen >= sizeof host) die_usage("bad host in %s", opt.target);
    memcpy(host, h, hlen);
    host[hlen] = 0;
    opt.socktype = opt.transport == T_TCP ? SOCK_STREAM : SOCK_DGRAM;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = opt.socktype,
                             .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", opt.target, gai_strerror(rc));
        exit(2);
    }
    memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
    opt.addrlen = res->ai_addrlen;
    opt.family = res->ai_family;
    freeaddrinfo(res);
}

static void parse_args(int argc, char **argv) {
    enum { O_TCP = 256, O_UNIX, O_UDP, O_UNIX_DGRAM, O_MODE, O_EXPECT, O_CLIENTS,
           O_DURATION, O_WARMUP, O_MAX, O_TIMEOUT, O_HELP };
    static const struct option longopts[] = {
        {"tcp", required_argument, 0, O_TCP},
        {"unix", required_argument, 0, O_UNIX},
        {"udp", required_argument, 0, O_UDP},
        {"unix-dgram", required_argument, 0, O_UNIX_DGRAM},
        {"mode", required_argument, 0, O_MODE},
        {"expect", required_argument, 0, O_EXPECT},
        {"clients", required_argument, 0, O_CLIENTS},
        {"duration", required_argument, 0, O_DURATION},
        {"warmup", required_argument, 0, O_WARMUP},
        {"max-requests", required_argument, 0, O_MAX},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_TCP: set_target(T_TCP, optarg); break;
        case O_UNIX: set_target(T_UNIX, optarg); break;
        case O_UDP: set_target(T_UDP, optarg); break;
        case O_UNIX_DGRAM: set_target(T_UNIX_DGRAM, optarg); break;
        case O_MODE:
            if (!strcmp(optarg, "conn")) opt.mode = M_CONN;
            else if (!strcmp(optarg, "keepalive")) opt.mode = M_KEEPALIVE;
            else if (!strcmp(optarg, "dgram")) opt.mode = M_DGRAM;
            else die_usage("unknown --mode %s", optarg);
            break;
        case O_EXPECT:
            if (!strcmp(optarg, "strip")) opt.expect = X_STRIP;
            else if (!strcmp(optarg, "line")) opt.expect = X_LINE;
            else die_usage("unknown --expect %s", optarg);
            break;
        case O_CLIENTS: {
            uint64_t v = parse_count("--clients", optarg);
            if (v > MAX_CLIENTS) die_usage("--clients too large: %s", optarg);
            opt.clients = (long)v;
            break;
        }
        case O_DURATION: opt.duration = parse_seconds("--duration", optarg, 0); break;
        case O_WARMUP: opt.warmup = parse_seconds("--warmup", optarg, 1); break;
        case O_MAX: opt.max_requests = parse_count("--max-requests", optarg); opt.have_max = 1; break;
        case O_TIMEOUT: opt.timeout = parse_seconds("--timeout", optarg, 0); break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default:
            die_usage("unknown or incomplete option %s", argv[optind - 1 < argc ? optind - 1 : 0]);
        }
    }
    if (optind < argc) die_usage("unexpected argument %s", argv[optind]);
    if (opt.transport == T_NONE) die_usage("a target is required (--tcp/--unix/--udp/--unix-dgram)%s", "");
    int stream = opt.transport == T_TCP || opt.transport == T_UNIX;
    if (opt.mode == M_DEFAULT) opt.mode = stream ? M_CONN : M_DGRAM;
    if (stream && opt.mode == M_DGRAM) die_usage("--mode dgram needs --udp or --unix-dgram%s", "");
    if (!stream && opt.mode != M_DGRAM) die_usage("--mode conn/keepalive need --tcp or --unix%s", "");
    if (opt.expect == X_DEFAULT) opt.expect = opt.mode == M_KEEPALIVE ? X_LINE : X_STRIP;
    if (opt.mode == M_KEEPALIVE && opt.expect != X_LINE)
        die_usage("--mode keepalive needs --expect line (the newline frames each reply)%s", "");
    resolve_target();
}

/* ------------------------------------------------------------------ */
/* statistics                                                          */

static void record_latency(uint64_t ns) {
    if (st.lat_truncated) return;
    if (st.nlat == st.caplat) {
        size_t ncap = st.caplat ? st.caplat * 2 : 65536;
        uint64_t *p = realloc(st.lat, ncap * sizeof *p);
        if (!p) { st.lat_truncated = 1; return; }
        st.lat = p;
        st.caplat = ncap;
    }
    st.lat[st.nlat++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile, in microseconds */
static double pct_us(double p) {
    if (st.nlat == 0) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)st.nlat + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > st.nlat) rank = st.nlat;
    return (double)st.lat[rank - 1] / 1000.0;
}

static void print_escaped(FILE *f, const char *s, int n) {
    fputc('"', f);
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 32 || c >= 127) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */

static uint64_t slot_key(const struct slot *s) {
    return ((uint64_t)s->gen << 32) | (uint64_t)(s - slots);
}

static void set_events(struct slot *s, uint32_t ev) {
    if (s->events == ev) return;
    struct epoll_event e = {.events = ev, .data.u64 = slot_key(s)};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e) < 0) {
        perror("loadgen: epoll_ctl(MOD)");
        exit(1);
    }
    s->events = ev;
}

/* rst: abortive close (TCP only); used after a conn-mode reply and for
 * failed/abandoned requests.  Idle keepalive connections are closed with a
 * normal FIN so the server sees a clean EOF. */
static void slot_close(struct slot *s, int rst) {
    if (s->fd < 0) return;
    if (rst && opt.transport == T_TCP) {
        /*
         * RST close: SO_LINGER {1, 0} makes close() send a RST instead of a
         * FIN.  At ~30k connections/s over loopback, ordinary closes leave
         * ~60 s of TIME_WAIT per connection (on our side whenever we close
         * first - timeouts, keepalive teardown; on the server side when it
         * closes first, as in conn mode, where the RST also drops the
         * server's FIN_WAIT_2/TIME_WAIT socket), which exhausts the
         * ~28k ephemeral ports and the TIME_WAIT buckets within seconds.
         * In conn mode we only get here after reading the whole reply and
         * the server's EOF, so no data is lost; servers must tolerate the
         * resulting ECONNRESET on their (already finished) socket.
         */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    /* close() removes the fd from the epoll set; on Linux the fd is released
     * even if close() reports EINTR, so it must not be retried. */
    close(s->fd);
    s->fd = -1;
    s->events = 0;
    if (s->bound_path[0]) {
        unlink(s->bound_path);
        s->bound_path[0] = 0;
    }
}

static int can_start(uint64_t now) {
    if (stop_flag || now >= t_end) return 0;
    if (now >= t_warm_end && opt.have_max && st.started_measured >= opt.max_requests) return 0;
    return 1;
}

static void start_request(struct slot *s, uint64_t now);

/* The request on this slot is over (any outcome); maybe start the next one. */
static void end_request(struct slot *s, uint64_t now, uint64_t backoff_ns) {
    if (s->in_req) {
        s->in_req = 0;
        inflight--;
    }
    s->rlen = 0;
    if (backoff_ns) {
        s->state = S_BACKOFF;
        s->retry_connect = 0;
        s->backoff_until_ns = now + backoff_ns;
        return;
    }
    s->state = S_IDLE;
    if (can_start(now)) start_request(s, now);
}

static void fail_request(struct slot *s, enum ekind kind, uint64_t backoff_ns) {
    if (s->in_req) {
        if (!s->measured) {
            st.warmup_errors++;
        } else if (now_ns() <= t_end) { /* failures while draining are not counted */
            st.errors++;
            st.ekind[kind]++;
        }
    }
    slot_close(s, 1);
    end_request(s, now_ns(), backoff_ns);
}

static void fail_errno(struct slot *s, int err) {
    switch (err) {
    case ECONNREFUSED:
    case ENOENT: /* unix path does not exist (server not listening) */
        fail_request(s, E_REFUSED, REFUSED_BACKOFF_NS);
        break;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        fail_request(s, E_RESET, 0);
        break;
    default:
        fail_request(s, E_OTHER, ERROR_BACKOFF_NS);
        break;
    }
}

static void mismatch(struct slot *s, const char *why) {
    st.mismatches++;
    if (st.mismatches <= MAX_REPORTED_MISMATCHES) {
        fprintf(stderr, "loadgen: mismatch #%llu (seq %llu, %s): expected ",
                (unsigned long long)st.mismatches, (unsigned long long)s->seq, why);
        print_escaped(stderr, s->exp, s->exp_len);
        fprintf(stderr, " got ");
        print_escaped(stderr, s->rbuf, s->rlen);
        fprintf(stderr, "\n");
    }
    slot_close(s, 1); /* the stream may be out of sync: start over */
    end_request(s, now_ns(), 0);
}

static void succeed(struct slot *s) {
    uint64_t t = now_ns();
    if (t > t_warm_end && t <= t_end) st.window_replies++;
    if (s->measured) {
        if (t <= t_end) {
            st.requests++;
            record_latency(t - s->start_ns);
        } /* else: finished after the window closed; not counted */
    } else {
        st.warmup_requests++;
    }
    if (opt.mode == M_CONN) slot_close(s, 1);
    end_request(s, t, 0);
}

static void verify(struct slot *s) {
    if (s->rlen == s->exp_len && memcmp(s->rbuf, s->exp, (size_t)s->exp_len) == 0) succeed(s);
    else mismatch(s, "wrong reply");
}

static void do_send(struct slot *s) {
    while (s->req_off < s->req_len) {
        ssize_t n = send(s->fd, s->req + s->req_off, (size_t)(s->req_len - s->req_off), MSG_NOSIGNAL);
        if (n >= 0) {
            s->req_off += (int)n;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            set_events(s, EPOLLOUT);
            s->state = S_SENDING;
            return;
        }
        fail_errno(s, errno);
        return;
    }
    s->state = S_RECEIVING;
    s->rlen = 0;
    set_events(s, EPOLLIN);
}

static void on_connected(struct slot *s) {
    s->req_off = 0;
    do_send(s);
}

/* Open a socket for the slot's current request and start connecting. */
static void open_socket(struct slot *s) {
    int fd = socket(opt.family, opt.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_request(s, E_OTHER, ERROR_BACKOFF_NS);
        return;
    }
    s->fd = fd;
    s->gen++;
    s->events = 0;
    if (opt.transport == T_TCP) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (opt.transport == T_UNIX_DGRAM) {
        struct sockaddr_un me = {.sun_family = AF_UNIX};
        int n = snprintf(me.sun_path, sizeof me.sun_path, "%s/%ld", dgram_dir, (long)(s - slots));
        if (n < 0 || (size_t)n >= sizeof me.sun_path) {
            fail_request(s, E_OTHER, ERROR_BACKOFF_NS);
            return;
        }
        unlink(me.sun_path);
        if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
            fail_request(s, E_OTHER, ERROR_BACKOFF_NS);
            return;
        }
        memcpy(s->bound_path, me.sun_path, sizeof s->bound_path);
    }
    struct epoll_event e = {.events = 0, .data.u64 = slot_key(s)};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
        perror("loadgen: epoll_ctl(ADD)");
        exit(1);
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen);
    } while (rc < 0 && errno == EINTR && opt.family == AF_UNIX);
    if (rc == 0) {
        on_connected(s);
        return;
    }
    if (errno == EINPROGRESS || errno == EINTR) { /* EINTR (inet): completes asynchronously */
        s->state = S_CONNECTING;
        set_events(s, EPOLLOUT);
        return;
    }
    if (errno == EAGAIN && opt.family == AF_UNIX) {
        /* Unix stream listen backlog full: not an error, retry shortly
         * (same request, its clock keeps running). */
        slot_close(s, 1);
        s->state = S_BACKOFF;
        s->retry_connect = 1;
        s->backoff_until_ns = now_ns() + AGAIN_BACKOFF_NS;
        return;
    }
    fail_errno(s, errno);
}

static void start_request(struct slot *s, uint64_t now) {
    s->seq = next_seq++;
    s->in_req = 1;
    inflight++;
    s->measured = now >= t_warm_end;
    if (s->measured) st.started_measured++;
    s->start_ns = now;
    s->deadline_ns = now + (uint64_t)(opt.timeout * (double)NS_PER_S);
    s->req_len = snprintf(s->req, sizeof s->req, "hello world %llu\n", (unsigned long long)s->seq);
    s->exp_len = snprintf(s->exp, sizeof s->exp, "HELLO WORLD %llu%s", (unsigned long long)s->seq,
                          opt.expect == X_LINE ? "\n" : "");
    s->req_off = 0;
    s->rlen = 0;
    if (s->fd < 0) open_socket(s); /* conn mode always; others after errors */
    else do_send(s);
}

/* Read what is available; returns 1 on EOF, 0 on EAGAIN, -1 if the slot was
 * failed (errno-based) or is full. */
static int read_stream(struct slot *s) {
    for (;;) {
        if (s->rlen == RBUF) return -2; /* reply too long */
        ssize_t n = recv(s->fd, s->rbuf + s->rlen, (size_t)(RBUF - s->rlen), 0);
        if (n > 0) {
            int old = s->rlen;
            s->rlen += (int)n;
            if (opt.mode == M_KEEPALIVE && memchr(s->rbuf + old, '\n', (size_t)n)) return 2;
            continue;
        }
        if (n == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        fail_errno(s, errno);
        return -1;
    }
}

static void do_recv(struct slot *s) {
    if (opt.mode == M_DGRAM) {
        for (;;) {
            ssize_t n = recv(s->fd, s->rbuf, RBUF, MSG_TRUNC);
            if (n >= 0) {
                s->rlen = n > RBUF ? RBUF : (int)n;
                if (n > RBUF) mismatch(s, "datagram too long");
                else verify(s);
                return;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            fail_errno(s, errno);
            return;
        }
    }
    int r = read_stream(s);
    if (r == 0 || r == -1) return;
    if (r == -2) {
        mismatch(s, "reply too long");
        return;
    }
    if (opt.mode == M_CONN) { /* r == 1: EOF */
        if (s->rlen == 0) fail_request(s, E_EOF, 0); /* closed without replying */
        else verify(s);
        return;
    }
    /* keepalive */
    if (r == 1) {
        if (s->rlen == 0) fail_request(s, E_EOF, 0);
        else mismatch(s, "connection closed mid-reply");
        return;
    }
    char *nl = memchr(s->rbuf, '\n', (size_t)s->rlen);
    if (nl + 1 != s->rbuf + s->rlen) {
        mismatch(s, "extra bytes after the reply line");
        return;
    }
    verify(s);
}

static void on_event(struct slot *s, uint32_t ev) {
    switch (s->state) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) fail_errno(s, err);
        else if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
        break;
    }
    case S_SENDING:
        do_send(s);
        break;
    case S_RECEIVING:
        do_recv(s);
        break;
    default:
        /* idle socket (keepalive/dgram between requests, or after the run
         * stopped starting requests) reporting HUP/ERR or stray data:
         * drop it, the next request reopens. */
        slot_close(s, 0);
        break;
    }
}

static void scan(uint64_t now) {
    for (long i = 0; i < opt.clients; i++) {
        struct slot *s = &slots[i];
        if (s->in_req && now >= s->deadline_ns) {
            fail_request(s, E_TIMEOUT, 0);
            continue;
        }
        if (s->state == S_BACKOFF && now >= s->backoff_until_ns) {
            if (s->in_req && s->retry_connect) {
                s->retry_connect = 0;
                open_socket(s);
            } else {
                s->state = S_IDLE;
                if (can_start(now)) start_request(s, now);
            }
        }
    }
}

/* ------------------------------------------------------------------ */

static void raise_nofile(void) {
    struct rlimit rl;
    rlim_t need = (rlim_t)opt.clients + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need) return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        fprintf(stderr, "loadgen: --clients %ld needs %llu fds, hard limit is %llu\n", opt.clients,
                (unsigned long long)need, (unsigned long long)rl.rlim_max);
        exit(2);
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("loadgen: setrlimit(RLIMIT_NOFILE)");
        exit(2);
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    raise_nofile();

    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN; /* belt and braces: sends use MSG_NOSIGNAL */
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (opt.transport == T_UNIX_DGRAM) {
        snprintf(dgram_dir, sizeof dgram_dir, "/tmp/loadgen-XXXXXX");
        if (!mkdtemp(dgram_dir)) {
            perror("loadgen: mkdtemp");
            return 1;
        }
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("loadgen: epoll_create1");
        return 1;
    }
    slots = calloc((size_t)opt.clients, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    for (long i = 0; i < opt.clients; i++) slots[i].fd = -1;

    t_start = now_ns();
    t_warm_end = t_start + (uint64_t)(opt.warmup * (double)NS_PER_S);
    t_end = t_warm_end + (uint64_t)(opt.duration * (double)NS_PER_S);

    for (long i = 0; i < opt.clients; i++) start_request(&slots[i], now_ns());

    struct epoll_event events[MAX_EVENTS];
    /* After the window closes, requests in flight get a short grace period to
     * finish: their replies are still verified (mismatches count) but they
     * are not counted as requests/errors.  This also spares the server
     * resets in the middle of a request at teardown. */
    double grace = opt.timeout < 1.0 ? opt.timeout : 1.0;
    uint64_t t_drain_end = t_end + (uint64_t)(grace * (double)NS_PER_S);
    uint64_t measure_end = t_end;
    uint64_t next_scan = t_start + SCAN_NS;
    uint64_t now = now_ns();
    for (;;) {
        now = now_ns();
        if (stop_flag) {
            if (now < measure_end) measure_end = now;
            break;
        }
        if (now >= t_end && (inflight == 0 || now >= t_drain_end)) break;
        if (inflight == 0 && !can_start(now)) { /* --max-requests reached and drained */
            if (now < measure_end) measure_end = now;
            break;
        }
        if (now >= next_scan) {
            scan(now);
            next_scan = now + SCAN_NS;
        }
        uint64_t limit = now < t_end ? t_end : t_drain_end;
        uint64_t wake = next_scan < limit ? next_scan : limit;
        int timeout_ms = wake > now ? (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
        int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("loadgen: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t key = events[i].data.u64;
            struct slot *s = &slots[(uint32_t)key];
            if (s->fd < 0 || s->gen != (uint32_t)(key >> 32)) continue; /* stale */
            on_event(s, events[i].events);
        }
    }

    double seconds = measure_end > t_warm_end ? (double)(measure_end - t_warm_end) / (double)NS_PER_S : 0;
    for (long i = 0; i < opt.clients; i++) slot_close(&slots[i], slots[i].in_req);
    close(ep);
    if (dgram_dir[0]) rmdir(dgram_dir);

    qsort(st.lat, st.nlat, sizeof *st.lat, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < st.nlat; i++) sum += (double)st.lat[i];
    static const char *const tname[] = {"", "tcp", "unix", "udp", "unix-dgram"};
    static const char *const mname[] = {"", "conn", "keepalive", "dgram"};
    printf("{\"requests\":%llu,\"errors\":%llu,\"mismatches\":%llu,\"seconds\":%.3f,\"rps\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p90_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"mean_us\":%.1f,\"warmup_requests\":%llu,\"warmup_errors\":%llu,"
           "\"window_replies\":%llu,\"window_rps\":%.1f,\"error_kinds\":{",
           (unsigned long long)st.requests, (unsigned long long)st.errors,
           (unsigned long long)st.mismatches, seconds,
           seconds > 0 ? (double)st.requests / seconds : 0.0, pct_us(50), pct_us(99), pct_us(90),
           pct_us(99.9), st.nlat ? (double)st.lat[st.nlat - 1] / 1000.0 : 0.0,
           st.nlat ? sum / (double)st.nlat / 1000.0 : 0.0, (unsigned long long)st.warmup_requests,
           (unsigned long long)st.warmup_errors, (unsigned long long)st.window_replies,
           seconds > 0 ? (double)st.window_replies / seconds : 0.0);
    for (int k = 0; k < E_NKINDS; k++)
        printf("%s\"%s\":%llu", k ? "," : "", ekind_name[k], (unsigned long long)st.ekind[k]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* our own CPU: is the load generator the bottleneck? */
    printf("},\"transport\":\"%s\",\"mode\":\"%s\",\"clients\":%ld,\"loadgen_cpu_s\":%.3f,"
           "\"latency_samples_truncated\":%s,\"interrupted\":%s}\n",
           tname[opt.transport], mname[opt.mode], opt.clients,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
           st.lat_truncated ? "true" : "false", stop_flag ? "true" : "false");
    fflush(stdout);
    free(st.lat);
    free(slots);
    return 0;
}
