/* Listening sockets. The supervisor opens them (one SO_REUSEPORT socket per
 * worker slot per address) and keeps them, so a respawned worker inherits the
 * same accept queue. A worker accepts in bounded batches and, when it runs out
 * of file descriptors, stops accepting and retries from a timer instead of
 * spinning on a readiness it cannot clear (ev(3), "accept()ing when you can't"). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define LISTENER_BATCH      64  /* accepts per readiness callback */
#define LISTENER_EMFILE_MIN 0.1 /* seconds before accepting again after EMFILE */
#define LISTENER_EMFILE_MAX 1.0
#define LISTENER_DRAIN_MAX  4096 /* connections taken from the queues at a final stop */

struct listener_slot {
    ev_io io;
    struct listener *owner;
    int index; /* position in the fds given to listener_new */
};

struct listener {
    struct ev_loop *loop;
    listener_accept_cb cb;
    void *arg;
    int nfds;
    int paused;         /* paused by the owner (connection limit, shutdown) */
    int backoff;        /* paused by us after EMFILE/ENFILE/ENOMEM */
    double backoff_sec; /* current back-off delay */
    ev_tstamp last_warn;
    ev_timer retry;
    struct listener_slot slots[];
};

int
listener_probe(const struct sockaddr *sa, socklen_t len)
{
    int one = 1, fd, rc, saved;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    rc = bind(fd, sa, len);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int
listener_open(struct sockaddr *sa, socklen_t len, int backlog)
{
    int one = 1, fd, saved;
    socklen_t alen = len;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* "[::]:port" means IPv6 only; IPv4 is listed separately when wanted. */
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
        goto fail;
    if (getsockname(fd, sa, &alen) < 0)
        goto fail;
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int
listener_transparent(int fd, int family)
{
    int one = 1;

    if (family == AF_INET6)
        return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
    return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
}

static void
listener_update(struct listener *l)
{
    int i, on = !l->paused && !l->backoff;

    for (i = 0; i < l->nfds; i++) {
        if (on && !ev_is_active(&l->slots[i].io))
            ev_io_start(l->loop, &l->slots[i].io);
        else if (!on && ev_is_active(&l->slots[i].io))
            ev_io_stop(l->loop, &l->slots[i].io);
    }
}

static void
listener_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct listener *l = w->data;
    l->backoff = 0;
    listener_update(l);
}

/* Out of descriptors or memory: the pending connection stays queued in the
 * kernel, so stop watching and come back later, warning at most every 5 s. */
static void
listener_back_off(struct listener *l, int err)
{
    ev_tstamp now = ev_now(l->loop);

    if (now - l->last_warn >= 5.0) {
        errno = err;
        log_warn("accept failed, pausing accepts for %.1fs", l->backoff_sec);
        l->last_warn = now;
    }
    l->backoff = 1;
    listener_update(l);
    ev_timer_set(&l->retry, l->backoff_sec, 0.);
    ev_timer_start(l->loop, &l->retry);
    l->backoff_sec *= 2;
    if (l->backoff_sec > LISTENER_EMFILE_MAX)
        l->backoff_sec = LISTENER_EMFILE_MAX;
}

/* Accepts up to max connections from one socket (attempts, counting those
 * that fail for the client's own reasons). Returns how many were taken;
 * *empty tells whether to stop trying: the queue was found empty, or
 * accept failed for a reason that retrying now will not clear. */
static int
listener_accept_some(struct listener *l, struct listener_slot *s, int max, int *empty)
{
    int taken = 0;

    *empty = 0;
    for (int i = 0; i < max && !l->paused && !l->backoff; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(s->io.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                METRIC_INC(refused_limit);
                listener_back_off(l, errno);
                break;
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                break;
            default:
                log_warn("accept");
                break;
            }
            *empty = 1;
            return taken;
        }
        l->backoff_sec = LISTENER_EMFILE_MIN;
        taken++;
        l->cb(l->arg, fd, (struct sockaddr *)&peer, plen, s->index);
    }
    return taken;
}

static void
listener_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct listener_slot *s = w->data;
    int empty;

    listener_accept_some(s->owner, s, LISTENER_BATCH, &empty);
}

struct listener *
listener_new(struct ev_loop *loop, const int *fds, int nfds, listener_accept_cb cb, void *arg)
{
    struct listener *l;
    int i;

    l = calloc(1, sizeof(*l) + (size_t)nfds * sizeof(l->slots[0]));
    if (l == NULL)
        return NULL;
    l->loop = loop;
    l->cb = cb;
    l->arg = arg;
    l->nfds = nfds;
    l->backoff_sec = LISTENER_EMFILE_MIN;
    l->last_warn = -1e9;
    ev_timer_init(&l->retry, listener_retry_cb, 0., 0.);
    l->retry.data = l;
    for (i = 0; i < nfds; i++) {
        ev_io_init(&l->slots[i].io, listener_on_accept, fds[i], EV_READ);
        l->slots[i].io.data = &l->slots[i];
        l->slots[i].owner = l;
        l->slots[i].index = i;
    }
    listener_update(l);
    return l;
}

void
listener_pause(struct listener *l, int paused)
{
    l->paused = paused;
    listener_update(l);
}

/* A socket filter that keeps every packet out: SYNs are dropped (the client
 * tries again later and is then refused by the closed port), and so are the
 * last ACKs of handshakes under way, so the accept queue can only shrink. */
static int
listener_seal_fd(int fd)
{
    static struct sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    struct sock_fprog prog = {.len = 1, .filter = drop_all};

    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

int
listener_unseal(int fd)
{
    int unused = 0;

    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) < 0 &&
        errno != ENOENT)
        return -1;
    return 0;
}

int
listener_drain(struct listener *l)
{
    int taken = 0;

    if (l == NULL)
        return 0;
    for (int i = 0; i < l->nfds; i++) {
        if (listener_seal_fd(l->slots[i].io.fd) < 0)
            log_warn("cannot seal a listening socket; connections arriving now may be reset");
    }
    l->paused = 0;
    for (int i = 0; i < l->nfds; i++) {
        int empty = 0;

        /* Bounded: each round takes a connection or ends the loop, and the
         * sealed socket gets no new ones. Out of descriptors or past the
         * bound, the rest is reset at the close. */
        while (!empty && taken < LISTENER_DRAIN_MAX) {
            int n = listener_accept_some(l, &l->slots[i], LISTENER_DRAIN_MAX - taken, &empty);

            if (n == 0 && !empty)
                break; /* attempts that all failed for the clients' reasons, or paused */
            taken += n;
        }
    }
    return taken;
}

static void
listener_free(struct listener *l, int close_fds)
{
    if (l == NULL)
        return;
    ev_timer_stop(l->loop, &l->retry);
    for (int i = 0; i < l->nfds; i++) {
        ev_io_stop(l->loop, &l->slots[i].io);
        if (close_fds)
            close(l->slots[i].io.fd);
    }
    free(l);
}

void
listener_close(struct listener *l)
{
    listener_free(l, 1);
}

void
listener_forget(struct listener *l)
{
    listener_free(l, 0);
}
