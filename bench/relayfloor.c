/* relayfloor: the least a forward proxy can do, to measure what cutting the
 * head costs a proxy rather than a bare sender (bench/segfloor.c). It accepts
 * clients (wrk), opens one upstream connection to the origin for each, and
 * for every request head a client sends (no bodies: wrk's GETs) sends the
 * origin the head warpd would send for the bench's forward rows, whole or
 * cut where split cuts it (three MSG_EOR writes); response bytes go back to
 * the client as they come. No parsing beyond finding the end of a head, no
 * timers, no logging: its CPU per request with 3 pieces less that with 1 is
 * the floor under warpd's split overhead, under the same scheduling as
 * warpd (wrk, the proxy and the origin sharing the machine).
 * Usage: relayfloor LISTEN_PORT ORIGIN_PORT PATH PIECES(1|3); runs until
 * killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 4096

/* One client and its upstream; both fds map to it. */
struct pair {
    int cfd, ufd;
    size_t have; /* request bytes held */
    char buf[8192];
};

static struct pair *by_fd[MAX_FDS];
static char head[512];
static size_t head_len, cut1, cut2;
static int pieces;

static void
die(const char *what)
{
    fprintf(stderr, "relayfloor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
pair_close(struct pair *p)
{
    by_fd[p->cfd] = by_fd[p->ufd] = NULL;
    close(p->cfd);
    close(p->ufd);
    free(p);
}

/* Blocking writes: heads and /small responses are tiny and both peers read
 * at once, as in segfloor. Returns 0, or -1 when the peer is gone. */
static int
send_all(int fd, const char *b, size_t n, int flags)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, flags | MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct timeval tv = {0, 1000};

            select(0, NULL, NULL, NULL, &tv);
            continue;
        }
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
send_head(int fd)
{
    size_t at[4] = {0, cut1, cut2, head_len};

    if (pieces == 1)
        return send_all(fd, head, head_len, 0);
    for (int i = 0; i < 3; i++)
        if (send_all(fd, head + at[i], at[i + 1] - at[i], MSG_EOR) < 0)
            return -1;
    return 0;
}

static void
client_readable(struct pair *p)
{
    ssize_t r = recv(p->cfd, p->buf + p->have, sizeof(p->buf) - p->have, 0);
    char *end;

    if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
            return;
        pair_close(p);
        return;
    }
    p->have += (size_t)r;
    while ((end = memmem(p->buf, p->have, "\r\n\r\n", 4)) != NULL) {
        size_t n = (size_t)(end - p->buf) + 4;

        memmove(p->buf, p->buf + n, p->have - n);
        p->have -= n;
        if (send_head(p->ufd) < 0) {
            pair_close(p);
            return;
        }
    }
    if (p->have == sizeof(p->buf))
        pair_close(p); /* not a head */
}

static void
upstream_readable(struct pair *p)
{
    char b[16384];
    ssize_t r = recv(p->ufd, b, sizeof(b), 0);

    if (r < 0 && errno == EAGAIN)
        return;
    if (r <= 0 || send_all(p->cfd, b, (size_t)r, 0) < 0)
        pair_close(p);
}

static int
listen_on(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0)
        die("listen");
    return fd;
}

static void
accept_all(int ep, int lfd, int origin_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)origin_port)};
    int one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), ufd;
        struct epoll_event e = {.events = EPOLLIN};
        struct pair *p;

        if (cfd < 0)
            return;
        ufd = socket(AF_INET, SOCK_STREAM, 0);
        if (ufd < 0 || connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || ufd >= MAX_FDS ||
            cfd >= MAX_FDS || (p = calloc(1, sizeof(*p))) == NULL) {
            close(cfd);
            if (ufd >= 0)
                close(ufd);
            continue;
        }
        fcntl(ufd, F_SETFL, O_NONBLOCK);
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        p->cfd = cfd;
        p->ufd = ufd;
        by_fd[cfd] = by_fd[ufd] = p;
        e.data.fd = cfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
        e.data.fd = ufd;
        epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &e);
    }
}

int
main(int argc, char **argv)
{
    struct epoll_event ev[256];
    int lfd, ep, origin_port;

    if (argc != 5) {
        fprintf(stderr, "usage: relayfloor LISTEN_PORT ORIGIN_PORT PATH PIECES\n");
        return 2;
    }
    origin_port = atoi(argv[2]);
    pieces = atoi(argv[4]);
    if (pieces != 1 && pieces != 3) {
        fprintf(stderr, "relayfloor: PIECES is 1 or 3\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* What warpd sends upstream for the bench's absolute-form GET. */
    head_len = (size_t)snprintf(head, sizeof(head),
                                "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nVia: 1.1 warpd\r\n\r\n",
                                argv[3], argv[2]);
    cut1 = (size_t)(strstr(head, "\r\n") - head) + 2;
    cut2 = (size_t)(strstr(head, "Host: ") - head) + 6 + 1;
    lfd = listen_on(atoi(argv[1]));
    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    {
        struct epoll_event e = {.events = EPOLLIN, .data.fd = lfd};

        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    }
    for (;;) {
        int n = epoll_wait(ep, ev, 256, -1);

        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int k = 0; k < n; k++) {
            int fd = ev[k].data.fd;
            struct pair *p = fd == lfd ? NULL : by_fd[fd];

            if (fd == lfd)
                accept_all(ep, lfd, origin_port);
            else if (p != NULL && fd == p->cfd)
                client_readable(p);
            else if (p != NULL)
                upstream_readable(p);
        }
    }
}
