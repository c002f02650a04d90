/* tunnels: new tunnels per second through a proxy. Each of N connections in
 * turn opens a tunnel to the origin (SOCKS5 with an IPv4 address, or an
 * HTTP CONNECT), sends one GET for /small through it, reads the answer
 * (Content-Length framed), closes, and starts again, for a number of
 * seconds. Counts complete tunnels and failures; prints one JSON line.
 * Usage: tunnels PROXY_PORT ORIGIN_PORT socks5|connect CONNS SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256

enum step { GREETING, REPLY, ANSWER };

struct tun {
    int fd;
    enum step step;
    size_t have;
    char buf[4096];
};

static int proxy_port, origin_port, socks;
static long done, failed;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
tun_open(int ep, struct tun *t)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)proxy_port)};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
    char req[128];
    int one = 1, n;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    t->have = 0;
    if (socks) {
        /* Greeting and request together: warpd answers both in order. */
        unsigned char m[3 + 10] = {5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 0};

        m[11] = (unsigned char)(origin_port >> 8);
        m[12] = (unsigned char)origin_port;
        n = (int)sizeof(m);
        memcpy(req, m, sizeof(m));
        t->step = GREETING;
    } else {
        n = snprintf(req, sizeof(req),
                     "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", origin_port,
                     origin_port);
        t->step = REPLY;
    }
    if (write(t->fd, req, (size_t)n) != n)
        return -1;
    return epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev);
}

static void
tun_restart(int ep, struct tun *t, int ok)
{
    if (ok)
        done++;
    else
        failed++;
    close(t->fd);
    if (tun_open(ep, t) < 0) {
        failed++;
        close(t->fd);
        t->fd = -1;
    }
}

/* What the proxy sent before the tunnel: how many bytes, 0 for more. */
static size_t
tun_preamble(struct tun *t)
{
    if (socks) {
        if (t->have < 2 + 10)
            return 0;
        return t->buf[1] == 0 && t->buf[3] == 0 ? 12 : (size_t)-1;
    }
    char *e = memmem(t->buf, t->have, "\r\n\r\n", 4);
    if (e == NULL)
        return 0;
    return strncmp(t->buf, "HTTP/1.1 200", 12) == 0 ? (size_t)(e + 4 - t->buf) : (size_t)-1;
}

static void
tun_readable(int ep, struct tun *t)
{
    static const char get[] = "GET /small HTTP/1.1\r\nHost: origin\r\n\r\n";
    ssize_t n = read(t->fd, t->buf + t->have, sizeof(t->buf) - 1 - t->have);
    size_t used;
    char *e, *cl;

    if (n <= 0) {
        tun_restart(ep, t, 0);
        return;
    }
    t->have += (size_t)n;
    t->buf[t->have] = '\0';
    if (t->step != ANSWER) {
        used = tun_preamble(t);
        if (used == 0)
            return;
        if (used == (size_t)-1) {
            tun_restart(ep, t, 0);
            return;
        }
        memmove(t->buf, t->buf + used, t->have - used);
        t->have -= used;
        t->step = ANSWER;
        if (write(t->fd, get, sizeof(get) - 1) != (ssize_t)sizeof(get) - 1) {
            tun_restart(ep, t, 0);
            return;
        }
        t->buf[t->have] = '\0';
    }
    e = memmem(t->buf, t->have, "\r\n\r\n", 4);
    cl = strcasestr(t->buf, "\r\ncontent-length:");
    if (e == NULL || cl == NULL)
        return;
    if (t->have >= (size_t)(e + 4 - t->buf) + strtoul(cl + 17, NULL, 10))
        tun_restart(ep, t, 1);
}

int
main(int argc, char **argv)
{
    struct tun *ts;
    struct epoll_event evs[64];
    int ep, conns;
    double secs, t0, end;
    struct timespec c0, c1;

    if (argc != 6)
        return 2;
    proxy_port = atoi(argv[1]);
    origin_port = atoi(argv[2]);
    socks = strcmp(argv[3], "socks5") == 0;
    conns = atoi(argv[4]);
    secs = atof(argv[5]);
    if (conns < 1 || conns > MAX_CONNS)
        return 2;
    ts = calloc((size_t)conns, sizeof(*ts));
    ep = epoll_create1(0);
    if (ts == NULL || ep < 0)
        return 1;
    for (int i = 0; i < conns; i++)
        if (tun_open(ep, &ts[i]) < 0)
            return 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    t0 = now();
    end = t0 + secs;
    while (now() < end) {
        int n = epoll_wait(ep, evs, 64, 100);

        for (int i = 0; i < n; i++)
            tun_readable(ep, evs[i].data.ptr);
    }
    t0 = now() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    printf("{\"tunnels\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"per_sec\": %.1f, "
           "\"client_cpu\": %.3f}\n",
           done, failed, t0, done / t0, (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9);
    return 0;
}
