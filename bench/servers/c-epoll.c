/*
 * c-epoll.c - the ceiling: a minimal C server for the benchmark workloads.
 *
 * Single thread, non-blocking sockets, level-triggered epoll, accept4()
 * loop, recvmmsg()/sendmmsg() for datagrams. Same protocol as the other
 * benchmark servers (the Python docs' uppercase handlers):
 *
 *   --mode conn       read one line, reply upper(strip(line)) without a
 *                     newline, close (EOF before a newline: the partial line)
 *   --mode keepalive  echo every line upper-cased WITH its newline; the
 *                     client closes
 *   --mode dgram      reply datagram = upper(strip(payload)) to the sender
 *
 *   c-epoll (--tcp HOST:PORT | --unix PATH | --udp HOST:PORT | --unix-dgram PATH)
 *           [--mode conn|keepalive|dgram] [--backlog 1024]
 *
 * Port 0 picks a free port. Prints "READY <port or path>" once listening;
 * exits 0 on SIGTERM/SIGINT (unlinking its Unix path).
 *
 * Build: cc -O2 -Wall -o build/bench/c-epoll bench/servers/c-epoll.c
 * (bench/run.js does this when the source is newer than the binary).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum mode { M_DEFAULT, M_CONN, M_KEEPALIVE, M_DGRAM };

#define IBUF 4096
#define OBUF 8192
#define MAX_EVENTS 256
#define BATCH 64
#define DGRAM_MAX 8192

struct conn {
    int fd;
    int ilen;         /* bytes buffered in in[] (an incomplete line) */
    int olen, ooff;   /* pending output */
    int closing;      /* conn mode: close once out[] is flushed */
    char in[IBUF];
    char out[OBUF];
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static enum mode mode;
static int ep, lfd;
static const char *unix_path;

static void die(const char *what) {
    perror(what);
    if (unix_path) unlink(unix_path);
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: c-epoll (--tcp HOST:PORT | --unix PATH | --udp HOST:PORT | --unix-dgram PATH)\n"
                    "               [--mode conn|keepalive|dgram] [--backlog N]\n");
    exit(2);
}

/* upper-case n bytes of src into dst */
static void upper(char *dst, const char *src, int n) {
    for (int i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
}

/* Python's bytes.strip(): ASCII whitespace at both ends. */
static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static const char *strip(const char *s, int *n) {
    while (*n > 0 && is_ws(s[0])) { s++; (*n)--; }
    while (*n > 0 && is_ws(s[*n - 1])) (*n)--;
    return s;
}

static void conn_close(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

static void set_events(struct conn *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0) die("c-epoll: epoll_ctl(MOD)");
}

/* Writes pending output. 1: all written; 0: EAGAIN (EPOLLOUT armed); -1: closed. */
static int flush_out(struct conn *c) {
    while (c->ooff < c->olen) {
        ssize_t n = send(c->fd, c->out + c->ooff, (size_t)(c->olen - c->ooff), MSG_NOSIGNAL);
        if (n >= 0) { c->ooff += (int)n; continue; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) { set_events(c, EPOLLOUT); return 0; }
        conn_close(c);
        return -1;
    }
    c->olen = c->ooff = 0;
    if (c->closing) { conn_close(c); return -1; }
    return 1;
}

static void queue_out(struct conn *c, const char *s, int n) {
    if (n > OBUF - c->olen) n = OBUF - c->olen; /* cannot happen with bounded lines */
    upper(c->out + c->olen, s, n);
    c->olen += n;
}

/* Answers the complete lines buffered in in[]. 1: go on reading; 0: stop
 * (output pending or the connection closed). */
static int consume(struct conn *c) {
    int start = 0;
    for (int i = 0; i < c->ilen; i++) {
        if (c->in[i] != '\n') continue;
        if (mode == M_CONN) {
            int len = i + 1;
            const char *s = strip(c->in, &len);
            queue_out(c, s, len);
            c->closing = 1;
            flush_out(c);
            return 0;
        }
        if (OBUF - c->olen < i + 1 - start) break; /* output full: keep the rest */
        queue_out(c, c->in + start, i + 1 - start);
        start = i + 1;
    }
    c->ilen -= start;
    if (start > 0 && c->ilen > 0) memmove(c->in, c->in + start, (size_t)c->ilen);
    if (c->olen) return flush_out(c) == 1;
    return 1;
}

/* Reads and answers what is available. */
static void on_readable(struct conn *c) {
    for (;;) {
        if (c->olen || !consume(c)) return;
        if (c->ilen == IBUF) { conn_close(c); return; } /* line too long */
        ssize_t n = recv(c->fd, c->in + c->ilen, (size_t)(IBUF - c->ilen), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c);
            return;
        }
        if (n == 0) { /* EOF: conn mode answers a partial line, as readline() does */
            if (mode == M_CONN && c->ilen > 0) {
                int len = c->ilen;
                const char *s = strip(c->in, &len);
                queue_out(c, s, len);
                c->closing = 1;
                flush_out(c);
            } else {
                conn_close(c);
            }
            return;
        }
        c->ilen += (int)n;
    }
}

