/* Non-blocking connect to an upstream: tries each resolved address in turn,
 * each attempt bounded by its own timer, and reports exactly one result from
 * the loop. The state lives in the caller's struct, so nothing is allocated;
 * the callback runs last and this module never touches the struct after it. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "upstream.h"

/* Outcome of starting attempts from u->idx on. */
enum { TRY_PENDING, TRY_CONNECTED, TRY_FAILED };

static int upstream_mark; /* SO_MARK for every upstream socket; 0: none */

void
upstream_set_mark(int mark)
{
    upstream_mark = mark;
}

static void
up_stop(struct upstream_connect *u)
{
    ev_io_stop(u->loop, &u->io);
    ev_timer_stop(u->loop, &u->timer);
}

/* Hands the result over; u is dead to us from here on (the callback may free
 * it or start a new connect in it). */
static void
up_report(struct upstream_connect *u)
{
    upstream_cb cb = u->cb;
    void *arg = u->arg;
    int fd = u->fd, idx = u->idx, err = u->last_err;

    up_stop(u);
    u->cb = NULL;
    u->fd = -1;
    if (fd >= 0)
        METRIC_INC(up_connects);
    if (fd >= 0)
        cb(arg, fd, idx, 0);
    else
        cb(arg, -1, -1, err);
}

/* Starts a connect on u->idx, moving on past addresses that fail at once. */
static int
up_try(struct upstream_connect *u)
{
    for (; u->idx < u->addrs.n; u->idx++) {
        const struct sockaddr *sa = (const struct sockaddr *)&u->addrs.addr[u->idx];
        socklen_t len = u->addrs.len[u->idx];
        int one = 1, fd;

        if (len == 0)
            len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
        fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            u->last_err = errno;
            continue;
        }
        /* Shaped requests are written in small timed segments; Nagle would
         * merge them. A failure here only costs that, not the connection. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* upstream_mark: the nft rule that redirects clients to warpd
         * (transparent mode) skips sockets with this mark. */
        if (upstream_mark != 0 &&
            setsockopt(fd, SOL_SOCKET, SO_MARK, &upstream_mark, sizeof(upstream_mark)) < 0) {
            u->last_err = errno;
            close(fd);
            continue;
        }
        if (connect(fd, sa, len) == 0) {
            u->fd = fd;
            return TRY_CONNECTED;
        }
        /* EINTR on a non-blocking connect still leaves it running. */
        if (errno == EINPROGRESS || errno == EINTR) {
            u->fd = fd;
            ev_io_set(&u->io, fd, EV_WRITE);
            ev_io_start(u->loop, &u->io);
            if (u->timeout > 0) {
                ev_timer_set(&u->timer, u->timeout, 0.);
                ev_timer_start(u->loop, &u->timer);
            }
            return TRY_PENDING;
        }
        u->last_err = errno;
        metrics_connect_failed(errno);
        close(fd);
    }
    return TRY_FAILED;
}

/* Gives up on the current attempt and goes on with the next address. */
static void
up_next(struct upstream_connect *u, int err)
{
    up_stop(u);
    close(u->fd);
    u->fd = -1;
    u->last_err = err;
    metrics_connect_failed(err);
    u->idx++;
    if (up_try(u) != TRY_PENDING)
        up_report(u);
}

static void
up_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct upstream_connect *u = w->data;
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return;
    if (err != 0) {
        up_next(u, err);
        return;
    }
    up_report(u);
}

/* Two jobs: with the io watcher active it is the per-address connect timeout;
 * otherwise it was armed at 0 to deliver a result that was known inside
 * upstream_connect_start, which must not call back synchronously. */
static void
up_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct upstream_connect *u = w->data;

    if (ev_is_active(&u->io))
        up_next(u, ETIMEDOUT);
    else
        up_report(u);
}

void
upstream_connect_start(struct upstream_connect *u, struct ev_loop *loop,
                       const struct resolve_result *addrs, double timeout, upstream_cb cb,
                       void *arg)
{
    u->loop = loop;
    u->addrs = *addrs;
    if (u->addrs.n < 0)
        u->addrs.n = 0;
    if (u->addrs.n > RESOLVE_MAX_ADDRS)
        u->addrs.n = RESOLVE_MAX_ADDRS;
    u->idx = 0;
    u->fd = -1;
    u->last_err = EDESTADDRREQ; /* reported if there is no address at all */
    u->timeout = timeout;
    u->cb = cb;
    u->arg = arg;
    ev_io_init(&u->io, up_io_cb, -1, EV_WRITE);
    ev_timer_init(&u->timer, up_timer_cb, 0., 0.);
    u->io.data = u;
    u->timer.data = u;

    if (up_try(u) != TRY_PENDING) {
        ev_timer_set(&u->timer, 0., 0.);
        ev_timer_start(loop, &u->timer);
    }
}

void
upstream_cancel(struct upstream_connect *u)
{
    /* cb is cleared on completion and on cancel, and is NULL in a zeroed
     * struct, so this is safe in all three cases. */
    if (u->cb == NULL)
        return;
    up_stop(u);
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->cb = NULL;
}
