/* splicefloor: the least a TCP relay can do for a bulk transfer, to tell
 * what any relay on this machine pays from what warpd pays (the bulk rows
 * of scripts/bench). For each accepted client it connects to the origin
 * and moves bytes both ways with splice(2) through a 256 KiB pipe, one blocking
 * thread per direction: no event loop, no timers, no accounting. A
 * download through it against the same download direct is the floor for
 * "bulk through a tunnel >= 0.95 of direct".
 * Usage: splicefloor LISTEN_PORT ORIGIN_PORT; runs until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (4 * 65536) /* as warpd's relay once bulk flows (RELAY_PIPE_BULK) */

struct dir {
    int from, to;
};

static void *
pump(void *arg)
{
    struct dir *d = arg;
    int pipefd[2];

    if (pipe(pipefd) != 0)
        return NULL;
    fcntl(pipefd[1], F_SETPIPE_SZ, CHUNK);
    for (;;) {
        ssize_t n = splice(d->from, NULL, pipefd[1], NULL, CHUNK, SPLICE_F_MOVE);

        if (n <= 0)
            break;
        while (n > 0) {
            ssize_t w = splice(pipefd[0], NULL, d->to, NULL, (size_t)n, SPLICE_F_MOVE);

            if (w <= 0)
                goto out;
            n -= w;
        }
    }
out:
    shutdown(d->to, SHUT_WR);
    close(pipefd[0]);
    close(pipefd[1]);
    return NULL;
}

/* Both directions of one client; closes both sockets when both are done. */
static void *
serve(void *arg)
{
    struct dir *ab = arg, ba = {ab->to, ab->from};
    pthread_t t;

    if (pthread_create(&t, NULL, pump, &ba) == 0) {
        pump(ab);
        pthread_join(t, NULL);
    }
    close(ab->from);
    close(ab->to);
    free(ab);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in la = {.sin_family = AF_INET}, oa = {.sin_family = AF_INET};
    int lfd, one = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: splicefloor LISTEN_PORT ORIGIN_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    la.sin_port = htons((unsigned short)atoi(argv[1]));
    oa.sin_port = htons((unsigned short)atoi(argv[2]));
    la.sin_addr.s_addr = oa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) != 0 || listen(lfd, 128) != 0) {
        fprintf(stderr, "splicefloor: listen: %s\n", strerror(errno));
        return 1;
    }
    for (;;) {
        int cfd = accept(lfd, NULL, NULL), ufd;
        struct dir *d;
        pthread_t t;

        if (cfd < 0)
            continue;
        ufd = socket(AF_INET, SOCK_STREAM, 0);
        d = malloc(sizeof(*d));
        if (ufd < 0 || d == NULL || connect(ufd, (struct sockaddr *)&oa, sizeof(oa)) != 0) {
            close(cfd);
            if (ufd >= 0)
                close(ufd);
            free(d);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        d->from = cfd;
        d->to = ufd;
        if (pthread_create(&t, NULL, serve, d) != 0) {
            close(cfd);
            close(ufd);
            free(d);
            continue;
        }
        pthread_detach(t);
    }
}