static void on_writable(struct conn *c) {
    int r = flush_out(c);
    if (r == 1) {
        set_events(c, EPOLLIN);
        on_readable(c);
    }
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) return;
            die("c-epoll: accept4");
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) { close(fd); continue; }
        c->fd = fd;
        c->ilen = c->olen = c->ooff = c->closing = 0;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) die("c-epoll: epoll_ctl(ADD)");
        on_readable(c); /* the request is often there already */
    }
}

static void serve_dgram(void) {
    static char bufs[BATCH][DGRAM_MAX];
    static char replies[BATCH][DGRAM_MAX];
    static struct sockaddr_storage addrs[BATCH];
    static struct iovec iov[BATCH], riov[BATCH];
    static struct mmsghdr in[BATCH], out[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = DGRAM_MAX;
            memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &addrs[i];
            in[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        int n = recvmmsg(lfd, in, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return; /* e.g. ECONNREFUSED from an earlier reply: ignore */
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            int len = (int)in[i].msg_len;
            const char *s = strip(bufs[i], &len);
            upper(replies[m], s, len);
            riov[m].iov_base = replies[m];
            riov[m].iov_len = (size_t)len;
            memset(&out[m].msg_hdr, 0, sizeof out[m].msg_hdr);
            out[m].msg_hdr.msg_iov = &riov[m];
            out[m].msg_hdr.msg_iovlen = 1;
            out[m].msg_hdr.msg_name = &addrs[i];
            out[m].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            if (out[m].msg_hdr.msg_namelen == 0) continue; /* unbound Unix client: cannot reply */
            m++;
        }
        for (int sent = 0; sent < m;) {
            int k = sendmmsg(lfd, out + sent, (unsigned)(m - sent), MSG_DONTWAIT);
            if (k < 0) {
                if (errno == EINTR) continue;
                sent++; /* drop the failing datagram (client gone, buffer full) */
                continue;
            }
            sent += k;
        }
        if (n < BATCH) return;
    }
}

static void parse_inet(const char *arg, struct sockaddr_in *sin) {
    const char *colon = strrchr(arg, ':');
    if (!colon) usage();
    char host[64];
    size_t hlen = (size_t)(colon - arg);
    if (hlen == 0 || hlen >= sizeof host) usage();
    memcpy(host, arg, hlen);
    host[hlen] = 0;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) usage();
}

int main(int argc, char **argv) {
    enum { O_TCP = 256, O_UNIX, O_UDP, O_UNIX_DGRAM, O_MODE, O_BACKLOG };
    static const struct option longopts[] = {
        {"tcp", required_argument, 0, O_TCP},         {"unix", required_argument, 0, O_UNIX},
        {"udp", required_argument, 0, O_UDP},         {"unix-dgram", required_argument, 0, O_UNIX_DGRAM},
        {"mode", required_argument, 0, O_MODE},       {"backlog", required_argument, 0, O_BACKLOG},
        {0, 0, 0, 0},
    };
    int family = 0, type = 0, backlog = 1024, c;
    const char *target = NULL;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_TCP: family = AF_INET; type = SOCK_STREAM; target = optarg; break;
        case O_UNIX: family = AF_UNIX; type = SOCK_STREAM; target = optarg; break;
        case O_UDP: family = AF_INET; type = SOCK_DGRAM; target = optarg; break;
        case O_UNIX_DGRAM: family = AF_UNIX; type = SOCK_DGRAM; target = optarg; break;
        case O_MODE:
            if (!strcmp(optarg, "conn")) mode = M_CONN;
            else if (!strcmp(optarg, "keepalive")) mode = M_KEEPALIVE;
            else if (!strcmp(optarg, "dgram")) mode = M_DGRAM;
            else usage();
            break;
        case O_BACKLOG: backlog = atoi(optarg); break;
        default: usage();
        }
    }
    if (!target || optind < argc) usage();
    if (mode == M_DEFAULT) mode = type == SOCK_DGRAM ? M_DGRAM : M_CONN;
    if ((type == SOCK_DGRAM) != (mode == M_DGRAM)) usage();

    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    lfd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("c-epoll: socket");
    if (family == AF_INET) {
        struct sockaddr_in sin;
        parse_inet(target, &sin);
        int one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0) die("c-epoll: bind");
    } else {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(target) >= sizeof sun.sun_path) usage();
        strcpy(sun.sun_path, target);
        struct stat sb;
        if (stat(target, &sb) == 0 && S_ISSOCK(sb.st_mode)) unlink(target);
        if (bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0) die("c-epoll: bind");
        unix_path = target;
    }
    if (type == SOCK_STREAM && listen(lfd, backlog) < 0) die("c-epoll: listen");

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("c-epoll: epoll_create1");
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le) < 0) die("c-epoll: epoll_ctl(ADD listener)");

    if (family == AF_INET) {
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;
        getsockname(lfd, (struct sockaddr *)&sin, &len);
        printf("READY %d\n", ntohs(sin.sin_port));
    } else {
        printf("READY %s\n", target);
    }
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    while (!stop_flag) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("c-epoll: epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *cn = events[i].data.ptr;
            if (!cn) {
                if (type == SOCK_DGRAM) serve_dgram();
                else accept_all();
                continue;
            }
            if (events[i].events & EPOLLOUT) on_writable(cn);
            else on_readable(cn); /* EPOLLIN, EPOLLHUP, EPOLLERR: recv() tells */
        }
    }
    if (unix_path) unlink(unix_path);
    return 0;
}
