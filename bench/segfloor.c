/* segfloor: the kernel's share of `shape split`, measured without warpd.
 * Sends the head warpd sends for the bench's forward rows to the bench's
 * origin over N keep-alive connections, either in one write or cut where
 * split cuts it (three MSG_EOR writes), and reports its own CPU time per
 * request. The difference between the two runs is what the extra segments
 * cost any sender: the floor under warpd's split overhead.
 * Usage: segfloor PORT PATH CONNS SECONDS PIECES(1|3); prints one JSON line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256

struct peer {
    int fd;
    size_t have; /* response bytes held in buf */
    char buf[4096];
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what)
{
    fprintf(stderr, "segfloor: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Sends the head whole or as split cuts it: the request line, then up to
 * one byte into the Host value, then the rest. Blocking sockets: a head is
 * small and the origin reads it at once. */
static void
send_head(int fd, const char *head, size_t len, size_t cut1, size_t cut2, int pieces)
{
    size_t at[4] = {0, cut1, cut2, len};

    if (pieces == 1) {
        if (send(fd, head, len, MSG_NOSIGNAL) != (ssize_t)len)
            die("send");
        return;
    }
    for (int i = 0; i < 3; i++) {
        size_t n = at[i + 1] - at[i];

        if (send(fd, head + at[i], n, MSG_NOSIGNAL | MSG_EOR) != (ssize_t)n)
            die("send");
    }
}

/* Bytes of the first whole response in p->buf, or 0 if it is not all there. */
static size_t
response_len(const struct peer *p)
{
    const char *end = memmem(p->buf, p->have, "\r\n\r\n", 4);
    const char *cl;
    size_t head;

    if (end == NULL)
        return 0;
    head = (size_t)(end - p->buf) + 4;
    for (cl = p->buf; cl < end; cl++)
        if (strncasecmp(cl, "\r\nContent-Length:", 17) == 0)
            break;
    if (cl >= end)
        return head; /* no body (not expected from the origin) */
    head += strtoul(cl + 17, NULL, 10);
    return p->have >= head ? head : 0;
}

int
main(int argc, char **argv)
{
    static struct peer peers[MAX_CONNS];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event ev[MAX_CONNS];
    char head[512];
    size_t len, cut1, cut2;
    int conns, pieces, ep, one = 1;
    double secs, t0, c0, end;
    unsigned long done = 0;

    if (argc != 6) {
        fprintf(stderr, "usage: segfloor PORT PATH CONNS SECONDS PIECES\n");
        return 2;
    }
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conns = atoi(argv[3]);
    secs = atof(argv[4]);
    pieces = atoi(argv[5]);
    if (conns < 1 || conns > MAX_CONNS || secs <= 0 || (pieces != 1 && pieces != 3)) {
        fprintf(stderr, "segfloor: bad arguments\n");
        return 2;
    }
    /* What warpd sends upstream for the bench's absolute-form GET. */
    len = (size_t)snprintf(head, sizeof(head),
                           "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nVia: 1.1 warpd\r\n\r\n",
                           argv[2], argv[1]);
    cut1 = (size_t)(strstr(head, "\r\n") - head) + 2;
    cut2 = (size_t)(strstr(head, "Host: ") - head) + 6 + 1;

    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < conns; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)i};

        peers[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (peers[i].fd < 0 || connect(peers[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            die("connect");
        setsockopt(peers[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (epoll_ctl(ep, EPOLL_CTL_ADD, peers[i].fd, &e) != 0)
            die("epoll_ctl");
    }
    t0 = now();
    c0 = cpu_seconds();
    end = t0 + secs;
    for (int i = 0; i < conns; i++)
        send_head(peers[i].fd, head, len, cut1, cut2, pieces);
    while (now() < end) {
        int n = epoll_wait(ep, ev, MAX_CONNS, 1000);

        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int k = 0; k < n; k++) {
            struct peer *p = &peers[ev[k].data.u32];
            ssize_t r = recv(p->fd, p->buf + p->have, sizeof(p->buf) - p->have, 0);
            size_t whole;

            if (r <= 0) {
                errno = r == 0 ? ECONNRESET : errno;
                die("recv");
            }
            p->have += (size_t)r;
            while ((whole = response_len(p)) > 0) {
                memmove(p->buf, p->buf + whole, p->have - whole);
                p->have -= whole;
                done++;
                send_head(p->fd, head, len, cut1, cut2, pieces);
            }
            if (p->have == sizeof(p->buf)) {
                fprintf(stderr, "segfloor: response larger than %zu bytes\n", sizeof(p->buf));
                return 1;
            }
        }
    }
    printf("{\"pieces\":%d,\"requests\":%lu,\"seconds\":%.3f,\"cpu_s\":%.4f}\n", pieces, done,
           now() - t0, cpu_seconds() - c0);
    return 0;
}
